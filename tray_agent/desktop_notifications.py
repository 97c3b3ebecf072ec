"""Showing a notification: the freedesktop notification service on Linux, plyer elsewhere.

plyer sends a title and a text only. On Linux the tray speaks the notification spec itself
over the session bus (``org.freedesktop.Notifications``, through Gio, which the GTK tray
backend brings along), so an error arrives with the *critical* urgency and the error icon,
and buttons ("Open log", "Allow … once") where the server has actions (dunst, GNOME, KDE,
XFCE do). A click comes back as the ``ActionInvoked`` signal, dispatched on this module's
own GLib loop thread, so it works whichever pystray backend (and loop) is in use.

Without a session bus or Gio (Windows, a headless box), ``plyer_backend`` is used and the
actions are not offered: every action is also in the tray menu.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("halo_integrator.tray.notifier")

LOW, NORMAL, CRITICAL = "low", "normal", "critical"
URGENCY_BYTES = {LOW: 0, NORMAL: 1, CRITICAL: 2}
# Icon names of the freedesktop icon naming spec: every icon theme has them.
ICONS = {LOW: "dialog-information", NORMAL: "dialog-information", CRITICAL: "dialog-error"}
NOTIFICATION_TIMEOUT_SECONDS = 10
BUS_NAME = "org.freedesktop.Notifications"
OBJECT_PATH = "/org/freedesktop/Notifications"
CALL_TIMEOUT_MILLISECONDS = 5_000
DEFAULT_ACTION = "default"  # the spec's key for a click on the notification itself


@dataclass(frozen=True)
class Action:
    """A button on a notification; ``key`` "default" is a click on the notification."""

    key: str
    label: str
    run: Callable[[], None]


@dataclass(frozen=True)
class Toast:
    """One notification as sent: title, text, urgency, and the actions offered with it."""

    title: str
    text: str
    urgency: str = NORMAL
    actions: tuple[Action, ...] = ()
    app_name: str = "Halo Integrator"


Backend = Callable[[Toast], None]


def plyer_backend(toast: Toast) -> None:
    """Title and text only (Windows balloons, macOS, a Linux without Gio)."""
    from plyer import notification

    notification.notify(
        title=toast.title,
        message=toast.text,
        app_name=toast.app_name,
        timeout=NOTIFICATION_TIMEOUT_SECONDS,
    )


class FreedesktopBackend:
    """The notification spec over the session bus: urgency, icon, actions and their clicks."""

    def __init__(self) -> None:
        from gi.repository import Gio, GLib

        self._glib = GLib
        self._bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
        self._capabilities = set(self._call("GetCapabilities", None, "(as)")[0])
        self._actions: dict[int, dict[str, Action]] = {}
        self._lock = threading.Lock()
        ready = threading.Event()
        threading.Thread(
            target=self._loop, args=(ready,), name="notification-clicks", daemon=True
        ).start()
        ready.wait(CALL_TIMEOUT_MILLISECONDS / 1000)

    @property
    def has_actions(self) -> bool:
        return "actions" in self._capabilities

    def __call__(self, toast: Toast) -> None:
        glib = self._glib
        text = toast.text
        if "body-markup" in self._capabilities:  # "<" or "&" in an error must show as typed
            text = glib.markup_escape_text(text)
        actions = toast.actions if self.has_actions else ()
        flat = [part for action in actions for part in (action.key, action.label)]
        hints = {"urgency": glib.Variant("y", URGENCY_BYTES[toast.urgency])}
        # Critical ones stay until dismissed (the spec's advice); others time out.
        timeout = 0 if toast.urgency == CRITICAL else NOTIFICATION_TIMEOUT_SECONDS * 1000
        parameters = glib.Variant(
            "(susssasa{sv}i)",
            (toast.app_name, 0, ICONS[toast.urgency], toast.title, text, flat, hints, timeout),
        )
        [notification_id] = self._call("Notify", parameters, "(u)")
        if actions:
            with self._lock:
                self._actions[notification_id] = {action.key: action for action in actions}

    def _call(self, method: str, parameters: Any, reply: str) -> Any:
        glib = self._glib
        from gi.repository import Gio

        answer = self._bus.call_sync(
            BUS_NAME,
            OBJECT_PATH,
            BUS_NAME,
            method,
            parameters,
            glib.VariantType(reply),
            Gio.DBusCallFlags.NONE,
            CALL_TIMEOUT_MILLISECONDS,
            None,
        )
        return answer.unpack()

    def _loop(self, ready: threading.Event) -> None:
        """Own GLib context and loop: signals are delivered where they were subscribed."""
        glib = self._glib
        from gi.repository import Gio

        context = glib.MainContext.new()
        context.push_thread_default()
        for signal_name in ("ActionInvoked", "NotificationClosed"):
            self._bus.signal_subscribe(
                None,
                BUS_NAME,
                signal_name,
                OBJECT_PATH,
                None,
                Gio.DBusSignalFlags.NONE,
                self._on_signal,
            )
        ready.set()
        glib.MainLoop.new(context, False).run()

    def _on_signal(self, *arguments: Any) -> None:
        """Gio's callback: (connection, sender, path, interface, signal, parameters)."""
        signal_name, parameters = arguments[4], arguments[5].unpack()
        notification_id = parameters[0]
        with self._lock:
            if signal_name == "NotificationClosed":
                self._actions.pop(notification_id, None)
                return
            action = self._actions.get(notification_id, {}).get(parameters[1])
        if action is None:
            return
        log.info("Notification action: %s", action.label)
        try:
            action.run()
        except Exception:  # a failing action must not end the loop that delivers clicks
            log.exception("The notification action %r failed", action.label)


def best_backend() -> Backend:
    """The freedesktop service when there is one on a session bus, else plyer."""
    try:
        backend = FreedesktopBackend()
    except Exception as exc:  # ImportError (no gi), GLib.Error (no bus or no service)
        log.info("Notifications through plyer (no freedesktop service: %s)", exc)
        return plyer_backend
    log.info(
        "Notifications through the session bus%s", " with actions" if backend.has_actions else ""
    )
    return backend


def labels(actions: Sequence[Action]) -> str:
    """``Open log, Settings…``: for the tray log's line about a notification."""
    return ", ".join(action.label for action in actions if action.key != DEFAULT_ACTION)
