"""SQLite persistence: one generic table of JSON records keyed by (entity, id).

Halo objects have hundreds of fields and clients round-trip fields we never heard of, so a
record is stored as its whole JSON document rather than in typed columns. The store is
used only from the server's event-loop thread; every POST is written in one transaction,
so a request never leaves half of its array saved.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

Record = dict[str, Any]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    entity TEXT NOT NULL,
    id INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (entity, id)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Store:
    """A thin JSON-document layer over one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        # check_same_thread=False only so that `close()` may run from the stopping thread;
        # all queries happen on the event-loop thread.
        self._connection = sqlite3.connect(self.path, check_same_thread=False)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=NORMAL")
        self._connection.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database file."""
        self._connection.close()

    def is_seeded(self) -> bool:
        """True once the fresh-instance baseline has been written."""
        row = self._connection.execute("SELECT value FROM meta WHERE key = 'seeded'").fetchone()
        return row is not None

    def seed(self, baseline: dict[str, list[Record]]) -> None:
        """Write the baseline records and mark the database as seeded, in one transaction."""
        with self._connection:
            for entity, records in baseline.items():
                self._write(entity, records)
            self._connection.execute("INSERT OR REPLACE INTO meta VALUES ('seeded', '1')")

    def all(self, entity: str) -> list[Record]:
        """Every record of an entity, in id order."""
        rows = self._connection.execute(
            "SELECT data FROM records WHERE entity = ? ORDER BY id", (entity,)
        )
        return [json.loads(data) for (data,) in rows]

    def get(self, entity: str, record_id: int) -> Record | None:
        """One record, or None when the id is unknown."""
        row = self._connection.execute(
            "SELECT data FROM records WHERE entity = ? AND id = ?", (entity, record_id)
        ).fetchone()
        return None if row is None else json.loads(row[0])

    def next_id(self, entity: str) -> int:
        """Halo's ids are sequential and, like identity columns, never handed out twice:
        one above the highest id the entity ever had, deleted records included."""
        row = self._connection.execute(
            "SELECT MAX(id) FROM records WHERE entity = ?", (entity,)
        ).fetchone()
        return max(row[0] or 0, self._high_water(entity)) + 1

    def _high_water(self, entity: str) -> int:
        row = self._connection.execute(
            "SELECT value FROM meta WHERE key = ?", (f"last_id:{entity}",)
        ).fetchone()
        return int(row[0]) if row else 0

    def save(self, entity: str, records: Iterable[Record]) -> None:
        """Insert or replace records (each must carry its `id`) in one transaction."""
        with self._connection:
            self._write(entity, records)

    def save_many(self, writes: dict[str, list[Record]]) -> None:
        """Records of several entities (a queue result and the ticket it moves) in one
        transaction."""
        with self._connection:
            for entity, records in writes.items():
                self._write(entity, records)

    def delete(self, entity: str, record_id: int) -> bool:
        """Delete one record; False when there was nothing to delete."""
        with self._connection:
            cursor = self._connection.execute(
                "DELETE FROM records WHERE entity = ? AND id = ?", (entity, record_id)
            )
        return cursor.rowcount > 0

    def counts(self) -> dict[str, int]:
        """Number of records per entity, for the admin stats."""
        rows = self._connection.execute(
            "SELECT entity, COUNT(*) FROM records GROUP BY entity ORDER BY entity"
        )
        return dict(rows.fetchall())

    def _write(self, entity: str, records: Iterable[Record]) -> None:
        # Strict JSON in UTF-8: NaN, Infinity or a lone surrogate fail here rather than being
        # stored and served back to every later client.
        rows = [
            (entity, int(record["id"]), json.dumps(record, ensure_ascii=False, allow_nan=False))
            for record in records
        ]
        self._connection.executemany(
            "INSERT OR REPLACE INTO records (entity, id, data) VALUES (?, ?, ?)", rows
        )
        if rows:
            highest = max(self._high_water(entity), max(row[1] for row in rows))
            self._connection.execute(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"last_id:{entity}", str(highest))
            )
