"""Tray icon images, one per state: a coloured disc with a bold badge, drawn with Pillow.

Drawn rather than shipped as PNGs so that one palette (``assets/tray_palette.json``) decides
every colour and the shapes stay crisp at any size the tray asks for. Trays show icons at
16-24 px, so the badges are thick strokes drawn at 4x and scaled down (anti-aliased): a
check, circling arrows, "!", a cross, pause bars, "?", three dots (waiting for a first run).
Colour and badge both carry the state, so it still reads for colour-blind admins.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

PALETTE_PATH = Path(__file__).resolve().parents[1] / "assets" / "tray_palette.json"
ICON_SIZE_PIXELS = 64
SUPERSAMPLE = 4
# Used when the assets folder is missing (a broken install must still show a state).
FALLBACK_PALETTE: dict[str, Any] = {
    "ok": {"fill": [46, 158, 68], "badge": "check"},
    "syncing": {"fill": [37, 110, 214], "badge": "arrows"},
    "warning": {"fill": [240, 160, 20], "badge": "exclamation", "glyph": [40, 40, 40]},
    "error": {"fill": [214, 40, 40], "badge": "cross"},
    "paused": {"fill": [120, 120, 120], "badge": "pause"},
    "not configured": {"fill": [150, 150, 150], "badge": "question"},
    "not run yet": {"fill": [92, 84, 170], "badge": "dots"},
    "outline": [30, 30, 30],
    "glyph": [255, 255, 255],
}

Color = tuple[int, int, int]
Badge = Callable[[ImageDraw.ImageDraw, int, Color], None]


@cache
def palette() -> dict[str, Any]:
    try:
        return dict(json.loads(PALETTE_PATH.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return FALLBACK_PALETTE


@cache
def state_icon(state: str, size: int = ICON_SIZE_PIXELS) -> Image.Image:
    """Return the RGBA icon for a tray state (unknown states get the "?" badge)."""
    colors = palette()
    entry = colors.get(state) or colors.get("not configured") or FALLBACK_PALETTE[state]
    big = size * SUPERSAMPLE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    margin = big // 32
    outline = big // 20
    draw.ellipse(
        (margin, margin, big - margin, big - margin),
        fill=tuple(entry["fill"]),
        outline=tuple(colors.get("outline", FALLBACK_PALETTE["outline"])),
        width=outline,
    )
    glyph = tuple(entry.get("glyph") or colors.get("glyph", FALLBACK_PALETTE["glyph"]))
    BADGES.get(entry.get("badge", "question"), _question)(draw, big, glyph)  # type: ignore[arg-type]
    return image.resize((size, size), Image.Resampling.LANCZOS)


def _stroke(big: int) -> int:
    return big // 8


def _check(draw: ImageDraw.ImageDraw, big: int, color: Color) -> None:
    points = [(big * 0.27, big * 0.52), (big * 0.44, big * 0.69), (big * 0.74, big * 0.33)]
    draw.line(points, fill=color, width=_stroke(big), joint="curve")


def _cross(draw: ImageDraw.ImageDraw, big: int, color: Color) -> None:
    low, high = big * 0.31, big * 0.69
    draw.line([(low, low), (high, high)], fill=color, width=_stroke(big))
    draw.line([(low, high), (high, low)], fill=color, width=_stroke(big))


def _exclamation(draw: ImageDraw.ImageDraw, big: int, color: Color) -> None:
    half = _stroke(big) / 2
    middle = big / 2
    draw.rounded_rectangle(
        (middle - half, big * 0.2, middle + half, big * 0.58), radius=half, fill=color
    )
    draw.ellipse((middle - half, big * 0.66, middle + half, big * 0.66 + 2 * half), fill=color)


def _pause(draw: ImageDraw.ImageDraw, big: int, color: Color) -> None:
    width = big * 0.12
    for left in (big * 0.31, big * 0.57):
        draw.rectangle((left, big * 0.28, left + width, big * 0.72), fill=color)


def _arrows(draw: ImageDraw.ImageDraw, big: int, color: Color) -> None:
    """Two arcs chasing each other, each with a head: the universal "sync" sign."""
    box = (big * 0.25, big * 0.25, big * 0.75, big * 0.75)
    radius, middle, stroke = big * 0.25, big / 2, big // 10
    for start in (200, 20):
        draw.arc(box, start=start, end=start + 120, fill=color, width=stroke)
        angle = math.radians(start + 120)
        tip_x, tip_y = middle + radius * math.cos(angle), middle + radius * math.sin(angle)
        tangent = angle + math.pi / 2
        head = big * 0.13
        draw.polygon(
            [
                (tip_x + head * math.cos(tangent), tip_y + head * math.sin(tangent)),
                (tip_x + head * math.cos(angle), tip_y + head * math.sin(angle)),
                (tip_x - head * math.cos(angle), tip_y - head * math.sin(angle)),
            ],
            fill=color,
        )


def _question(draw: ImageDraw.ImageDraw, big: int, color: Color) -> None:
    stroke, middle = big // 10, big / 2
    draw.arc(
        (big * 0.33, big * 0.2, big * 0.67, big * 0.5), start=180, end=60, fill=color, width=stroke
    )
    draw.line(
        [(big * 0.6, big * 0.45), (middle, big * 0.55), (middle, big * 0.62)],
        fill=color,
        width=stroke,
    )
    draw.ellipse(
        (middle - stroke / 1.6, big * 0.68, middle + stroke / 1.6, big * 0.68 + stroke * 1.25),
        fill=color,
    )


def _dots(draw: ImageDraw.ImageDraw, big: int, color: Color) -> None:
    """Three dots: configured, waiting for its first run (nothing synced yet)."""
    radius = big * 0.07
    for middle in (big * 0.3, big * 0.5, big * 0.7):
        draw.ellipse(
            (middle - radius, big / 2 - radius, middle + radius, big / 2 + radius), fill=color
        )


BADGES: dict[str, Badge] = {
    "check": _check,
    "cross": _cross,
    "exclamation": _exclamation,
    "pause": _pause,
    "arrows": _arrows,
    "question": _question,
    "dots": _dots,
}
