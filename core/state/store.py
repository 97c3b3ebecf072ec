"""The local state DB: what the engine writes, shared by every process on one settings folder.

The tray, an AUTO run from Task Scheduler and the CLI all open the same ``state.db`` beside
``appsettings.json``, so whichever ran a module, the others see its result. It holds the run
history, each module's last sync / last error, checkpoints (delta tokens, high-water marks)
and the source-to-Halo id map with a fingerprint per record, which is how an unchanged record
costs no request on the next run. SQLite in WAL mode with a busy timeout lets several
processes read while one writes; every write is its own short transaction.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from core.errors import StateError
from core.outcomes import Outcome, RecordFailure, RunCounts
from core.private_files import create_private_file, private_folder, warn_if_open_to_others
from core.state.migrations import migrate

STATE_FILE_NAME = "state.db"
BUSY_TIMEOUT_MILLISECONDS = 30_000

KEEP_RUNS_PER_MODULE = 1_000


@dataclass(frozen=True, slots=True)
class MappedRecord:
    """A source record the engine has put into Halo before."""

    source_key: str
    halo_id: int
    fingerprint: str
    active: bool


@dataclass(frozen=True)
class ModuleStatus:
    """A module's latest result, whichever process produced it."""

    module: str
    last_run_at: float | None
    last_outcome: str | None
    last_success_at: float | None
    last_error: str | None
    last_error_at: float | None
    consecutive_failures: int
    last_started_at: float | None = None


class StateStore:
    """Opens ``state.db`` per operation, so it is safe from any thread or process."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / STATE_FILE_NAME
        try:
            private_folder(self.path.parent)
            warn_if_open_to_others(self.path.parent)
            with self._connect() as db:
                _use_wal(db)
                db.isolation_level = None  # the migrations run their own transaction
                migrate(db, str(self.path))
        except sqlite3.DatabaseError as exc:
            raise StateError(
                f"The state database cannot be opened: {exc}.",
                path=str(self.path),
                hint="Move the file aside; the next run rebuilds it (and re-matches records).",
            ) from exc

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction taken at once (``BEGIN IMMEDIATE``), for read-then-write
        steps that must not interleave with another process (a ledger claim)."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            yield db

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """One connection for one transaction; a file that cannot be used is a StateError."""
        try:
            create_private_file(self.path)  # SQLite gives -wal and -shm the file's mode
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MILLISECONDS / 1000)
            try:
                with db:
                    yield db
            finally:
                db.close()
        except (sqlite3.OperationalError, PermissionError) as exc:
            raise unusable_state_error(self.path, exc) from exc

    # -- runs and status --------------------------------------------------------------------

    def start_run(self, module: str, origin: str) -> int:
        """Record a run's start; called under the module's lock, so an older 'running' row
        belongs to a process that died, and is closed as 'interrupted'."""
        now = time.time()
        with self._connect() as db:
            db.execute(
                "UPDATE runs SET outcome=? WHERE module=? AND outcome='running'",
                (Outcome.INTERRUPTED.value, module),
            )
            cursor = db.execute(
                "INSERT INTO runs (module, origin, started_at) VALUES (?, ?, ?)",
                (module, origin, now),
            )
            db.execute(
                "INSERT INTO module_status (module, last_started_at) VALUES (?, ?) "
                "ON CONFLICT(module) DO UPDATE SET last_started_at=excluded.last_started_at",
                (module, now),
            )
            return int(cursor.lastrowid or 0)

    def finish_run(
        self,
        run_id: int,
        module: str,
        outcome: Outcome | str,
        counts: RunCounts,
        error: str | None,
        details: Sequence[dict[str, object]] = (),
    ) -> None:
        """Record a run's end and fold it into the module's status, in one transaction.

        Old runs of the module are pruned here, so the history never grows without bound.
        """
        outcome = Outcome(outcome)
        now = time.time()
        with self._connect() as db:
            db.execute(
                "UPDATE runs SET finished_at=?, outcome=?, created=?, updated=?, unchanged=?, "
                "deactivated=?, processed=?, failed=?, requests=?, error=?, details=? "
                "WHERE id=?",
                (
                    now,
                    outcome.value,
                    counts.created,
                    counts.updated,
                    counts.unchanged,
                    counts.deactivated,
                    counts.processed,
                    counts.failed,
                    counts.requests,
                    error,
                    json.dumps(list(details)) if details else None,
                    run_id,
                ),
            )
            db.execute(
                "INSERT INTO module_status (module) VALUES (?) ON CONFLICT(module) DO NOTHING",
                (module,),
            )
            if not outcome.counts_as_failure:
                db.execute(
                    "UPDATE module_status SET last_run_at=?, last_outcome=?, last_success_at=?, "
                    "last_error=NULL, consecutive_failures=0 WHERE module=?",
                    (now, outcome.value, now, module),
                )
            else:
                db.execute(
                    "UPDATE module_status SET last_run_at=?, last_outcome=?, last_error=?, "
                    "last_error_at=?, consecutive_failures=consecutive_failures+1 "
                    "WHERE module=?",
                    (now, outcome.value, error, now, module),
                )
            db.execute(
                "DELETE FROM runs WHERE module=? AND id <= ("
                "SELECT id FROM runs WHERE module=? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                (module, module, KEEP_RUNS_PER_MODULE),
            )

    def record_lost_run(self, module: str, origin: str, error: str) -> None:
        """A run whose process died before recording its end: close it as failed, with why.

        Call it under the module's lock (as ``start_run``): a "running" row is then the dead
        process's own. A process that died before its row was written gets one, so the
        failure still shows in ``status``, the history and the tray.
        """
        with self._connect() as db:
            row = db.execute(
                "SELECT id FROM runs WHERE module=? AND outcome='running' ORDER BY id DESC",
                (module,),
            ).fetchone()
        run_id = row[0] if row else self.start_run(module, origin)
        self.finish_run(run_id, module, Outcome.FAILED, RunCounts(), error)

    def status(self, module: str) -> ModuleStatus | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT module, last_run_at, last_outcome, last_success_at, last_error, "
                "last_error_at, consecutive_failures, last_started_at FROM module_status "
                "WHERE module=?",
                (module,),
            ).fetchone()
        return ModuleStatus(*row) if row else None

    def recent_runs(self, module: str, limit: int = 20) -> list[dict[str, object]]:
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(
                "SELECT * FROM runs WHERE module=? ORDER BY id DESC LIMIT ?", (module, limit)
            ).fetchall()
        return [dict(row) for row in rows]

    def latest_runs(self, limit: int = 50) -> list[dict[str, object]]:
        """The newest runs of every module, newest first (for the diagnostics bundle)."""
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [dict(row) for row in rows]

    # -- checkpoints ------------------------------------------------------------------------

    def checkpoint(self, module: str, name: str) -> str | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT value FROM checkpoints WHERE module=? AND name=?", (module, name)
            ).fetchone()
        return row[0] if row else None

    def set_checkpoint(self, module: str, name: str, value: str) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO checkpoints (module, name, value) VALUES (?, ?, ?) "
                "ON CONFLICT(module, name) DO UPDATE SET value=excluded.value",
                (module, name, value),
            )

    # -- failures reported to Halo --------------------------------------------------------

    def unreported(
        self, module: str, entity: str, failures: Sequence[RecordFailure]
    ) -> list[RecordFailure]:
        """The failures Halo has not been told about; a bad row in a 5-minute module must not
        add 288 identical integration errors to Halo a day."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT source_key, message FROM reported_failures WHERE module=? AND entity=?",
                (module, entity),
            ).fetchall()
        known = {(row[0], row[1]) for row in rows}
        return [f for f in failures if (f.key, f.message) not in known]

    def mark_reported(
        self, module: str, entity: str, current: Sequence[RecordFailure], *, sent: bool
    ) -> None:
        """Keep only the current failures as reported (one that went away and comes back is
        reported again); the new ones count as reported only when Halo accepted them."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT source_key, message FROM reported_failures WHERE module=? AND entity=?",
                (module, entity),
            ).fetchall()
            now_failing = {(f.key, f.message) for f in current}
            keep = {row for row in map(tuple, rows) if row in now_failing}
            if sent:
                keep |= now_failing
            db.execute(
                "DELETE FROM reported_failures WHERE module=? AND entity=?", (module, entity)
            )
            db.executemany(
                "INSERT INTO reported_failures (module, entity, source_key, message) "
                "VALUES (?, ?, ?, ?)",
                [(module, entity, key, message) for key, message in sorted(keep)],
            )

    # -- the source-to-Halo record map ------------------------------------------------------

    def owners(self, entity: str, halo_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """Which module instance (and source key) holds each of these Halo records."""
        found: dict[int, tuple[str, str]] = {}
        with self._connect() as db:
            for start in range(0, len(halo_ids), 500):
                chunk = list(halo_ids[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    "SELECT halo_id, module, source_key FROM record_map "  # noqa: S608
                    f"WHERE entity=? AND halo_id IN ({marks})",
                    (entity, *chunk),
                ).fetchall()
                found.update({int(row[0]): (row[1], row[2]) for row in rows})
        return found

    def forget_module(self, module: str) -> None:
        """Drop everything a removed module instance left: its records may be taken over."""
        with self._connect() as db:
            tables = (
                "record_map",
                "checkpoints",
                "reported_failures",
                "module_status",
                "work_items",
            )
            for table in tables:
                db.execute(f"DELETE FROM {table} WHERE module=?", (module,))  # noqa: S608

    def mapped_records(self, module: str, entity: str) -> dict[str, MappedRecord]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT source_key, halo_id, fingerprint, active FROM record_map "
                "WHERE module=? AND entity=?",
                (module, entity),
            ).fetchall()
        return {row[0]: MappedRecord(row[0], row[1], row[2], bool(row[3])) for row in rows}

    def forget_mappings(self, module: str, entity: str, source_keys: Iterable[str]) -> None:
        """Drop mappings whose Halo record is gone, so the next run matches or creates anew."""
        with self._connect() as db:
            db.executemany(
                "DELETE FROM record_map WHERE module=? AND entity=? AND source_key=?",
                [(module, entity, key) for key in source_keys],
            )

    def save_mappings(self, module: str, entity: str, records: Iterable[MappedRecord]) -> None:
        """Store (or replace) mappings; called after each applied batch, so progress survives."""
        now = time.time()
        with self._connect() as db:
            db.executemany(
                "INSERT INTO record_map (module, entity, source_key, halo_id, fingerprint, "
                "active, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(module, entity, source_key) DO UPDATE SET halo_id=excluded.halo_id,"
                " fingerprint=excluded.fingerprint, active=excluded.active, "
                "updated_at=excluded.updated_at",
                [
                    (module, entity, r.source_key, r.halo_id, r.fingerprint, int(r.active), now)
                    for r in records
                ],
            )


def _use_wal(db: sqlite3.Connection, attempts: int = 50) -> None:
    """Switch to WAL; several processes opening a new DB at once may find it busy.

    Changing the journal mode does not wait on SQLite's busy handler, so a second process
    opening the file in the same instant is told "locked" at once: it waits a moment and
    tries again (the first one's switch then makes the second a no-op).
    """
    for attempt in range(attempts):
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.02 * (attempt + 1))


def unusable_state_error(path: Path, error: OSError | sqlite3.Error) -> StateError:
    """What an admin must do about a state DB SQLite cannot open or write, naming the file.

    SQLite says "readonly" whichever of the file, a leftover ``-shm``/``-wal`` (from a run
    under another account) or the folder is at fault, so the file system is asked which.
    """
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return StateError(
            "another process kept the state database locked for "
            f"{BUSY_TIMEOUT_MILLISECONDS // 1000} s.",
            path=str(path),
            hint="Close whatever holds it open (a database browser, a backup, a stuck "
            "halo-integrator) and run again.",
        )
    give_access = "Give the account that runs halo-integrator write access to it."
    for blocked, problem, hint in (
        (
            path,
            "the state database is read-only for this account.",
            "Give the account that runs halo-integrator write access to it (and to "
            f"{path.name}-wal and {path.name}-shm beside it, when there).",
        ),
        (
            Path(f"{path}-shm"),
            "SQLite's shared-memory file is read-only for this account (left over from a run "
            "under another one).",
            "Delete it while no halo-integrator is running; SQLite makes a new one.",
        ),
        (
            Path(f"{path}-wal"),
            "the state database's log is read-only for this account.",
            give_access,
        ),
        (path.parent, "this account cannot create the state database's files here.", give_access),
    ):
        if blocked.exists() and not os.access(blocked, os.W_OK):
            return StateError(problem, path=str(blocked), hint=hint)
    return StateError(
        f"the state database cannot be used: {error}.",
        path=str(path),
        hint="Check the disk it is on (free space, errors) and the permissions of its folder.",
    )
