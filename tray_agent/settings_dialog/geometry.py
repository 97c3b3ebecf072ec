"""Where the settings window was and how big: remembered per settings folder.

Kept in ``settings-window.json`` beside the settings (owner-only, like every file there),
not in ``appsettings.json``: it is the window's state, not configuration an admin edits. A
saved place that is off the screen now (a monitor was unplugged) is not used.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from core.private_files import write_private_text

log = logging.getLogger("halo_integrator.settings")

GEOMETRY_FILE_NAME = "settings-window.json"
DEFAULT_GEOMETRY = "820x640"
MIN_WIDTH, MIN_HEIGHT = 640, 480
_GEOMETRY = re.compile(r"^(\d+)x(\d+)([+-]-?\d+)([+-]-?\d+)$")


def saved_geometry(folder: Path, screen_width: int, screen_height: int) -> str:
    """The geometry to open with: the saved one if it still fits the screen, else the size."""
    try:
        text = json.loads((folder / GEOMETRY_FILE_NAME).read_text("utf-8"))["geometry"]
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_GEOMETRY
    match = _GEOMETRY.match(str(text))
    if match is None:
        return DEFAULT_GEOMETRY
    width = max(MIN_WIDTH, min(int(match[1]), screen_width))
    height = max(MIN_HEIGHT, min(int(match[2]), screen_height))
    x, y = int(match[3]), int(match[4])
    if 0 <= x <= screen_width - 100 and 0 <= y <= screen_height - 100:
        return f"{width}x{height}+{x}+{y}"
    return f"{width}x{height}"


def save_geometry(folder: Path, geometry: str) -> None:
    """Remember ``WxH+X+Y``; a folder that does not exist yet (never saved) is not created."""
    if not folder.is_dir() or _GEOMETRY.match(geometry) is None:
        return
    try:
        write_private_text(folder / GEOMETRY_FILE_NAME, json.dumps({"geometry": geometry}) + "\n")
    except OSError as exc:  # a read-only folder: the window opens at its default next time
        log.warning("Cannot remember the window's place in %s: %s", folder, exc)
