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
            f"{type(exc).__name__}: {exc}. On Linux install PyGObject and the gir1.2-gtk-3.0 / "
            "ayatana-appindicator packages, or set PYSTRAY_BACKEND=gtk|appindicator|xorg."
        ) from exc
    log.info("pystray backend: %s", pystray.Icon.__module__)
    return pystray


def has_status_notifier_host() -> bool:
    """True when the session bus has a StatusNotifier watcher (an AppIndicator tray host).

    Without a bus, or without PyGObject, the answer is True: pystray's own order then
    decides, as it did before this check existed.
    """
    try:
        from gi.repository import Gio, GLib

        bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
        for name in ("org.kde.StatusNotifierWatcher", "org.freedesktop.StatusNotifierWatcher"):
            answer = bus.call_sync(
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "NameHasOwner",
                GLib.Variant("(s)", (name,)),
                GLib.VariantType("(b)"),
                Gio.DBusCallFlags.NONE,
                1_000,
                None,
            )
            if answer.unpack()[0]:
                return True
    except Exception as exc:  # ImportError, GLib.Error: no bus or no gi to ask
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
