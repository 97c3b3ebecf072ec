"""The tray icon for XEmbed trays (XFCE, MATE, LXQt, trayer ...): pystray's xorg icon, with
its menu and tooltip drawn by the tray's own Tk.

pystray's gtk backend brings GTK 3 into the tray process for an icon and a menu: 33 MiB of
its 82 MiB idle RSS. Its xorg backend docks the same icon with python-xlib (10 MiB), but
has no menu and no tooltip. The tray already runs Tk (for the settings window), so the menu
is a Tk popup menu and the tooltip a Tk tooltip window, and GTK is never loaded
(see bench/tray_idle.py). Tk's menu keeps what the GTK one did: the keyboard skips greyed
lines, submenus open with Right, Escape or a click elsewhere closes it.

Threads: pystray runs the X event loop of the icon on its own thread (``run``), where
``on_menu``/``on_hover``/``on_leave`` are called; they must hand their work to the Tk thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import PIL.Image
import pystray._xorg as xorg  # only imported after load_pystray chose this backend
import Xlib.X

Pointer = Callable[[int, int], None]
MENU_BUTTON = 3
DEFAULT_BUTTON = 1
EVENT_MASK = (
    Xlib.X.ExposureMask
    | Xlib.X.StructureNotifyMask
    | Xlib.X.ButtonPressMask
    | Xlib.X.EnterWindowMask
    | Xlib.X.LeaveWindowMask
)


class XembedIcon(xorg.Icon):  # type: ignore[misc]  # pystray has no type hints
    """pystray's xorg icon that reports right clicks and hovering with the pointer's place.

    Left click runs the default menu entry (Settings), as pystray does; ``on_menu(x, y)`` is
    called for a right click, ``on_hover(x, y)`` when the pointer enters the icon and
    ``on_leave`` when it leaves or a button is pressed, each on the icon's X thread.
    """

    HAS_MENU = True
    _icon_data: Any  # pystray's: the icon scaled to the window, redone when it changes

    def __init__(
        self,
        *args: Any,
        on_menu: Pointer,
        on_hover: Pointer,
        on_leave: Callable[[], None],
        **kwargs: Any,
    ) -> None:
        self.on_menu, self.on_hover, self.on_leave = on_menu, on_hover, on_leave
        super().__init__(*args, **kwargs)
        self._message_handlers[Xlib.X.EnterNotify] = self._on_enter
        self._message_handlers[Xlib.X.LeaveNotify] = lambda _event: self.on_leave()

    def _create_window(self) -> Any:
        # pystray 0.19.5 selects no button events at all (upstream issue 151).
        window = super()._create_window()
        window.change_attributes(event_mask=EVENT_MASK, background_pixmap=Xlib.X.ParentRelative)
        return window

    def _assert_docked(self) -> None:
        """Dock once, not at every icon change: pystray asks the tray to dock again at each
        ``icon =``, and trayer then moves the icon and loses it after a few state changes."""
        if self._systray_manager is None:
            self._dock_window()
        assert self._systray_manager  # pystray's callers log a tray that is not there (yet)

    def _update_title(self) -> None:
        """The window's name carries the hover text: UTF-8 in ``_NET_WM_NAME``, and in the
        Latin-1 ``WM_NAME`` with what it cannot hold replaced. pystray sets only WM_NAME,
        and raises on "…" (Quit's "stopping…"), which left the tray unable to quit."""
        title = str(self.title or "")
        self._window.set_wm_name(title.encode("latin-1", "replace").decode("latin-1"))
        self._window.change_property(
            self._display.intern_atom("_NET_WM_NAME"),
            self._display.intern_atom("UTF8_STRING"),
            8,
            title.encode("utf-8"),
        )

    def _on_button_press(self, event: Any) -> None:
        self.on_leave()
        if event.detail == DEFAULT_BUTTON:
            self()
        elif event.detail == MENU_BUTTON:
            self.on_menu(event.root_x, event.root_y)

    def _on_enter(self, event: Any) -> None:
        # Only the pointer arriving: an open menu's grab ending also "enters" the icon.
        if event.mode == Xlib.X.NotifyNormal:
            self.on_hover(event.root_x, event.root_y)

    def _draw(self) -> None:
        """Paint the icon over the panel's own background: pystray pastes it on black, which
        shows as a black square around the disc on any panel that is not black."""
        try:
            geometry = self._window.get_geometry()
            self._assert_icon_data(geometry.width, geometry.height)
            self._window.clear_area(0, 0, geometry.width, geometry.height)
            self._window.put_pil_image(self._masked_gc, 0, 0, self._icon_data)
        except Xlib.error.BadDrawable:  # the window is gone: nothing to paint
            pass

    def _assert_icon_data(self, width: int, height: int) -> None:
        if self._icon_data is not None and self._icon_data.size == (width, height):
            return
        scaled = self._icon.convert("RGBA").resize((width, height), PIL.Image.Resampling.LANCZOS)
        self._icon_data = scaled.convert("RGB")
        self._icon_data.tostring = self._icon_data.tobytes
        # Only the opaque pixels are drawn: a 1-bit mask from the alpha channel.
        alpha = scaled.getchannel("A").point(lambda value: 255 if value >= 128 else 0)
        mask = self._window.create_pixmap(width, height, 1)
        mask_gc = mask.create_gc(foreground=1, background=0)
        mask.put_pil_image(mask_gc, 0, 0, alpha.convert("1"))
        mask_gc.free()
        # One GC per image, the last one freed: a state change must not leak server memory.
        previous = getattr(self, "_masked_gc", None)
        self._masked_gc = self._window.create_gc(clip_mask=mask)
        mask.free()  # the GC keeps its clip mask
        if previous is not None:
            previous.free()
