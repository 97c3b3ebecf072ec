"""What a run produces, in the words every front end reads: outcomes, counts, failures.

Outcomes are data, not message prefixes: the tray, the notifier, ``status`` and the exit code
all look at ``Outcome``, so a guard refusal or a run skipped as not due is never recognised
by the wording of its message.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """How one module's run ended; the value is what the state DB and ``status`` show."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUSED = "refused"  # a safety guard stopped a change (mass deactivation)
    SKIPPED = "skipped"  # another process holds the module's lock
    NOT_DUE = "not-due"  # AUTO --due: its interval has not passed yet
    DRY_RUN = "dry-run"
    INTERRUPTED = "interrupted"  # the process died during the run

    @property
    def ok(self) -> bool:
        """True for outcomes that need no admin: a scheduler's history stays green."""
        return self in (Outcome.SUCCEEDED, Outcome.DRY_RUN, Outcome.SKIPPED, Outcome.NOT_DUE)

    @property
    def counts_as_failure(self) -> bool:
        """Outcomes that turn a module red (and count toward back-off)."""
        return self in (Outcome.FAILED, Outcome.REFUSED)


@dataclass(frozen=True)
class RunCounts:
    """What a run did. Record syncs fill created..deactivated; queues fill ``processed``."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    processed: int = 0
    failed: int = 0
    requests: int = 0

    def __add__(self, other: RunCounts) -> RunCounts:
        return RunCounts(
            **{
                name.name: getattr(self, name.name) + getattr(other, name.name)
                for name in dataclasses.fields(self)
            }
        )

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class RecordFailure:
    """One record Halo (or the source) refused; the run goes on without it."""

    key: str
    label: str
    message: str


RECORDS, QUEUE = "records", "queue"


@dataclass
class EntityResult:
    """One part of a run: a record sync of one Halo entity, or one queue a module worked off.

    A module may produce several (sites, then the users that refer to them); each is
    counted, logged and reported to Halo under its own entity name.
    """

    entity: str
    kind: str = RECORDS  # RECORDS | QUEUE
    counts: RunCounts = field(default_factory=RunCounts)
    failures: list[RecordFailure] = field(default_factory=list)
    refusal: str | None = None  # why a guard stopped part of it; the run is then REFUSED
    # The source keys the guard kept from being deactivated: what "allow once" would do.
    withheld: list[str] = field(default_factory=list)
    plan: Any = None  # core.sync.plan.Plan for record syncs (a dry run prints it)


def total(results: list[EntityResult]) -> RunCounts:
    """The counts of every part of a run, added up."""
    counts = RunCounts()
    for result in results:
        counts = counts + result.counts
    return counts


def summary(counts: RunCounts, *, kinds: set[str] | None = None) -> str:
    """One line an admin reads in a terminal, a log or a tooltip.

    A queue (mail, scripts) is not a record set: its line says what was processed, without
    created/updated/unchanged counts that would mean nothing for it.
    """
    parts = []
    if kinds is None or RECORDS in kinds:
        parts += [
            f"{counts.created} created",
            f"{counts.updated} updated",
            f"{counts.unchanged} unchanged",
            f"{counts.deactivated} deactivated",
        ]
    if counts.processed or (kinds is not None and QUEUE in kinds):
        parts.append(f"{counts.processed} processed")
    parts += [f"{counts.failed} failed", f"{counts.requests} requests"]
    return ", ".join(parts)
