"""The state DB's schema, as numbered migrations run once (``PRAGMA user_version``).

A state DB outlives agent versions: an admin upgrades the package and the next run must find
its id maps, checkpoints and run history intact. Each migration moves a DB from version N-1 to
N inside one transaction; a DB newer than this code is refused rather than misread.
"""

from __future__ import annotations

import sqlite3

from core.errors import ConfigError

VERSION_1 = """
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

# Version 2: queue counts and per-entity details on runs, when each run started (AUTO --due),
# one owner per Halo record, and reported failures as rows instead of a JSON checkpoint.
VERSION_2 = """
ALTER TABLE runs ADD COLUMN processed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN details TEXT;
ALTER TABLE module_status ADD COLUMN last_started_at REAL;
UPDATE module_status SET last_started_at = (
    SELECT max(started_at) FROM runs WHERE runs.module = module_status.module
);
DELETE FROM record_map WHERE rowid NOT IN (
    SELECT min(rowid) FROM record_map GROUP BY entity, halo_id
);
CREATE UNIQUE INDEX record_owner ON record_map (entity, halo_id);
CREATE TABLE reported_failures (
    module TEXT NOT NULL,
    entity TEXT NOT NULL,
    source_key TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (module, entity, source_key, message)
);
DELETE FROM checkpoints WHERE name = 'reported_failures';
"""

# Version 3: the work ledger for queues (mail, queued scripts): one row per item, so an item
# is claimed, written, recorded and finished exactly once across crashes (core/state/ledger.py).
VERSION_3 = """
CREATE TABLE work_items (
    module TEXT NOT NULL,
    queue TEXT NOT NULL,
    item_key TEXT NOT NULL,
    dedupe_key TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    halo_id INTEGER,
    marker TEXT NOT NULL DEFAULT '',
    label TEXT NOT NULL DEFAULT '',
    last_error TEXT,
    claimed_at REAL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (module, queue, item_key)
);
CREATE INDEX work_items_by_dedupe ON work_items (module, queue, dedupe_key);
CREATE INDEX work_items_by_state ON work_items (module, queue, state);
"""

# Version 4: what a queue item's work produced, kept until Halo has it (a script's exit code
# and output), so a crash after the work and before the report re-sends the result instead
# of doing the work again.
VERSION_4 = """
ALTER TABLE work_items ADD COLUMN result TEXT;
"""

MIGRATIONS = (VERSION_1, VERSION_2, VERSION_3, VERSION_4)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: sqlite3.Connection, path: str) -> int:
    """Bring the DB to ``SCHEMA_VERSION``; returns the version it had. ConfigError if newer.

    Runs under ``BEGIN IMMEDIATE``, so two processes opening an old DB at once migrate it
    once: the second waits, then finds it current. A current DB (every open after the first,
    e.g. the tray's status poll) is only read: no write lock that a running sync would feel.
    """
    if int(db.execute("PRAGMA user_version").fetchone()[0]) == SCHEMA_VERSION:
        return SCHEMA_VERSION
    db.execute("BEGIN IMMEDIATE")
    try:
        found = int(db.execute("PRAGMA user_version").fetchone()[0])
        if found > SCHEMA_VERSION:
            raise ConfigError(
                f"The state database was written by a newer Halo Integrator (schema {found}, "
                f"this version knows {SCHEMA_VERSION}).",
                path=path,
                hint="Upgrade halo-integrator on this machine, or move the file aside.",
            )
        for version in range(found + 1, SCHEMA_VERSION + 1):
            for statement in _statements(MIGRATIONS[version - 1]):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {version}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return found


def _statements(script: str) -> list[str]:
    """The statements of a migration; ``executescript`` would commit on its own."""
    return [statement.strip() for statement in script.split(";") if statement.strip()]
