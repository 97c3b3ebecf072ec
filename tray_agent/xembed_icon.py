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
Other threads change the icon (``icon =``, ``title =``, ``stop()``): the change is queued for
the X thread, which a ClientMessage sent over a second X connection wakes. pystray sends that
message over the X thread's own connection, and python-xlib 0.33 can then leave the X thread
waiting forever for a reply (a drawing's ``get_geometry``) while the other thread waits for the
X thread: the icon froze with a stale colour, deaf to clicks, about once in twenty starts
under load (tests/gui/test_xembed_icon.py).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

import PIL.Image
import pystray._xorg as xorg  # only imported after load_pystray chose this backend
import Xlib.display
import Xlib.error
import Xlib.protocol.event
import Xlib.X

log = logging.getLogger("halo_integrator.tray")

Pointer = Callable[[int, int], None]
Call = tuple[Callable[[], None], "Future[None]"]  # a change for the X thread, and its outcome
MENU_BUTTON = 3
DEFAULT_BUTTON = 1
EVENT_MASK = (
    Xlib.X.ExposureMask
    | Xlib.X.StructureNotifyMask
    | Xlib.X.ButtonPressMask
    | Xlib.X.EnterWindowMask
    | Xlib.X.LeaveWindowMask
)
# How long another thread waits for the X thread to apply a change before giving up: a stuck
# X thread must not also freeze the status thread, nor Quit.
CALL_TIMEOUT_SECONDS = 5.0


class XembedIcon(xorg.Icon):  # type: ignore[misc]  # pystray has no type hints
    """pystray's xorg icon that reports right clicks and hovering with the pointer's place.

    Left click runs the default menu entry (Settings), as pystray does; ``on_menu(x, y)`` is
    called for a right click, ``on_hover(x, y)`` when the pointer enters the icon and
    ``on_leave`` when it leaves or a button is pressed, each on the icon's X thread.
    """

    HAS_MENU = True
    _icon_data: Any  # pystray's: the icon scaled to the window, redone when it changes
    _icon: Any  # pystray's: the image last set
    _running: bool  # pystray's: True once the X loop is (about to be) running

    def __init__(
        self,
        *args: Any,
        on_menu: Pointer,
        on_hover: Pointer,
        on_leave: Callable[[], None],
        **kwargs: Any,
    ) -> None:
        self.on_menu, self.on_hover, self.on_leave = on_menu, on_hover, on_leave
        self._calls: queue.SimpleQueue[Call] = queue.SimpleQueue()
        self._waker_lock = threading.Lock()  # guards the waker and _loop_ended
        self._loop_ended = False
        self._thread: threading.Thread | None = None  # the X thread, once run() started
        self._drawn_from: Any = None  # the image _icon_data was made from
        super().__init__(*args, **kwargs)
        self._message_handlers[Xlib.X.EnterNotify] = self._on_enter
        self._message_handlers[Xlib.X.LeaveNotify] = lambda _event: self.on_leave()

    # -- threads ------------------------------------------------------------------------------

    def _rewrite_implementation(self, *methods: Callable[[], None]) -> None:
        """Route these methods to the X thread through ``_calls`` (pystray's version: see the
        module docstring)."""
        self._wake_atom = self._display.intern_atom("_HALO_INTEGRATOR_WAKE")
        self._waker = Xlib.display.Display(self._display.get_display_name())
        self._waker_window = self._waker.create_resource_object("window", self._window.id)
        for method in methods:
            setattr(self, method.__name__, self._on_x_thread(method))
        self._message_handlers[Xlib.X.ClientMessage] = self._on_client_message

    def _on_x_thread(self, method: Callable[[], None]) -> Callable[[], None]:
        def call() -> None:
            if threading.current_thread() is self._thread:
                method()
                return
            done: Future[None] = Future()
            self._calls.put((method, done))
            if self._wake():
                done.result(timeout=CALL_TIMEOUT_SECONDS)  # re-raises what the X thread raised

        call.__name__ = method.__name__
        return call

    def _wake(self) -> bool:
        """Send the X thread a ClientMessage over the waker's own connection; False once the
        loop has ended (the window is gone: nothing left to change)."""
        message = Xlib.protocol.event.ClientMessage(
            window=self._window.id, client_type=self._wake_atom, data=(32, (0, 0, 0, 0, 0))
        )
        with self._waker_lock:
            if self._loop_ended:
                return False
            self._waker_window.send_event(message, event_mask=Xlib.X.NoEventMask)
            self._waker.flush()
            return True

    def _on_client_message(self, event: Any) -> None:
        if event.client_type != self._wake_atom:
            return
        for method, done in self._queued_calls():
            try:
                method()
            except BaseException as exc:  # handed to the waiting thread, which raises it
                done.set_exception(exc)
            else:
                done.set_result(None)

    def _run(self) -> None:
        # pystray marks the icon ready (and its setup thread may call in) before it records
        # which thread is the X thread: record it first.
        self._thread = threading.current_thread()
        super()._run()

    def _mainloop(self) -> None:
        """pystray's loop, except that a failing handler is logged and the loop goes on:
        pystray's ends at the first exception, and the icon then never changes again."""
        try:
            for event in self._events():
                if event.type == Xlib.X.DestroyNotify and event.window == self._window:
                    break
                handler = self._message_handlers.get(event.type)
                if handler is None:
                    continue
                try:
                    handler(event)
                except Exception:
                    log.exception("The tray icon could not handle an X event")
        except Xlib.error.ConnectionClosedError:
            log.info("The X connection of the tray icon closed")
        finally:
            self._close_waker()

    def _close_waker(self) -> None:
        """End the hand-over: calls still queued are done (there is no window left to
        change), so no thread waits for them until its timeout."""
        with self._waker_lock:
            self._loop_ended = True
            self._waker.close()
        for _method, done in self._queued_calls():
            done.set_result(None)

    def _queued_calls(self) -> Iterator[Call]:
        while True:
            try:
                yield self._calls.get_nowait()
            except queue.Empty:
                return

    def _on_destroy_notify(self, event: Any) -> None:
        # pystray reads the tray's id even when it is not docked (yet).
        if self._systray_manager is not None:
            super()._on_destroy_notify(event)

    @property
    def icon(self) -> Any:
        return self._icon

    @icon.setter
    def icon(self, value: Any) -> None:
        """Draw each new image as soon as the X loop runs, visible yet or not. pystray skips an
        image set while its setup thread is still making the icon visible, and the old one
        then stays on screen until the next change."""
        if not value or not self._running:
            xorg.Icon.icon.fset(self, value)
            return
        self._icon = value
        self._icon_valid = False
        self._update_icon()

    # -- drawing ----------------------------------------------------------------------------

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
        if (
            self._icon_data is not None
            and self._icon_data.size == (width, height)
            and self._drawn_from is self._icon
        ):
            return
        self._drawn_from = self._icon
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
