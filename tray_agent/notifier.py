"""Desktop notifications: when to raise one (policy) and how (plyer, off the run's thread).

The policy watches module healths from the shared state DB, so the tray's own runs and AUTO
runs from Task Scheduler (which cannot show a toast themselves) are treated alike. It speaks
up on a change, not on every run: a module turning to error, a refused mass deactivation,
a recovery, and a last *success* that is too old (the dead-man's switch, which also notices
AUTO runs that stopped happening). A module failing every 5 minutes notifies once, and again
only after ``ERROR_REMINDER_SECONDS``.

Sending happens on the notifier's own thread: a hung notification daemon must not delay a
run, and a failure to notify is logged, never raised.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from core.run.health import ModuleHealth, iso
from tray_agent.tray_state import APP_TITLE, shorten

log = logging.getLogger("halo_integrator.tray.notifier")

# Windows balloons: szInfoTitle and szInfo are WCHAR[64] and WCHAR[256] with their
# terminating NUL, so 63 and 255 UTF-16 code units; other platforms accept these too.
TITLE_MAX_UNITS = 63
TEXT_MAX_UNITS = 255
ERROR_REMINDER_SECONDS = 24 * 3_600
NOTIFICATION_TIMEOUT_SECONDS = 10

ERROR, REFUSED, RECOVERED, STALE = "error", "refused", "recovered", "stale"
SETTINGS = "settings"  # the settings (or the state DB) cannot be used at all
Send = Callable[[str, str], None]


@dataclass(frozen=True)
class Notice:
    kind: str
    module: str
    title: str
    text: str


@dataclass
class _Memory:
    health: str | None = None
    error_kind: str | None = None
    error_notified_at: float = 0.0
    stale_notified: bool = False


@dataclass
class NotificationPolicy:
    """Turns a stream of module healths into the few notices worth a toast."""

    reminder_seconds: float = ERROR_REMINDER_SECONDS
    _memory: dict[str, _Memory] = field(default_factory=dict)
    _problem: str | None = None
    _problem_notified_at: float = 0.0

    def seed(self, healths: Sequence[ModuleHealth], now: float | None = None) -> None:
        """Take the errors the state DB has when the tray starts as already notified.

        An earlier tray (or the admin at the last login) was told about them; repeating
        every failing module's toast at each login teaches people to ignore toasts. The
        reminder after ``reminder_seconds`` counts from now. Stale modules are not seeded:
        the dead-man's switch speaks at start as it always did.
        """
        now = time.time() if now is None else now
        for health in healths:
            if health.enabled and health.health == "error":
                memory = self._memory.setdefault(health.module, _Memory())
                memory.health = health.health
                memory.error_kind = _error_kind(health)
                memory.error_notified_at = now

    def observe_problem(
        self, title: str, text: str | None, now: float | None = None
    ) -> Notice | None:
        """A notice when the settings cannot be used (``text``), once per problem and then
        after ``reminder_seconds`` like a module error; None when ``text`` is None."""
        now = time.time() if now is None else now
        if text is None:
            self._problem = None
            return None
        if text == self._problem and now - self._problem_notified_at < self.reminder_seconds:
            return None
        self._problem, self._problem_notified_at = text, now
        return Notice(SETTINGS, "", title, text)

    def observe(self, healths: Sequence[ModuleHealth], now: float | None = None) -> list[Notice]:
        """Return the notices for this snapshot of healths (and remember it)."""
        now = time.time() if now is None else now
        notices = []
        for health in healths:
            if not health.enabled:
                self._memory.pop(health.module, None)
                continue
            memory = self._memory.setdefault(health.module, _Memory())
            notice = self._notice_for(health, memory, now)
            memory.health = health.health
            if notice is not None:
                notices.append(notice)
        return notices

    def _notice_for(self, health: ModuleHealth, memory: _Memory, now: float) -> Notice | None:
        if health.health == "error":
            return self._error_notice(health, memory, now)
        if memory.health == "error" and health.health == "ok":
            memory.error_kind = None
            return Notice(
                RECOVERED,
                health.module,
                f"{health.module}: recovered",
                "The last run succeeded again.",
            )
        if health.health == "stale" and not memory.stale_notified:
            memory.stale_notified = True
            since = iso(health.last_success_at) or "never"
            return Notice(
                STALE,
                health.module,
                f"{health.module}: no recent success",
                f"No successful run since {since.replace('T', ' ')} (runs every "
                f"{health.interval}). Check the schedule, the AUTO task and the logs.",
            )
        if health.health == "ok":
            memory.stale_notified = False
        return None

    def _error_notice(self, health: ModuleHealth, memory: _Memory, now: float) -> Notice | None:
        text = health.last_error or "The last run failed; see the log."
        kind = _error_kind(health)
        is_new = memory.health != "error" or memory.error_kind != kind
        if not is_new and now - memory.error_notified_at < self.reminder_seconds:
            return None
        memory.error_kind, memory.error_notified_at = kind, now
        title = f"{health.module}: mass deactivation refused" if kind == REFUSED else health.module
        return Notice(kind, health.module, title, text)


def _error_kind(health: ModuleHealth) -> str:
    """REFUSED for a run the mass-deactivation guard stopped, else ERROR."""
    return REFUSED if health.refused else ERROR


class Notifier:
    """Sends notices through ``send`` (plyer by default) on its own daemon thread."""

    def __init__(self, send: Send | None = None) -> None:
        self._send = send or plyer_send
        self._queue: queue.Queue[tuple[str, str]] = queue.Queue()
        self._thread: threading.Thread | None = None

    def notify(self, title: str, text: str) -> None:
        """Queue a notification; returns at once."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._drain, name="notifier", daemon=True)
            self._thread.start()
        self._queue.put((title, text))

    def send_now(self, title: str, text: str) -> bool:
        """Send one notification, cut to the platform limits; False (logged) if it failed."""
        try:
            self._send(
                shorten(title, TITLE_MAX_UNITS), shorten(" ".join(text.split()), TEXT_MAX_UNITS)
            )
        except Exception:  # any backend failure: a missing daemon must never break a run
            log.exception("Could not show the notification %r", title)
            return False
        return True

    def _drain(self) -> None:
        while True:
            title, text = self._queue.get()
            self.send_now(title, text)


def plyer_send(title: str, text: str) -> None:
    from plyer import notification

    notification.notify(
        title=title, message=text, app_name=APP_TITLE, timeout=NOTIFICATION_TIMEOUT_SECONDS
    )
