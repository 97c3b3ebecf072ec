"""``RunContext``: what a module may use during one run, and where its results are collected.

A module reads its source and hands records to ``sync_records`` (the shared engine: matching,
fingerprints, guard, batches, dry run), or works off a queue and tallies it with ``queue``.
Each call adds one ``EntityResult``, so a module that syncs sites and then users reports
both. Everything else (locks, logs, status in the state DB and in Halo) is the runner's job.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import IntegratorError
from core.outcomes import QUEUE, EntityResult, RecordFailure, RunCounts
from core.run.request import RunRequest
from core.settings.model import Interval
from core.state.ledger import WorkLedger
from core.state.store import StateStore
from core.sync.engine import RecordSync
from core.sync.plan import DeactivationGuard
from core.sync.records import HaloTarget, SourceRecord, marker_value

if TYPE_CHECKING:
    from core.halo.client import HaloClient  # its httpx is not needed to import this

ProgressCallback = Callable[[str, int, int], None]
FULL_RECONCILE_AT = "full_reconcile_at"


def _nothing() -> None:
    return None


@dataclass
class SourceContext:
    """What ``check()`` gets: enough to find and open the source, nothing that writes."""

    instance: str
    settings_folder: Path
    log: logging.Logger

    def resolve(self, path: str) -> Path:
        """Relative paths in options are relative to the settings folder, as admins expect."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self.settings_folder / candidate


@dataclass
class RunContext(SourceContext):
    """One run of one module instance (``instance`` keys its state, locks and logs)."""

    client: HaloClient = field(kw_only=True)
    state: StateStore = field(kw_only=True)
    # The settings file's Id of the instance: what marks its records in Halo.
    instance_id: str = field(default="", kw_only=True)
    request: RunRequest = field(default_factory=RunRequest, kw_only=True)
    progress: ProgressCallback = field(default=lambda phase, done, total: None, kw_only=True)
    # Called where stopping loses and repeats nothing; the tray's Quit parks a run there.
    safe_point: Callable[[], None] = field(default=_nothing, kw_only=True)
    results: list[EntityResult] = field(default_factory=list, kw_only=True)
    staged_checkpoints: dict[str, str] = field(default_factory=dict, kw_only=True)

    @property
    def dry_run(self) -> bool:
        return self.request.dry_run

    def checkpoint(self, name: str) -> str | None:
        """The value committed by the last run Halo accepted whole (a delta token, a USN)."""
        return self.state.checkpoint(self.instance, name)

    def stage_checkpoint(self, name: str, value: str) -> None:
        """Keep ``value`` for ``name`` if this run ends well.

        A delta source must not move its mark past records Halo has not taken: the runner
        commits staged checkpoints only after a run that succeeded with no record failures
        and no guard refusal, and never on a dry run. Otherwise the next run reads the same
        changes again (unchanged records cost nothing) and the refused record is retried.
        """
        self.staged_checkpoints[name] = value

    def commit_checkpoints(self) -> None:
        for name, value in self.staged_checkpoints.items():
            self.state.set_checkpoint(self.instance, name, value)
        self.staged_checkpoints.clear()

    def full_reconcile_due(self, every: Interval) -> bool:
        """Whether a delta source should read everything this run: asked for (``--full``),
        after a run that did not succeed, or ``every`` after the last full read."""
        if self.request.full or not self.previous_run_ok():
            return True
        last = self.checkpoint(FULL_RECONCILE_AT)
        return not (last and last.isdigit()) or time.time() - int(last) >= every.seconds_hint()

    def stage_full_reconcile(self) -> None:
        """Note a full read, to be kept with the run's other checkpoints."""
        self.stage_checkpoint(FULL_RECONCILE_AT, str(int(time.time())))

    def previous_run_ok(self) -> bool:
        """Whether the last finished run of this instance succeeded (False before the first).

        A delta source runs a full reconcile after a failed or refused run, so whatever
        that run left half-done is corrected from the whole source.
        """
        status = self.state.status(self.instance)
        return status is not None and status.last_outcome == "succeeded"

    def sync_records(
        self,
        target: HaloTarget,
        records: Iterable[SourceRecord],
        *,
        complete: bool = True,
        deactivate_missing: bool = True,
        max_deactivate_percent: float = 10.0,
        max_deactivate_count: int = 500,
        removed: Iterable[str] = (),
        present: Iterable[str] | None = None,
        reconcile: bool = False,
        create: bool = True,
        take_over_from: Iterable[str] = (),
    ) -> EntityResult:
        """Sync ``records`` into one Halo entity.

        ``complete`` says they are the whole source; a delta source passes
        ``complete=False`` with the keys that left in ``removed``, or every key still in
        scope in ``present``. ``reconcile`` compares
        with all of Halo's records of the entity instead of trusting the id map; with
        ``create=False`` a record Halo does not have fails instead of being created;
        ``take_over_from`` names instances whose records this one may take over. The result
        (also a partial one, when the engine stops on an error) is kept for the runner's
        summary, status and reports.
        """
        engine = RecordSync(
            client=self.client,
            state=self.state,
            module=self.instance,
            target=target,
            request=self.request,
            deactivate_missing=deactivate_missing,
            guard=DeactivationGuard(
                max_percent=max_deactivate_percent, max_count=max_deactivate_count
            ),
            progress=self.progress,
            safe_point=self.safe_point,
            reconcile=reconcile,
            marker=marker_value(self.instance_id or self.instance),
            create=create,
            take_over_from=take_over_from,
        )
        try:
            result = engine.run(records, complete=complete, removed=removed, present=present)
        except IntegratorError as exc:
            if isinstance(exc.partial, EntityResult):
                self.results.append(exc.partial)
            raise
        self.results.append(result)
        return result

    def ledger(self, queue: str) -> WorkLedger:
        """This instance's work ledger for ``queue`` ("mail", "script"): exactly-once steps."""
        return WorkLedger(self.state, self.instance, queue)

    def queue(self, entity: str) -> QueueTally:
        """A tally for a queue this run works off (mails, scripts): counted, not mirrored."""
        result = EntityResult(entity=entity, kind=QUEUE)
        self.results.append(result)
        return QueueTally(result)


@dataclass
class QueueTally:
    """Counts one queue's items as they are done; failures are reported like record ones."""

    result: EntityResult

    def done(self, count: int = 1) -> None:
        self._add(RunCounts(processed=count))

    def failed(self, key: str, label: str, message: str) -> None:
        self.result.failures.append(RecordFailure(key, label, message))
        self._add(RunCounts(failed=1))

    def _add(self, counts: RunCounts) -> None:
        self.result.counts = self.result.counts + counts
