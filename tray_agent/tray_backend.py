"""Loading pystray: the backend choice, a clear error when none works, and the xorg click fix.

pystray is imported by ``load_pystray``, not when this module is imported, because importing
it opens the display and raises without one; ``tray_agent.app`` calls it only when the tray
really starts, after the single-instance check.
"""

from __future__ import annotations

import logging
import os
from typing import Any

log = logging.getLogger("halo_integrator.tray")


class TrayUnavailableError(Exception):
    """No tray can be shown here (no display, no working pystray backend)."""


def load_pystray() -> Any:
    """Import pystray now, not at module import: it raises without a display.

    pystray picks ``PYSTRAY_BACKEND`` when set, else win32 on Windows and appindicator, gtk,
    then xorg on Linux (xorg 0.19.5 has no menu and needs the click fix applied here).
    """
    backend = os.environ.get("PYSTRAY_BACKEND") or "automatic choice"
    try:
        import pystray
    except Exception as exc:  # pystray raises ImportError, Xlib errors, ValueError ...
        raise TrayUnavailableError(
            f"The tray icon cannot start: pystray backend ({backend}) failed to initialise: "
            f"{type(exc).__name__}: {exc}. On Linux install PyGObject and the gir1.2-gtk-3.0 / "
            "ayatana-appindicator packages, or set PYSTRAY_BACKEND=gtk|appindicator|xorg."
        ) from exc
    if pystray.Icon.__module__ == "pystray._xorg":
        log.warning("Using pystray's xorg backend: no menu; install PyGObject for one")
        _fix_xorg_clicks()
    log.info("pystray backend: %s", pystray.Icon.__module__)
    return pystray


def _fix_xorg_clicks() -> None:
    """pystray 0.19.5's xorg icon never selects ButtonPressMask (upstream issue 151)."""
    import pystray._xorg as xorg_backend
    import Xlib.X

    original = xorg_backend.Icon._create_window
    if getattr(original, "click_fix", False):
        return

    def create_window(self: Any) -> Any:
        window = original(self)
        window.change_attributes(
            event_mask=Xlib.X.ExposureMask | Xlib.X.StructureNotifyMask | Xlib.X.ButtonPressMask
        )
        return window

    create_window.click_fix = True  # type: ignore[attr-defined]
    xorg_backend.Icon._create_window = create_window
