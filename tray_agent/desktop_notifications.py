"""Showing a notification: the freedesktop notification service on Linux, plyer elsewhere.

plyer sends a title and a text only. On Linux the tray speaks the notification spec itself
over the session bus (``org.freedesktop.Notifications``, through jeepney: pure Python, 2 MiB,
where Gio would bring 18 MiB of GLib into a tray that has no other use for it), so an error
arrives with the *critical* urgency and the error icon, and buttons ("Open log", "Allow …
once") where the server has actions (dunst, GNOME, KDE, XFCE do). A click comes back as the
``ActionInvoked`` signal, handled on this module's own thread, so it works whichever pystray
backend (and loop) is in use.

Without a session bus (Windows, a headless box), ``plyer_backend`` is used and the actions
are not offered: every action is also in the tray menu.
"""

from __future__ import annotations

import html
import logging
import queue
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
    """The notification spec over the session bus: urgency, icon, actions and their clicks.

    One connection, as the spec needs: servers such as dunst send ``ActionInvoked`` only to
    the connection that sent the notification. jeepney's router reads it on its own thread
    and hands the signals to this backend's thread through a queue, so a click is delivered
    while a call waits.
    """

    def __init__(self) -> None:
        from jeepney import MatchRule, message_bus
        from jeepney.io.threading import DBusRouter, open_dbus_connection

        # For the tray's lifetime: jeepney's open_dbus_router would close it after a block.
        self._router = DBusRouter(open_dbus_connection(bus="SESSION"))
        self._capabilities = set(self._call("GetCapabilities", "", ())[0])
        rule = MatchRule(type="signal", interface=BUS_NAME, path=OBJECT_PATH)
        # Signals come through the queue: unicast ones, and broadcast ones once matched.
        self._signals: queue.Queue[Any] = queue.Queue()
        self._filter = self._router.filter(rule, queue=self._signals)
        self._router.send_and_get_reply(
            message_bus.AddMatch(rule), timeout=CALL_TIMEOUT_MILLISECONDS / 1000
        )
        self._actions: dict[int, dict[str, Action]] = {}
        self._lock = threading.Lock()
        threading.Thread(target=self._receive, name="notification-clicks", daemon=True).start()

    @property
    def has_actions(self) -> bool:
        return "actions" in self._capabilities

    def __call__(self, toast: Toast) -> None:
        text = toast.text
        if "body-markup" in self._capabilities:  # "<" or "&" in an error must show as typed
            text = html.escape(text, quote=False)
        actions = toast.actions if self.has_actions else ()
        flat = [part for action in actions for part in (action.key, action.label)]
        hints = {"urgency": ("y", URGENCY_BYTES[toast.urgency])}
        # Critical ones stay until dismissed (the spec's advice); others time out.
        timeout = 0 if toast.urgency == CRITICAL else NOTIFICATION_TIMEOUT_SECONDS * 1000
        body = (toast.app_name, 0, ICONS[toast.urgency], toast.title, text, flat, hints, timeout)
        with self._lock:  # registered before a click on it can arrive
            [notification_id] = self._call("Notify", "susssasa{sv}i", body)
            if actions:
                self._actions[notification_id] = {action.key: action for action in actions}

    def _call(self, method: str, signature: str, body: tuple[Any, ...]) -> Any:
        from jeepney import DBusAddress, MessageType, new_method_call

        address = DBusAddress(OBJECT_PATH, bus_name=BUS_NAME, interface=BUS_NAME)
        reply = self._router.send_and_get_reply(
            new_method_call(address, method, signature, body),
            timeout=CALL_TIMEOUT_MILLISECONDS / 1000,
        )
        if reply.header.message_type is MessageType.error:
            raise NotificationServiceError(f"{method}: {reply.body}")
        return reply.body

    def _receive(self) -> None:
        from jeepney import HeaderFields

        while True:
            message = self._signals.get()
            self._on_signal(message.header.fields.get(HeaderFields.member), message.body)

    def _on_signal(self, signal_name: str | None, parameters: tuple[Any, ...]) -> None:
        notification_id = parameters[0]
        with self._lock:
            if signal_name == "NotificationClosed":
                self._actions.pop(notification_id, None)
                return
            if signal_name != "ActionInvoked":
                return
            action = self._actions.get(notification_id, {}).get(parameters[1])
        if action is None:
            return
        log.info("Notification action: %s", action.label)
        try:
            action.run()
        except Exception:  # a failing action must not end the loop that delivers clicks
            log.exception("The notification action %r failed", action.label)


class NotificationServiceError(Exception):
    """The notification service answered a call with a D-Bus error."""


def best_backend() -> Backend:
    """The freedesktop service when there is one on a session bus, else plyer."""
    try:
        backend = FreedesktopBackend()
    except Exception as exc:  # no jeepney, no session bus, no notification service ...
        log.info("Notifications through plyer (no freedesktop service: %s)", exc)
        return plyer_backend
    log.info(
        "Notifications through the session bus%s", " with actions" if backend.has_actions else ""
    )
    return backend


def labels(actions: Sequence[Action]) -> str:
    """``Open log, Settings…``: for the tray log's line about a notification."""
    return ", ".join(action.label for action in actions if action.key != DEFAULT_ACTION)
