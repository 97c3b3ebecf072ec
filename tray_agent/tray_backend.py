"""Loading pystray: the backend choice, a clear error when none works, and the hover text
each backend can really show.

pystray is imported by ``load_pystray``, not when this module is imported, because importing
it opens the display and raises without one; ``tray_agent.app`` calls it only when the tray
really starts, after the single-instance check.

On Linux the backend follows the desktop's tray host. A StatusNotifier host (KDE, GNOME with
the AppIndicator extension) gets ``appindicator``: there a click always opens the menu and
there is no tooltip, so the menu's status lines say what the tooltip would. An XEmbed tray
(XFCE, MATE, trayer, ...) gets ``xorg`` with the menu and tooltip drawn by Tk
(``xembed_icon``): a real tooltip, a left click runs the default action (Settings) as on
Windows, and no GTK in the process (33 MiB less). ``PYSTRAY_BACKEND=gtk`` still picks GTK's
status icon.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

log = logging.getLogger("halo_integrator.tray")


class TrayUnavailableError(Exception):
    """No tray can be shown here (no display, no working pystray backend)."""


def load_pystray() -> Any:
    """Import pystray now, not at module import: it raises without a display.

    pystray picks ``PYSTRAY_BACKEND`` when set, else win32 on Windows; on Linux this picks
    appindicator for a StatusNotifier host and xorg (``xembed_icon``) for an XEmbed tray.
    """
    if sys.platform.startswith("linux"):
        # GDK probes OpenGL at start to pick visuals, loading the GL driver (Mesa's llvmpipe
        # maps 45 MB of LLVM); a tray icon and a menu never draw with GL.
        os.environ.setdefault("GDK_GL", "disable")
    if sys.platform.startswith("linux") and not os.environ.get("PYSTRAY_BACKEND"):
        if not has_status_notifier_host():
            os.environ["PYSTRAY_BACKEND"] = "xorg"  # pystray reads it when first imported
    backend = os.environ.get("PYSTRAY_BACKEND") or "automatic choice"
    try:
        import pystray
    except Exception as exc:  # pystray raises ImportError, Xlib errors, ValueError ...
        raise TrayUnavailableError(
            f"The tray icon cannot start: pystray backend ({backend}) failed to initialise: "
            f"{type(exc).__name__}: {exc}. On Linux install the tray extra (python-xlib for an "
            "XEmbed tray; PyGObject with the gir1.2-gtk-3.0 / ayatana-appindicator packages "
            "for a StatusNotifier host), or set PYSTRAY_BACKEND=gtk|appindicator|xorg."
        ) from exc
    log.info("pystray backend: %s", pystray.Icon.__module__)
    return pystray


def has_status_notifier_host() -> bool:
    """True when the session bus has a StatusNotifier watcher (an AppIndicator tray host).

    Without a bus, or without jeepney, the answer is True: pystray's own order then decides,
    as it did before this check existed.
    """
    try:
        from jeepney import message_bus
        from jeepney.io.blocking import open_dbus_connection

        with open_dbus_connection(bus="SESSION") as bus:
            for name in ("org.kde.StatusNotifierWatcher", "org.freedesktop.StatusNotifierWatcher"):
                reply = bus.send_and_get_reply(message_bus.NameHasOwner(name), timeout=1.0)
                if reply.body and reply.body[0]:
                    return True
    except Exception as exc:  # no jeepney, no bus, no answer: nothing to ask
        log.info("Cannot ask the session bus for a StatusNotifier host: %s", exc)
        return True
    return False


def show_hover_text(icon: Any, text: str) -> None:
    """Set the icon's title and, where the backend can show one, a real tooltip.

    pystray's gtk and appindicator backends only set the title (a window name nobody sees);
    GTK's status icon has a tooltip of its own, set here on GTK's loop. Windows shows the
    title as the tooltip already; appindicator has none (the menu's status lines stand in).
    """
    icon.title = text
    status_icon = getattr(icon, "_status_icon", None)
    if status_icon is not None:
        from gi.repository import GLib

        def set_tooltip() -> bool:
            status_icon.set_tooltip_text(text)
            return False  # once, not again at every idle moment

        GLib.idle_add(set_tooltip)
