"""The local state DB: what the engine writes, shared by every process on one settings folder.

The tray, an AUTO run from Task Scheduler and the CLI all open the same ``state.db`` beside
``appsettings.json``, so whichever ran a module, the others see its result. It holds the run
history, each module's last sync / last error, checkpoints (delta tokens, high-water marks)
and the source-to-Halo id map with a fingerprint per record, which is how an unchanged record
costs no request on the next run. SQLite in WAL mode with a busy timeout lets several
processes read while one writes; every write is its own short transaction.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from core.errors import ConfigError
from core.private_files import create_private_file, private_folder, warn_if_open_to_others

STATE_FILE_NAME = "state.db"
BUSY_TIMEOUT_MILLISECONDS = 30_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    module TEXT NOT NULL,
    origin TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    outcome TEXT NOT NULL DEFAULT 'running',
    created INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL DEFAULT 0,
    unchanged INTEGER NOT NULL DEFAULT 0,
    deactivated INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    requests INTEGER NOT NULL DEFAULT 0,
    error TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_module ON runs (module, started_at);
CREATE TABLE IF NOT EXISTS module_status (
    module TEXT PRIMARY KEY,
    last_run_at REAL,
    last_outcome TEXT,
    last_success_at REAL,
    last_error TEXT,
    last_error_at REAL,
    consecutive_failures INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS checkpoints (
    module TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (module, name)
);
CREATE TABLE IF NOT EXISTS record_map (
    module TEXT NOT NULL,
    entity TEXT NOT NULL,
    source_key TEXT NOT NULL,
    halo_id INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    updated_at REAL NOT NULL,
    PRIMARY KEY (module, entity, source_key)
);
"""


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class RunCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    failed: int = 0
    requests: int = 0


class StateStore:
    """Opens ``state.db`` per operation, so it is safe from any thread or process."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / STATE_FILE_NAME
        try:
            private_folder(self.path.parent)
            warn_if_open_to_others(self.path.parent)
            with self._connect() as db:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ConfigError(
                f"The state database cannot be opened: {exc}.",
                path=str(self.path),
                hint="Move the file aside; the next run rebuilds it (and re-matches records).",
            ) from exc

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """One connection for one transaction; a file that cannot be used is a ConfigError."""
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
        with self._connect() as db:
            db.execute(
                "UPDATE runs SET outcome='interrupted' WHERE module=? AND outcome='running'",
                (module,),
            )
            cursor = db.execute(
                "INSERT INTO runs (module, origin, started_at) VALUES (?, ?, ?)",
                (module, origin, time.time()),
            )
            return int(cursor.lastrowid or 0)

    def finish_run(
        self, run_id: int, module: str, outcome: str, counts: RunCounts, error: str | None
    ) -> None:
        """Record a run's end and fold it into the module's status, in one transaction."""
        now = time.time()
        succeeded = outcome == "succeeded"
        with self._connect() as db:
            db.execute(
                "UPDATE runs SET finished_at=?, outcome=?, created=?, updated=?, unchanged=?, "
                "deactivated=?, failed=?, requests=?, error=? WHERE id=?",
                (
                    now,
                    outcome,
                    counts.created,
                    counts.updated,
                    counts.unchanged,
                    counts.deactivated,
                    counts.failed,
                    counts.requests,
                    error,
                    run_id,
                ),
            )
            db.execute(
                "INSERT INTO module_status (module) VALUES (?) ON CONFLICT(module) DO NOTHING",
                (module,),
            )
            if succeeded:
                db.execute(
                    "UPDATE module_status SET last_run_at=?, last_outcome=?, last_success_at=?, "
                    "last_error=NULL, consecutive_failures=0 WHERE module=?",
                    (now, outcome, now, module),
                )
            else:
                db.execute(
                    "UPDATE module_status SET last_run_at=?, last_outcome=?, last_error=?, "
                    "last_error_at=?, consecutive_failures=consecutive_failures+1 "
                    "WHERE module=?",
                    (now, outcome, error, now, module),
                )

    def status(self, module: str) -> ModuleStatus | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT module, last_run_at, last_outcome, last_success_at, last_error, "
                "last_error_at, consecutive_failures FROM module_status WHERE module=?",
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

    # -- the source-to-Halo record map ------------------------------------------------------

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


def unusable_state_error(path: Path, error: OSError | sqlite3.Error) -> ConfigError:
    """What an admin must do about a state DB SQLite cannot open or write, naming the file.

    SQLite says "readonly" whichever of the file, a leftover ``-shm``/``-wal`` (from a run
    under another account) or the folder is at fault, so the file system is asked which.
    """
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return ConfigError(
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
            return ConfigError(problem, path=str(blocked), hint=hint)
    return ConfigError(
        f"the state database cannot be used: {error}.",
        path=str(path),
        hint="Check the disk it is on (free space, errors) and the permissions of its folder.",
    )
