"""Desktop notifications: when to raise one (policy) and how (off the run's thread).

The policy watches module healths from the shared state DB, so the tray's own runs and AUTO
runs from Task Scheduler (which cannot show a toast themselves) are treated alike. It speaks
up on a change, not on every run: a module turning to error, a refused mass deactivation,
a recovery, and a last *success* that is too old (the dead-man's switch, which also notices
AUTO runs that stopped happening). A module failing every 5 minutes notifies once, and again
only after ``ERROR_REMINDER_SECONDS``.

A notice says what and where: its title names the settings folder, the module and the
outcome ("Halo Integrator (5 Mins): csv failed"), so two trays' notices are told apart;
errors are critical (the error icon, and they stay until dismissed). How a notice is shown,
and which buttons it gets, is ``tray_agent.desktop_notifications``'s business.

Sending happens on the notifier's own thread: a hung notification daemon must not delay a
run, and a failure to notify is logged, never raised.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from core.run.health import ModuleHealth, iso
from tray_agent.desktop_notifications import (
    CRITICAL,
    NORMAL,
    Action,
    Backend,
    Toast,
    best_backend,
)
from tray_agent.tray_state import shorten, title, utf16_units, withheld

log = logging.getLogger("halo_integrator.tray.notifier")

# Windows balloons: szInfoTitle and szInfo are WCHAR[64] and WCHAR[256] with their
# terminating NUL, so 63 and 255 UTF-16 code units; other platforms accept these too.
TITLE_MAX_UNITS = 63
TEXT_MAX_UNITS = 255
ERROR_REMINDER_SECONDS = 24 * 3_600
# How many of the keys a refused run withheld a notice names.
WITHHELD_NAMES_SHOWN = 3

ERROR, REFUSED, RECOVERED, STALE = "error", "refused", "recovered", "stale"
SETTINGS = "settings"  # the settings (or the state DB) cannot be used at all
URGENCIES = {ERROR: CRITICAL, REFUSED: CRITICAL, SETTINGS: CRITICAL}


@dataclass(frozen=True)
class Notice:
    kind: str
    module: str
    title: str
    text: str

    @property
    def urgency(self) -> str:
        """Critical for what needs the admin (an error, a refusal, unusable settings)."""
        return URGENCIES.get(self.kind, NORMAL)


def notice_title(folder_name: str | None, what: str) -> str:
    """``Halo Integrator (5 Mins): csv failed``, the folder's name cut first when too long.

    What happened is the point of the title; the folder only tells two trays apart.
    """
    full = f"{title(folder_name)}: {what}"
    if utf16_units(full) <= TITLE_MAX_UNITS or not folder_name:
        return full
    room = TITLE_MAX_UNITS - utf16_units(f"{title('')}: {what}") - len(" ()")
    if room < 2:
        return f"{title(None)}: {what}"
    return f"{title(shorten(folder_name, room))}: {what}"


def refusal_text(health: ModuleHealth) -> str:
    """What a refused run would have deactivated, in a sentence; the guard's text without it."""
    count, keys = withheld(health)
    if not count:
        return health.last_error or "A safety guard refused the run."
    names = ", ".join(keys[:WITHHELD_NAMES_SHOWN])
    more = count - min(len(keys), WITHHELD_NAMES_SHOWN)
    listed = f"{names} and {more} more" if more > 0 else names
    return (
        f"{count} records would be deactivated: {listed}. If they really left, allow it "
        "once from here or the tray menu."
    )


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
    folder_name: str | None = None  # the settings folder's, named in every title
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
        return Notice(SETTINGS, "", notice_title(self.folder_name, title.lower()), text)

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
                notice_title(self.folder_name, f"{health.module} recovered"),
                "The last run succeeded again.",
            )
        if health.health == "stale" and not memory.stale_notified:
            memory.stale_notified = True
            since = iso(health.last_success_at) or "never"
            return Notice(
                STALE,
                health.module,
                notice_title(self.folder_name, f"{health.module} has no recent success"),
                f"No successful run since {since.replace('T', ' ')} (runs every "
                f"{health.interval}). Check the schedule, the AUTO task and the logs.",
            )
        if health.health == "ok":
            memory.stale_notified = False
        return None

    def _error_notice(self, health: ModuleHealth, memory: _Memory, now: float) -> Notice | None:
        kind = _error_kind(health)
        is_new = memory.health != "error" or memory.error_kind != kind
        if not is_new and now - memory.error_notified_at < self.reminder_seconds:
            return None
        memory.error_kind, memory.error_notified_at = kind, now
        if kind == REFUSED:
            what = f"{health.module} refused a mass deactivation"
            return Notice(
                kind, health.module, notice_title(self.folder_name, what), refusal_text(health)
            )
        text = health.last_error or "The last run failed; see the log."
        what = f"{health.module} failed"
        return Notice(kind, health.module, notice_title(self.folder_name, what), text)


def _error_kind(health: ModuleHealth) -> str:
    """REFUSED for a run the mass-deactivation guard stopped, else ERROR."""
    return REFUSED if health.refused else ERROR


class Notifier:
    """Sends toasts through ``send`` (the best backend by default) on its own daemon thread."""

    def __init__(self, send: Backend | None = None) -> None:
        self._send = send
        self._queue: queue.Queue[Toast] = queue.Queue()
        self._thread: threading.Thread | None = None

    def notify(
        self, title: str, text: str, *, urgency: str = NORMAL, actions: Sequence[Action] = ()
    ) -> None:
        """Queue a notification; returns at once."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._drain, name="notifier", daemon=True)
            self._thread.start()
        self._queue.put(Toast(title, text, urgency, tuple(actions)))

    def send_now(self, toast: Toast) -> bool:
        """Send one notification, cut to the platform limits; False (logged) if it failed."""
        if self._send is None:
            self._send = best_backend()  # on this thread: it may wait for the bus
        cut = dataclasses.replace(
            toast,
            title=shorten(toast.title, TITLE_MAX_UNITS),
            text=shorten(" ".join(toast.text.split()), TEXT_MAX_UNITS),
        )
        try:
            self._send(cut)
        except Exception:  # any backend failure: a missing daemon must never break a run
            log.exception("Could not show the notification %r", toast.title)
            return False
        return True

    def _drain(self) -> None:
        while True:
            self.send_now(self._queue.get())
