"""Client-side pacing under Halo's rolling rate limit.

Hosted Halo answers 429 once an API application sends more than 300 requests in any rolling
five minutes. Running into that wall and backing off wastes the whole window, so the client
keeps its own sliding log of send times and waits *before* a request would exceed the limit.
A small headroom is kept for the other tools sharing the application's quota, and the window is
stretched by a safety margin: the server counts a request when it *arrives*, the pacer when it
is *sent*, so without the margin a slow request could leave the pacer's window before the
server's.
``RequestPacer`` keeps the window in memory (one process); ``SharedRequestPacer`` keeps it in
a file in the user's state folder, one budget per Halo application, so the tray, AUTO runs,
the CLI and every settings folder on that application ("5 Mins", "Daily") share it.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, TypeVar

from platformdirs import user_state_dir

from core.private_files import create_private_file, private_folder
from core.settings.model import HaloConnection

log = logging.getLogger("halo_integrator.pacing")

T = TypeVar("T")


class RequestPacer:
    """A thread-safe sliding-window limiter: at most ``max_requests`` per ``window_seconds``.

    ``acquire()`` blocks until one more request fits in the window and returns the seconds it
    waited, so callers can report how much pacing cost. ``hold_off()`` pauses everyone after
    the server said 429, because the server's count (shared with other clients) is the truth.
    """

    def __init__(
        self,
        max_requests: int,
        window_seconds: float,
        *,
        headroom: float = 0.02,
        safety_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_requests < 1 or window_seconds <= 0:
            raise ValueError("a rate limit needs at least one request per positive window")
        self.budget = max(1, int(max_requests * (1.0 - headroom)))
        self.window_seconds = window_seconds + (
            safety_margin(window_seconds) if safety_seconds is None else safety_seconds
        )
        self._clock = clock
        self._sleep = sleep
        self._sent: collections.deque[float] = collections.deque()
        self._blocked_until = 0.0
        self._lock = threading.Lock()
        self.total_wait_seconds = 0.0

    def acquire(self) -> float:
        """Wait until a request may be sent, record it, and return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                delay = self._delay_locked(self._clock())
                if delay <= 0:
                    self._sent.append(self._clock())
                    self.total_wait_seconds += waited
                    return waited
            self._sleep(delay)
            waited += delay

    def hold_off(self, seconds: float) -> None:
        """Let no request out for ``seconds`` (after a 429 from the server)."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + seconds)

    def _delay_locked(self, now: float) -> float:
        if now < self._blocked_until:
            return self._blocked_until - now
        self._forget_old(now)
        if len(self._sent) < self.budget:
            return 0.0
        return self._sent[0] + self.window_seconds - now

    def _forget_old(self, now: float) -> None:
        while self._sent and self._sent[0] <= now - self.window_seconds:
            self._sent.popleft()


MIN_SAFETY_SECONDS = 0.5
SAFETY_SHARE_OF_WINDOW = 0.02


def safety_margin(window_seconds: float) -> float:
    """Seconds added to the window: 6 s of Halo's 300, at least half a second."""
    return max(MIN_SAFETY_SECONDS, window_seconds * SAFETY_SHARE_OF_WINDOW)


class Pacer(Protocol):
    """What the Halo client needs from a pacer, in one process or shared between several."""

    total_wait_seconds: float

    def acquire(self) -> float: ...

    def hold_off(self, seconds: float) -> None: ...


PACING_FILE_NAME = "pacing.db"
STATE_FOLDER_VARIABLE = "HALO_INTEGRATOR_STATE_DIR"
BUSY_TIMEOUT_SECONDS = 30.0
SET_ASIDE_SUFFIX = ".unreadable"
SIDE_FILE_SUFFIXES = ("-journal", "-wal", "-shm")


def user_state_folder() -> Path:
    """The folder for what the agent keeps per user account rather than per settings folder.

    ``HALO_INTEGRATOR_STATE_DIR`` overrides the platform's (``~/.local/state/halo-integrator``,
    ``%LOCALAPPDATA%\\halo-integrator``): a service account without a home, or a test.
    """
    override = os.environ.get(STATE_FOLDER_VARIABLE)
    if override:
        return Path(override).expanduser().absolute()
    return Path(user_state_dir("halo-integrator", appauthor=False))


class SharedRequestPacer:
    """The same sliding window, kept in a small SQLite file all of an account's processes open.

    The tray, an AUTO run from Task Scheduler, a CLI ``sync`` and the settings dialog are
    separate processes, and several settings folders may use one Halo API application: each
    with its own in-memory window would together send several times the instance's limit.
    Here every send time is a row in one file, claimed inside an exclusive transaction, so
    they share one budget. Losing the file loses nothing but a few minutes of pacing history,
    so a file SQLite cannot use is set aside and started afresh instead of stopping the run.
    """

    def __init__(
        self,
        path: Path,
        application: str,
        max_requests: int,
        window_seconds: float,
        *,
        headroom: float = 0.02,
        safety_seconds: float | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_requests < 1 or window_seconds <= 0:
            raise ValueError("a rate limit needs at least one request per positive window")
        self.path = Path(path)
        self.application = application
        self.budget = max(1, int(max_requests * (1.0 - headroom)))
        self.window_seconds = window_seconds + (
            safety_margin(window_seconds) if safety_seconds is None else safety_seconds
        )
        self.total_wait_seconds = 0.0
        self._clock = clock
        self._sleep = sleep
        private_folder(self.path.parent)
        self._write(_create_tables)

    def acquire(self) -> float:
        """Wait until this application may send one more request; the seconds waited."""
        waited = 0.0
        while True:
            delay = self._claim()
            if delay <= 0:
                self.total_wait_seconds += waited
                return waited
            self._sleep(delay)
            waited += delay

    def hold_off(self, seconds: float) -> None:
        """After a 429: no process sends for this application during ``seconds``."""
        until = self._clock() + seconds

        def hold(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO hold (application, until) VALUES (?, ?) ON CONFLICT(application) "
                "DO UPDATE SET until = max(until, excluded.until)",
                (self.application, until),
            )

        self._write(hold)

    def _claim(self) -> float:
        """Record a send and return 0, or return how long to wait; one exclusive transaction."""
        return self._write(self._claim_in)

    def _claim_in(self, db: sqlite3.Connection) -> float:
        now = self._clock()
        row = db.execute(
            "SELECT until FROM hold WHERE application = ?", (self.application,)
        ).fetchone()
        if row and row[0] > now:
            return float(row[0] - now)
        db.execute(
            "DELETE FROM sent WHERE application = ? AND at <= ?",
            (self.application, now - self.window_seconds),
        )
        count, oldest = db.execute(
            "SELECT count(*), min(at) FROM sent WHERE application = ?", (self.application,)
        ).fetchone()
        if count < self.budget:
            db.execute("INSERT INTO sent (application, at) VALUES (?, ?)", (self.application, now))
            return 0.0
        return float(oldest + self.window_seconds - now)

    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work`` in one exclusive transaction; a file SQLite cannot use is replaced once.

        Busy (another process held the file for the whole timeout) is not damage and is
        raised; so is an OSError when the damaged file cannot be moved.
        """
        try:
            with self._transaction() as db:
                return work(db)
        except sqlite3.DatabaseError as exc:
            if _is_busy(exc):
                raise
            self._start_afresh(exc)
        with self._transaction() as db:
            return work(db)

    def _start_afresh(self, error: sqlite3.DatabaseError) -> None:
        """Set the damaged file aside (one copy, for a support ticket) and create a new one."""
        set_aside = self.path.with_name(self.path.name + SET_ASIDE_SUFFIX)
        log.warning(
            "The pacing history %s cannot be used (%s); it was moved to %s and a new one "
            "started. Only the last few minutes of request times are lost.",
            self.path,
            error,
            set_aside.name,
        )
        with contextlib.suppress(FileNotFoundError):
            os.replace(self.path, set_aside)
        # A journal left beside the old file would be "rolled back" into the new one.
        for suffix in SIDE_FILE_SUFFIXES:
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        with self._transaction() as db:
            _create_tables(db)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        create_private_file(self.path)  # sqlite3 would create it with the umask's mode
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        try:
            db.execute("PRAGMA synchronous = OFF")  # pacing history is not worth an fsync
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                if db.in_transaction:  # SQLite itself rolls back after some errors
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()


def _create_tables(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS sent (application TEXT NOT NULL, at REAL NOT NULL)")
    db.execute("CREATE INDEX IF NOT EXISTS sent_by_time ON sent (application, at)")
    db.execute(
        "CREATE TABLE IF NOT EXISTS hold (application TEXT PRIMARY KEY, until REAL NOT NULL)"
    )


def _is_busy(error: sqlite3.DatabaseError) -> bool:
    primary_code = getattr(error, "sqlite_errorcode", 0) & 0xFF
    return primary_code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


_SHARED_PACERS: dict[tuple[str, str, int, float], RequestPacer] = {}
_SHARED_PACERS_LOCK = threading.Lock()


def shared_pacer(connection: HaloConnection) -> RequestPacer:
    """One pacer per Halo application in this process: every client of it shares the quota.

    The tray's scheduled runs, its Validate button and a "Sync now" each open their own
    client; with a pacer each, together they would send more than the limit allows.
    """
    key = (
        connection.url.rstrip("/").lower(),
        connection.client_id,
        connection.requests_per_window,
        connection.window_seconds,
    )
    with _SHARED_PACERS_LOCK:
        if key not in _SHARED_PACERS:
            _SHARED_PACERS[key] = RequestPacer(
                connection.requests_per_window, connection.window_seconds
            )
        return _SHARED_PACERS[key]


def application_pacer(connection: HaloConnection, state_folder: Path | None = None) -> Pacer:
    """The pacer every process of this account shares for this Halo application.

    The file lives in the user's state folder, keyed by the application (URL and client ID),
    so two settings folders on one application ("5 Mins", "Daily") stay under its limit
    together. When that folder cannot be written at all, this process paces alone, with a
    warning, rather than not running.
    """
    path = (state_folder or user_state_folder()) / PACING_FILE_NAME
    try:
        return SharedRequestPacer(
            path,
            f"{connection.url.rstrip('/').lower()} {connection.client_id}",
            connection.requests_per_window,
            connection.window_seconds,
        )
    except (OSError, sqlite3.Error) as exc:
        log.warning(
            "Cannot keep the pacing history in %s (%s); this run paces on its own. Set %s to "
            "a folder this account can write.",
            path,
            exc,
            STATE_FOLDER_VARIABLE,
        )
        return shared_pacer(connection)
