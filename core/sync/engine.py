"""``RecordSync``: applies a module's records to one Halo entity, batched and exactly once.

The order of a run: plan against the id map (no requests), look up unmapped records in Halo
(so a lost state DB or a first run against a populated Halo creates no duplicates), check the
deactivation guard, then POST arrays of ``batch_size`` records. After each batch the id map is
committed, so a run that dies half-way resumes where it stopped. A batch Halo refuses (400) is
split until the bad records are isolated; a create batch whose answer was lost is looked up in
Halo before it is sent again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from core.errors import GuardRefusedError, HaloError, HaloValidationError
from core.halo_client import HaloClient, unwrap_list
from core.state import MappedRecord, RunCounts, StateStore
from core.sync.plan import (
    DeactivationGuard,
    Plan,
    RecordFailure,
    adopt_existing,
    plan_against_map,
)
from core.sync.records import HaloTarget, SourceRecord

log = logging.getLogger("halo_integrator.sync")

# Above this many unmapped records one paged listing of the entity is cheaper than a search
# request per record.
FULL_LISTING_THRESHOLD = 20
LISTING_PAGE_SIZE = 1000

Progress = Callable[[str, int, int], None]


@dataclass
class SyncResult:
    counts: RunCounts
    entity: str = ""
    failures: list[RecordFailure] = field(default_factory=list)
    guard_error: GuardRefusedError | None = None
    plan: Plan | None = None


@dataclass
class _Tally:
    created: int = 0
    updated: int = 0
    deactivated: int = 0
    failures: list[RecordFailure] = field(default_factory=list)


class RecordSync:
    """Syncs records of one module into one Halo entity."""

    def __init__(
        self,
        *,
        client: HaloClient,
        state: StateStore,
        module: str,
        target: HaloTarget,
        dry_run: bool = False,
        deactivate_missing: bool = True,
        guard: DeactivationGuard | None = None,
        allow_mass_deactivation: bool = False,
        batch_size: int | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.client = client
        self.state = state
        self.module = module
        self.target = target
        self.dry_run = dry_run
        self.deactivate_missing = deactivate_missing
        self.guard = guard or DeactivationGuard()
        self.allow_mass_deactivation = allow_mass_deactivation
        self.batch_size = batch_size or client.connection.batch_size
        self.progress = progress or (lambda phase, done, total: None)
        self._tally = _Tally()

    def run(self, records: Iterable[SourceRecord], *, complete: bool = True) -> SyncResult:
        """Plan, guard and apply; ``complete`` says the records are the whole source."""
        mapped = self.state.mapped_records(self.module, self.target.entity)
        plan = plan_against_map(
            records, mapped, complete=complete, deactivate_missing=self.deactivate_missing
        )
        if plan.creates:
            adopt_existing(plan, self.target, self._find_in_halo(plan.creates))
        guard_error = self._check_guard(plan, mapped)
        if guard_error:
            plan.deactivations = []
        self._tally = _Tally(failures=list(plan.failures))
        if not self.dry_run:
            self._apply(plan)
        return SyncResult(
            counts=self._counts(plan),
            entity=self.target.entity,
            failures=self._tally.failures,
            guard_error=guard_error,
            plan=plan,
        )

    # -- planning helpers -------------------------------------------------------------------

    def _check_guard(self, plan: Plan, mapped: dict[str, MappedRecord]) -> GuardRefusedError | None:
        if not plan.deactivations or self.allow_mass_deactivation:
            return None
        active = sum(1 for entry in mapped.values() if entry.active)
        try:
            self.guard.check(len(plan.deactivations), active)
        except GuardRefusedError as exc:
            log.error("%s", exc)
            return exc
        return None

    def _find_in_halo(self, unmapped: list[SourceRecord]) -> dict[str, dict[str, Any]]:
        """Existing Halo records by match value, for the given unmapped records."""
        wanted = {self.target.match_value(record.fields) for record in unmapped} - {""}
        if not wanted:
            return {}
        if len(wanted) > FULL_LISTING_THRESHOLD:
            candidates: Iterable[dict[str, Any]] = self.client.iter_records(
                self.target.entity, {"includeinactive": "true"}, page_size=LISTING_PAGE_SIZE
            )
        else:
            candidates = (record for value in sorted(wanted) for record in self._search(value))
        found: dict[str, dict[str, Any]] = {}
        for record in candidates:
            value = self.target.match_value(record)
            if value in wanted:
                found.setdefault(value, record)
        return found

    def _search(self, value: str) -> list[dict[str, Any]]:
        body = self.client.get(
            self.target.entity, {"search": value, "includeinactive": "true", "count": 50}
        )
        return unwrap_list(body, self.target.entity)[0]

    # -- applying ---------------------------------------------------------------------------

    def _apply(self, plan: Plan) -> None:
        self._save(
            [MappedRecord(r.key, halo_id, r.fingerprint, True) for r, halo_id in plan.adopted]
        )
        self._in_batches("create", plan.creates, self._create_batch)
        self._in_batches("update", plan.updates, lambda batch: self._update_batch(batch, plan))
        self._in_batches("deactivate", plan.deactivations, self._deactivate_batch)

    def _in_batches(self, phase: str, items: list[Any], apply: Callable[[list[Any]], None]) -> None:
        for start in range(0, len(items), self.batch_size):
            apply(items[start : start + self.batch_size])
            self.progress(phase, min(start + self.batch_size, len(items)), len(items))

    def _create_batch(self, batch: list[SourceRecord], *, second_try: bool = False) -> None:
        try:
            saved = self.client.post_batch(self.target.entity, [r.fields for r in batch])
        except HaloValidationError as exc:
            self._split(batch, exc, self._create_batch)
            return
        except HaloError as exc:
            if not exc.maybe_applied or second_try:
                raise
            log.warning("A create batch may have reached Halo; looking before resending")
            batch = self._keep_unsaved(batch)
            if batch:
                self._create_batch(batch, second_try=True)
            return
        ids = self._ids_for(batch, saved)
        pairs = zip(batch, ids, strict=True)
        self._save([MappedRecord(r.key, i, r.fingerprint, True) for r, i in pairs])
        self._tally.created += len(batch)

    def _update_batch(self, batch: list[tuple[SourceRecord, int]], plan: Plan) -> None:
        bodies = []
        for record, halo_id in batch:
            extra = self.target.reactivate_fields if record.key in plan.reactivations else {}
            bodies.append({**record.fields, **extra, "id": halo_id})
        try:
            self.client.post_batch(self.target.entity, bodies)
        except HaloValidationError as exc:
            self._split(batch, exc, lambda part: self._update_batch(part, plan))
            return
        self._save([MappedRecord(r.key, i, r.fingerprint, True) for r, i in batch])
        self._tally.updated += len(batch)

    def _deactivate_batch(self, batch: list[MappedRecord]) -> None:
        bodies = [{"id": entry.halo_id, **self.target.deactivate_fields} for entry in batch]
        try:
            self.client.post_batch(self.target.entity, bodies)
        except HaloValidationError as exc:
            self._split(batch, exc, self._deactivate_batch)
            return
        self._save([MappedRecord(e.source_key, e.halo_id, e.fingerprint, False) for e in batch])
        self._tally.deactivated += len(batch)

    def _split(
        self, batch: list[Any], exc: HaloValidationError, retry: Callable[[list[Any]], None]
    ) -> None:
        """Halo refused a batch: halve it until the refused records stand alone."""
        if len(batch) == 1:
            key, label = _describe(batch[0])
            log.error("Halo refused %s: %s", label, exc.message)
            self._tally.failures.append(RecordFailure(key, label, exc.message))
            return
        middle = len(batch) // 2
        retry(batch[:middle])
        retry(batch[middle:])

    def _keep_unsaved(self, batch: list[SourceRecord]) -> list[SourceRecord]:
        """Map the records of a lost batch that Halo did save; return the others."""
        found = self._find_in_halo(batch)
        unsaved = []
        for record in batch:
            halo_record = found.get(self.target.match_value(record.fields))
            if halo_record and halo_record.get("id"):
                self._save(
                    [MappedRecord(record.key, int(halo_record["id"]), record.fingerprint, True)]
                )
                self._tally.created += 1
            else:
                unsaved.append(record)
        return unsaved

    def _ids_for(self, batch: list[SourceRecord], saved: list[dict[str, Any]]) -> list[int]:
        """Halo answers in the order it was sent; check that, and fall back to match values."""
        in_order = len(saved) == len(batch) and all(
            self.target.match_value(s) in ("", self.target.match_value(r.fields))
            for r, s in zip(batch, saved, strict=True)
        )
        if in_order:
            return [int(s["id"]) for s in saved]
        by_value = {self.target.match_value(s): int(s["id"]) for s in saved}
        return [by_value[self.target.match_value(r.fields)] for r in batch]

    def _save(self, entries: list[MappedRecord]) -> None:
        if entries:
            self.state.save_mappings(self.module, self.target.entity, entries)

    def _counts(self, plan: Plan) -> RunCounts:
        if self.dry_run:
            return RunCounts(
                created=len(plan.creates),
                updated=len(plan.updates),
                unchanged=plan.unchanged + len(plan.adopted),
                deactivated=len(plan.deactivations),
                failed=len(plan.failures),
            )
        return RunCounts(
            created=self._tally.created,
            updated=self._tally.updated,
            unchanged=plan.unchanged + len(plan.adopted),
            deactivated=self._tally.deactivated,
            failed=len(self._tally.failures),
        )


def _describe(item: Any) -> tuple[str, str]:
    if isinstance(item, tuple):
        item = item[0]
    if isinstance(item, SourceRecord):
        return item.key, item.name
    return item.source_key, item.source_key
