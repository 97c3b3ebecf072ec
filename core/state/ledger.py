"""The work ledger: queue items (mails, queued scripts) handled exactly once, across crashes.

A record sync can always compare with Halo and converge; a queue cannot. A mail turned into
a ticket twice is a duplicate an end user sees; a script run twice resets a password twice.
So every item goes through recorded steps, each committed before the next starts::

    claim ─▶ (write to Halo) ─▶ written(halo id) ─▶ (move / report back) ─▶ done
       ├──▶ (do the work) ─▶ finished(result) ─▶ (report the result to Halo) ─▶ done
       └──▶ failed(reason) ... after max_attempts: given up, the module's error is raised

After a crash the ledger tells the module where the item stopped, and the module decides
what is safe: an item already ``written`` is only moved; an item ``claimed`` but never
written may or may not have reached Halo (the answer can be lost), so a mail is looked up
in Halo by the ``marker`` written with it before anything is sent again, and a script is
reported as "outcome unknown" instead of being run a second time; a script ``finished``
keeps its result here, so a crash before Halo took the report re-sends that result and
never runs the script again. A ``dedupe_key`` (a Message-ID) makes the same message
delivered twice one ticket.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from enum import StrEnum

from core.state.store import StateStore


class ItemState(StrEnum):
    CLAIMED = "claimed"  # work started; not known to have reached Halo
    WRITTEN = "written"  # Halo holds it (halo_id); the source side is not finished
    FINISHED = "finished"  # the local work ran; its result is kept until Halo has it
    DONE = "done"
    FAILED = "failed"  # given up after max_attempts; needs an admin


@dataclass(frozen=True)
class WorkItem:
    key: str
    state: ItemState
    attempts: int = 0
    halo_id: int | None = None
    marker: str = ""
    label: str = ""
    dedupe_key: str | None = None
    last_error: str | None = None
    result: str | None = None


@dataclass(frozen=True)
class Claim:
    """What ``claim`` found: the item now, and how the previous attempt ended.

    ``previous`` None is a new item. ``previous`` CLAIMED is an attempt that died between
    claim and ``written`` (or failed): look in Halo (by ``item.marker``) before writing
    again. WRITTEN and DONE mean Halo has it: finish the source side only. FINISHED means
    the local work ran and ``item.result`` holds what it produced: report that, never redo
    the work. FAILED was given up: it is not claimed again until an admin retries it.
    ``twin`` is another item with the same ``dedupe_key`` that Halo already has: treat
    this one as that one.
    """

    item: WorkItem
    previous: ItemState | None
    twin: WorkItem | None = None

    @property
    def interrupted(self) -> bool:
        return self.previous is ItemState.CLAIMED

    @property
    def given_up(self) -> bool:
        return self.previous is ItemState.FAILED

    @property
    def result_kept(self) -> bool:
        return self.previous is ItemState.FINISHED

    @property
    def in_halo(self) -> bool:
        return self.previous in (ItemState.WRITTEN, ItemState.DONE) or self.twin is not None


_COLUMNS = "item_key, state, attempts, halo_id, marker, label, dedupe_key, last_error, result"


class WorkLedger:
    """One queue of one module instance (``queue`` is e.g. "mail" or "script")."""

    def __init__(self, state: StateStore, module: str, queue: str) -> None:
        self.state = state
        self.module = module
        self.queue = queue

    def get(self, key: str) -> WorkItem | None:
        with self.state.transaction() as db:
            return self._row(db, key)

    def claim(
        self, key: str, *, marker: str, label: str = "", dedupe_key: str | None = None
    ) -> Claim:
        """Start (or resume) work on ``key``; one transaction, so two processes cannot both
        claim one item as new."""
        now = time.time()
        with self.state.transaction() as db:
            existing = self._row(db, key)
            twin = self._twin(db, key, dedupe_key) if dedupe_key else None
            if existing and existing.state is not ItemState.CLAIMED:
                return Claim(existing, existing.state, twin)
            previous = existing.state if existing else None
            db.execute(
                "INSERT INTO work_items (module, queue, item_key, dedupe_key, state, attempts, "
                "marker, label, claimed_at, updated_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?) "
                "ON CONFLICT(module, queue, item_key) DO UPDATE SET state=excluded.state, "
                "attempts=work_items.attempts + 1, claimed_at=excluded.claimed_at, "
                "updated_at=excluded.updated_at, "
                "dedupe_key=coalesce(excluded.dedupe_key, work_items.dedupe_key), "
                "marker=CASE WHEN work_items.marker = '' THEN excluded.marker "
                "ELSE work_items.marker END, label=excluded.label",
                (self.module, self.queue, key, dedupe_key, ItemState.CLAIMED.value, marker,
                 label, now, now),
            )  # fmt: skip
            item = self._row(db, key)
            assert item is not None  # just written in this transaction
            return Claim(item, previous, twin)

    def written(self, key: str, halo_id: int) -> None:
        """Halo holds the item: never write it again, whatever happens next."""
        self._set(key, ItemState.WRITTEN, halo_id=halo_id)

    def finished(self, key: str, result: str) -> None:
        """The work ran and produced ``result``: from now on only that result is reported.

        Committed before the report is sent, so the window in which a crash loses what the
        work did is the work itself, not the round trip to Halo.
        """
        with self.state.transaction() as db:
            db.execute(
                "UPDATE work_items SET state=?, result=?, updated_at=? "
                "WHERE module=? AND queue=? AND item_key=?",
                (ItemState.FINISHED.value, result, time.time(), self.module, self.queue, key),
            )

    def done(self, key: str) -> None:
        self._set(key, ItemState.DONE)

    def failed(self, key: str, error: str, *, max_attempts: int) -> WorkItem:
        """Record a failed attempt; at ``max_attempts`` the item is given up (FAILED).

        Below that it goes back to claimed-but-not-written, so the next attempt looks in
        Halo first. One transaction: read the attempts, write the state, read it back.
        """
        with self.state.transaction() as db:
            current = self._row(db, key)
            attempts = current.attempts if current else 1
            state = ItemState.FAILED if attempts >= max_attempts else ItemState.CLAIMED
            db.execute(
                "UPDATE work_items SET state=?, last_error=?, updated_at=? "
                "WHERE module=? AND queue=? AND item_key=?",
                (state.value, error, time.time(), self.module, self.queue, key),
            )
            item = self._row(db, key)
        assert item is not None
        return item

    def retry(self, key: str) -> None:
        """An admin's "try again": a given-up item starts over with its attempts reset."""
        with self.state.transaction() as db:
            db.execute(
                "UPDATE work_items SET state=?, attempts=0, updated_at=? "
                "WHERE module=? AND queue=? AND item_key=?",
                (ItemState.CLAIMED.value, time.time(), self.module, self.queue, key),
            )

    def in_state(self, state: ItemState) -> list[WorkItem]:
        with self.state.transaction() as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM work_items WHERE module=? AND queue=? AND state=? "  # noqa: S608
                "ORDER BY updated_at",
                (self.module, self.queue, state.value),
            ).fetchall()
        return [_item(row) for row in rows]

    def forget_done(self, older_than_seconds: float) -> int:
        """Drop finished items older than that; the source side no longer holds them."""
        cutoff = time.time() - older_than_seconds
        with self.state.transaction() as db:
            cursor = db.execute(
                "DELETE FROM work_items WHERE module=? AND queue=? AND state=? AND updated_at<?",
                (self.module, self.queue, ItemState.DONE.value, cutoff),
            )
            return cursor.rowcount

    # -- helpers ---------------------------------------------------------------------------

    def _set(
        self, key: str, state: ItemState, *, halo_id: int | None = None, error: str | None = None
    ) -> None:
        with self.state.transaction() as db:
            db.execute(
                "UPDATE work_items SET state=?, halo_id=coalesce(?, halo_id), "
                "last_error=coalesce(?, last_error), updated_at=? "
                "WHERE module=? AND queue=? AND item_key=?",
                (state.value, halo_id, error, time.time(), self.module, self.queue, key),
            )

    def _row(self, db: sqlite3.Connection, key: str) -> WorkItem | None:
        row = db.execute(
            f"SELECT {_COLUMNS} FROM work_items WHERE module=? AND queue=? AND item_key=?",  # noqa: S608
            (self.module, self.queue, key),
        ).fetchone()
        return _item(row) if row else None

    def _twin(self, db: sqlite3.Connection, key: str, dedupe_key: str) -> WorkItem | None:
        row = db.execute(
            f"SELECT {_COLUMNS} FROM work_items WHERE module=? AND queue=? AND dedupe_key=? "  # noqa: S608
            "AND item_key<>? AND state IN (?, ?) ORDER BY updated_at LIMIT 1",
            (self.module, self.queue, dedupe_key, key, ItemState.WRITTEN.value,
             ItemState.DONE.value),
        ).fetchone()  # fmt: skip
        return _item(row) if row else None


def _item(row: tuple[object, ...]) -> WorkItem:
    key, state, attempts, halo_id, marker, label, dedupe_key, last_error, result = row
    return WorkItem(
        key=str(key),
        state=ItemState(str(state)),
        attempts=int(attempts),  # type: ignore[call-overload]
        halo_id=int(halo_id) if halo_id is not None else None,  # type: ignore[call-overload]
        marker=str(marker),
        label=str(label),
        dedupe_key=str(dedupe_key) if dedupe_key is not None else None,
        last_error=str(last_error) if last_error is not None else None,
        result=str(result) if result is not None else None,
    )
