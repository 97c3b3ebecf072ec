"""Small Tk pieces every tab uses: colours, the message beside a field, a scrolling frame."""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk
from typing import ClassVar

from tray_agent.settings_dialog.tick_box import use_tick_boxes

# Text colours readable on ttk's light grey; the validation banner gets a tinted background
# as well, so the result reads at a glance (and a test can count its pixels).
ERROR_TEXT = "#b3261e"
OK_TEXT = "#146c2e"
OK_BACKGROUND = "#dcf2e3"
ERROR_BACKGROUND = "#fbe0dd"
BUSY_BACKGROUND = "#fdf3d0"
HINT_TEXT = "#555555"
PAD = 6
# X11 reports the wheel as buttons 4/5, Windows and macOS as <MouseWheel> with a delta.
WHEEL_SEQUENCES = ("<MouseWheel>", "<Button-4>", "<Button-5>")
SCROLL_MARGIN_PIXELS = 24  # room above/below a focused field: its label and message show too


RUNNING_BAR = "#3b6fb6"
OK_BAR = "#2e8b57"
FAILED_BAR = "#c0392b"
BAR_STYLES = {
    "running": "Running.Horizontal.TProgressbar",
    "ok": "Ok.Horizontal.TProgressbar",
    "error": "Failed.Horizontal.TProgressbar",
}


def configure_styles(widget: tk.Misc) -> None:
    """Pick a readable theme and give progress bars colours that say how a run went.

    On X11 Tk starts with the dated "default" theme; "clam" draws clear check boxes, but
    its bar is the same grey as its trough, so a finished bar would look empty. Windows and
    macOS keep their native themes; the bar colours apply wherever the theme honours them.
    """
    style = ttk.Style(widget)
    if style.theme_use() == "default" and "clam" in style.theme_names():
        style.theme_use("clam")
    if style.theme_use() == "clam":
        use_tick_boxes(style, widget.nametowidget("."))  # images that outlive this window
    for kind, colour in (("running", RUNNING_BAR), ("ok", OK_BAR), ("error", FAILED_BAR)):
        style.configure(BAR_STYLES[kind], background=colour, troughcolor="#f4f4f4")


class FieldMessage(ttk.Label):
    """The red line under a field saying what is wrong with it; empty when all is well."""

    def __init__(self, parent: tk.Misc, wraplength: int = 420) -> None:
        super().__init__(parent, foreground=ERROR_TEXT, wraplength=wraplength, justify="left")

    def show(self, message: str | None) -> None:
        self.configure(text=message or "")


class Banner(tk.Label):
    """A tinted one-paragraph message: green for OK, red for a failure, yellow while busy."""

    COLOURS: ClassVar[dict[str, tuple[str, str]]] = {
        "ok": (OK_TEXT, OK_BACKGROUND),
        "error": (ERROR_TEXT, ERROR_BACKGROUND),
        "busy": ("#5c4400", BUSY_BACKGROUND),
    }

    def __init__(self, parent: tk.Misc, wraplength: int = 560) -> None:
        super().__init__(
            parent, anchor="w", justify="left", wraplength=wraplength, padx=8, pady=6, bd=0
        )
        # Plain = the ttk frame's own colour: an empty banner is then no grey strip.
        self._plain = (self.cget("foreground"), _frame_colour(self))
        self.show("", None)

    def show(self, text: str, kind: str | None) -> None:
        """Show ``text`` in the colours of ``kind`` (ok, error, busy), or plainly for None."""
        foreground, background = self.COLOURS.get(kind or "", self._plain)
        self.configure(text=text, foreground=foreground, background=background)


class ScrollableFrame(ttk.Frame):
    """A frame whose ``body`` scrolls vertically, for tabs that grow with the module count."""

    def __init__(self, parent: tk.Misc) -> None:
        super().__init__(parent)
        self.canvas = tk.Canvas(self, highlightthickness=0, borderwidth=0)
        scrollbar = ttk.Scrollbar(self, orient="vertical", command=self.canvas.yview)
        self.body = ttk.Frame(self.canvas, padding=PAD)
        self._window = self.canvas.create_window((0, 0), window=self.body, anchor="nw")
        self.canvas.configure(yscrollcommand=scrollbar.set, background=_frame_colour(self))
        self.canvas.grid(row=0, column=0, sticky="nsew")
        scrollbar.grid(row=0, column=1, sticky="ns")
        self.rowconfigure(0, weight=1)
        self.columnconfigure(0, weight=1)
        self.body.bind("<Configure>", self._on_body_resized)
        self.canvas.bind("<Configure>", self._on_canvas_resized)
        # The wheel scrolls whichever scrolled frame the pointer is over.
        self.bind("<Enter>", lambda _event: self._bind_wheel(True))
        self.bind("<Leave>", lambda _event: self._bind_wheel(False))
        # The view follows the keyboard: Tab into a field below the fold scrolls to it. An
        # entry selects its text when Tab reaches it, so typing into a field out of sight
        # would silently replace a value the admin never saw.
        self.winfo_toplevel().bind("<FocusIn>", self._on_focus_in, add="+")

    def _on_focus_in(self, event: tk.Event) -> None:
        widget = event.widget
        if isinstance(widget, tk.Misc) and str(widget).startswith(f"{self.body}."):
            self.scroll_into_view(widget)

    def scroll_into_view(self, widget: tk.Misc) -> None:
        """Scroll the least needed for ``widget`` (and a margin) to be in sight."""
        body_height = self.body.winfo_height()
        view_height = self.canvas.winfo_height()
        if body_height <= view_height or body_height <= 1:
            return
        top = widget.winfo_rooty() - self.body.winfo_rooty()
        bottom = top + widget.winfo_height()
        view_top = self.canvas.canvasy(0)
        if top - SCROLL_MARGIN_PIXELS < view_top:
            self.canvas.yview_moveto(max(0, top - SCROLL_MARGIN_PIXELS) / body_height)
        elif bottom + SCROLL_MARGIN_PIXELS > view_top + view_height:
            self.canvas.yview_moveto((bottom + SCROLL_MARGIN_PIXELS - view_height) / body_height)

    def _bind_wheel(self, active: bool) -> None:
        for sequence in WHEEL_SEQUENCES:
            if active:
                self.bind_all(sequence, self._on_wheel)
            else:
                self.unbind_all(sequence)

    def _on_wheel(self, event: tk.Event) -> None:
        if event.num in (4, 5):
            step = -1 if event.num == 4 else 1
        else:
            step = -1 if event.delta > 0 else 1
        self.canvas.yview_scroll(step, "units")

    def _on_body_resized(self, _event: tk.Event) -> None:
        self.canvas.configure(scrollregion=self.canvas.bbox("all"))

    def _on_canvas_resized(self, event: tk.Event) -> None:
        self.canvas.itemconfigure(self._window, width=event.width)


def _frame_colour(widget: tk.Misc) -> str:
    """ttk's frame background, so the canvas behind a scrolled frame does not show as white."""
    colour = ttk.Style(widget).lookup("TFrame", "background")
    return colour or "#d9d9d9"
