"""Changed-since marks for SQL sources, and row values in the shapes Halo takes.

An incremental run reads only rows whose changed-at column (Lansweeper's ``Lastchanged``)
is at or after the highest value the last accepted run saw. The mark is the database's own
value, never this machine's clock (the two may disagree by minutes), and the next run
reads from five minutes before it: a row committed late by a long transaction, with an
older timestamp, is still read. Re-reading a few rows costs nothing: their fingerprints
are unchanged, so nothing is sent.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

OVERLAP = dt.timedelta(minutes=5)


class ChangeMark:
    """The highest changed-at value among the rows read, kept as a checkpoint string."""

    def __init__(self) -> None:
        self.highest: dt.datetime | int | None = None

    def observe(self, value: Any) -> None:
        moment = _comparable(value)
        if moment is None:
            return
        try:
            later = self.highest is None or moment > self.highest  # type: ignore[operator]
        except TypeError:  # a naive and an aware time, or the column changed its type
            later = True
        if later:
            self.highest = moment

    def checkpoint(self, previous: str | None) -> str | None:
        """What to keep for the next run: the highest seen, or the previous mark unchanged."""
        if self.highest is None:
            return previous
        if isinstance(self.highest, dt.datetime):
            return self.highest.isoformat()
        return str(self.highest)


def read_from(checkpoint: str | None) -> dt.datetime | int | None:
    """Where an incremental run starts: the mark minus the overlap (None: read everything)."""
    if not checkpoint:
        return None
    if checkpoint.lstrip("-").isdigit():
        return int(checkpoint)
    try:
        return dt.datetime.fromisoformat(checkpoint) - OVERLAP
    except ValueError:
        return None  # an unreadable mark: a full read is always safe


def _comparable(value: Any) -> dt.datetime | int | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, bytes) and len(value) == 8:  # SQL Server rowversion
        return int.from_bytes(value, "big")
    if isinstance(value, str) and value.strip():
        try:
            return dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def halo_value(value: Any) -> Any:
    """A database value as JSON Halo reads: text trimmed, dates as ISO text, exact numbers."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value
