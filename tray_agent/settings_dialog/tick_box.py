"""A check box that reads as ticked: a filled box with a white tick, instead of clam's cross.

Tk's "clam" theme (the readable one on X11) marks a ticked box with an "×", which admins read
as "off". Windows and macOS keep their native check boxes; on X11 every ttk.Checkbutton of
the dialog gets this indicator, drawn into two small images so no image file ships.
"""

from __future__ import annotations

import itertools
import tkinter as tk
from tkinter import ttk

BOX_PIXELS = 15
GAP_PIXELS = 5  # between the box and its text (the image's transparent right margin)
BORDER = "#6b6b6b"
TICKED_FILL = "#2f6db5"
EMPTY_FILL = "#ffffff"
DISABLED_FILL = "#c8c8c8"
# The tick as (x, y) points of a polyline inside the box, drawn 2 pixels thick.
TICK_POINTS = ((3, 7), (6, 10), (11, 4))
ELEMENT = "Tick.Checkbutton.indicator"


def use_tick_boxes(style: ttk.Style, master: tk.Misc) -> None:
    """Give ``TCheckbutton`` the tick indicator (once per Tk interpreter)."""
    if ELEMENT in style.element_names():
        return
    empty = _box(master, EMPTY_FILL, tick=False)
    ticked = _box(master, TICKED_FILL, tick=True)
    disabled = _box(master, DISABLED_FILL, tick=False)
    disabled_ticked = _box(master, DISABLED_FILL, tick=True)
    style.element_create(
        ELEMENT,
        "image",
        empty,
        ("disabled", "selected", disabled_ticked),
        ("disabled", disabled),
        ("selected", ticked),
    )
    style.layout(
        "TCheckbutton",
        [
            (
                "Checkbutton.padding",
                {
                    "sticky": "nswe",
                    "children": [
                        (ELEMENT, {"side": "left", "sticky": ""}),
                        (
                            "Checkbutton.focus",
                            {
                                "side": "left",
                                "sticky": "w",
                                "children": [("Checkbutton.label", {"sticky": "nswe"})],
                            },
                        ),
                    ],
                },
            )
        ],
    )
    # Tk holds images by name only: keep them alive as long as the interpreter.
    master._tick_box_images = (empty, ticked, disabled, disabled_ticked)  # type: ignore[attr-defined]


def _box(master: tk.Misc, fill: str, *, tick: bool) -> tk.PhotoImage:
    image = tk.PhotoImage(master=master, width=BOX_PIXELS + GAP_PIXELS, height=BOX_PIXELS)
    image.put(BORDER, to=(0, 0, BOX_PIXELS, BOX_PIXELS))
    image.put(fill, to=(1, 1, BOX_PIXELS - 1, BOX_PIXELS - 1))
    if tick:
        for x, y in _line_pixels(TICK_POINTS):
            image.put("#ffffff", to=(x, y, x + 2, y + 2))
    return image


def _line_pixels(points: tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
    """Every pixel on the polyline through ``points`` (one step per pixel along x or y)."""
    pixels = []
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        steps = max(abs(x1 - x0), abs(y1 - y0))
        for step in range(steps + 1):
            pixels.append(
                (x0 + round((x1 - x0) * step / steps), y0 + round((y1 - y0) * step / steps))
            )
    return pixels
