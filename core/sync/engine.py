"""``RecordSync``: applies a module's records to one Halo entity, batched and exactly once.

The order of a run: plan against the id map (no requests), look up unmapped records in Halo
(so a lost state DB or a first run against a populated Halo creates no duplicates), check the
deactivation guard, then POST arrays of ``batch_size`` records. After each batch the id map is
committed, so a run that dies half-way resumes where it stopped. A batch Halo refuses (400) is
split until the bad records are isolated; a create batch whose answer was lost is looked up in
Halo before it is sent again.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.errors import (
    GuardRefusedError,
    HaloError,
    HaloNotFoundError,
    HaloValidationError,
    IntegratorError,
)
from core.outcomes import RECORDS, EntityResult, RecordFailure, RunCounts
from core.run.request import RunRequest
from core.state.store import MappedRecord, StateStore
from core.sync.plan import (
    DeactivationGuard,
    HaloIndex,
    Plan,
    adopt_existing,
    adopt_orphans,
    correct_hand_edits,
    plan_against_map,
)
from core.sync.records import HaloTarget, Ref, SourceRecord, marker_value, normalise

if TYPE_CHECKING:
    from core.halo.client import HaloClient  # its httpx is not needed to import this

log = logging.getLogger("halo_integrator.sync")

# How often a sync compares with every Halo record of its entity even when the id map knows
# everything: that is what finds records another agent made for the same source, and the
# records of this instance someone re-activated or edited by hand.
RECONCILE_EVERY_SECONDS = 24 * 3600

# Above this many unmapped records one paged listing of the entity is cheaper than a search
# request per record.
FULL_LISTING_THRESHOLD = 20
LISTING_PAGE_SIZE = 1000
SEARCH_PAGE_SIZE = 100

Progress = Callable[[str, int, int], None]
SafePoint = Callable[[], None]
# Answers that refuse particular records of a batch rather than the whole run.
REFUSALS = (HaloValidationError, HaloNotFoundError)


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
        request: RunRequest | None = None,
        deactivate_missing: bool = True,
        guard: DeactivationGuard | None = None,
        batch_size: int | None = None,
        progress: Progress | None = None,
        safe_point: SafePoint | None = None,
        reconcile: bool = False,
        marker: str = "",
        create: bool = True,
        take_over_from: Iterable[str] = (),
    ) -> None:
        self.client = client
        self.state = state
        self.module = module
        self.target = target
        request = request or RunRequest()
        self.dry_run = request.dry_run
        self.allow_mass_deactivation = request.allow_mass_deactivation
        self.deactivate_missing = deactivate_missing
        self.guard = guard or DeactivationGuard()
        self.batch_size = batch_size or client.connection.batch_size
        self.progress = progress or (lambda phase, done, total: None)
        self.safe_point = safe_point or (lambda: None)
        # A reconcile compares with everything Halo holds, not only with the id map.
        self.reconcile = reconcile
        # False: only existing Halo records are used (sites without create_sites).
        self.create = create
        # Instances whose records this one may take over (Entra ID after AD, hybrid users).
        self.take_over_from = frozenset(take_over_from)
        # What marks this instance's records in Halo (see HaloTarget.marker_field).
        self.marker = marker or marker_value(module)
        self._tally = _Tally()
        self._withheld: list[str] = []
        self._ref_ids: dict[str, dict[str, int]] = {}

    def run(
        self,
        records: Iterable[SourceRecord],
        *,
        complete: bool = True,
        removed: Iterable[str] = (),
        present: Iterable[str] | None = None,
    ) -> EntityResult:
        """Plan, guard and apply.

        ``complete`` says the records are the whole source (what is missing has left);
        a delta source passes ``complete=False`` and either names the keys that left in
        ``removed`` (Graph's ``@removed``) or lists every key still in scope in
        ``present`` (a cheap ids-only listing of a directory), and what the id map holds
        beyond that has left.
        """
        mapped = self.state.mapped_records(self.module, self.target.entity)
        if present is not None:
            still_there = set(present)
            removed = [*removed, *(key for key in mapped if key not in still_there)]
        plan = plan_against_map(
            self._prepared(records),
            mapped,
            complete=complete,
            deactivate_missing=self.deactivate_missing,
            removed=removed,
            keep_unchanged=self.reconcile,
        )
        if present is not None:
            plan.present_count = len(still_there)
        # Without an id map (first run, lost state DB) the whole entity is read, so that the
        # records this instance made and whose source item is gone are found and retired.
        find_orphans = bool(complete and self.deactivate_missing and self.target.marker_field)
        list_all = (find_orphans and self._listing_due(mapped)) or self.reconcile
        if plan.creates or list_all:
            index = self._halo_index(plan.creates, list_all=list_all)
            adopt_existing(plan, self.target, index)
            if self.reconcile and index.complete:
                correct_hand_edits(plan, index)
            if find_orphans and index.complete:
                adopt_orphans(plan, self.target, index, self.marker, mapped)
                if not self.dry_run:
                    self._checkpoint("listed", str(int(time.time())))
        self._leave_records_of_other_modules(plan)
        if not self.create:
            for record in plan.creates:
                message = f"not in Halo, and this module does not create {self.target.entity}"
                plan.failures.append(RecordFailure(record.key, record.name, message))
            plan.creates = []
        guard_error = self._check_guard(plan, mapped)
        if guard_error:
            self._withheld = [entry.source_key for entry in plan.deactivations]
            plan.deactivations = []
        self._tally = _Tally(failures=list(plan.failures))
        if not self.dry_run:
            try:
                self._apply(plan)
            except IntegratorError as exc:
                # What was applied before the failure is committed; let the runner report it.
                exc.partial = self._result(plan, guard_error)
                raise
        return self._result(plan, guard_error)

    def _result(self, plan: Plan, guard_error: GuardRefusedError | None) -> EntityResult:
        return EntityResult(
            entity=self.target.entity,
            kind=RECORDS,
            counts=self._counts(plan),
            failures=self._tally.failures,
            refusal=str(guard_error) if guard_error else None,
            withheld=self._withheld if guard_error else [],
            plan=plan,
        )

    def _leave_records_of_other_modules(self, plan: Plan) -> None:
        """A Halo record belongs to one module instance: another one that matches it reports
        a failure naming the owner, instead of both overwriting each other every run.

        The same module holding it under another source key means the key changed (a new
        employee number, the same e-mail): the record moves to the new key instead of being
        deactivated under the old one.
        """
        candidates: dict[int, str] = {}
        for pairs in (plan.adopted, plan.updates):
            for record, halo_id in list(pairs):
                if halo_id in candidates:
                    message = f"matches the same Halo record {halo_id} as {candidates[halo_id]}"
                    plan.failures.append(RecordFailure(record.key, record.name, message))
                    pairs.remove((record, halo_id))
                else:
                    candidates[halo_id] = record.key
        owners = self.state.owners(self.target.entity, list(candidates))
        leaving = {entry.source_key for entry in plan.deactivations}
        refused: set[int] = set()
        for halo_id, (module, source_key) in owners.items():
            if source_key == candidates[halo_id] and module == self.module:
                continue
            if module == self.module and source_key in leaving:
                plan.rekeyed.append(source_key)
                plan.deactivations = [e for e in plan.deactivations if e.source_key != source_key]
            elif module in self.take_over_from:
                plan.taken_over.append((module, source_key))
            else:
                refused.add(halo_id)
        for pairs in (plan.adopted, plan.updates):
            for record, halo_id in [pair for pair in pairs if pair[1] in refused]:
                module = owners[halo_id][0]
                message = (
                    f"Halo {self.target.entity} record {halo_id} belongs to the module "
                    f"{module}; not changed by this one"
                )
                plan.failures.append(RecordFailure(record.key, record.name, message))
            pairs[:] = [pair for pair in pairs if pair[1] not in refused]

    # -- planning helpers -------------------------------------------------------------------

    def _listing_due(self, mapped: dict[str, MappedRecord]) -> bool:
        if self.reconcile or not mapped:
            return True
        listed = self.state.checkpoint(self.module, f"listed:{self.target.entity}")
        last = int(listed) if listed and listed.isdigit() else 0
        return time.time() - last > RECONCILE_EVERY_SECONDS

    def _checkpoint(self, name: str, value: str) -> None:
        self.state.set_checkpoint(self.module, f"{name}:{self.target.entity}", value)

    def _prepared(self, records: Iterable[SourceRecord]) -> Iterator[SourceRecord]:
        """Records as they are sent: references resolved, this instance's marker added."""
        marker_field = self.target.marker_field
        for record in records:
            fields, problem = self._resolved(record.fields)
            if marker_field:
                fields = {**fields, marker_field: self.marker}
            if fields is not record.fields or problem:
                record = dataclasses.replace(
                    record, fields=fields, problem=record.problem or problem
                )
            yield record

    def _resolved(self, fields: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """``fields`` with each ``Ref`` replaced by the Halo id the id map holds for it."""
        refs = {name: value for name, value in fields.items() if isinstance(value, Ref)}
        if not refs:
            return fields, ""
        resolved = dict(fields)
        for name, ref in refs.items():
            if ref.entity not in self._ref_ids:
                mapped = self.state.mapped_records(self.module, ref.entity)
                self._ref_ids[ref.entity] = {key: entry.halo_id for key, entry in mapped.items()}
            halo_id = self._ref_ids[ref.entity].get(ref.key)
            if halo_id is not None:
                resolved[name] = halo_id
            elif self.dry_run:
                resolved[name] = str(ref)
            else:
                return fields, (
                    f"its {ref.entity} {ref.key!r} is not in Halo (it could not be created); "
                    "retried next run"
                )
        return resolved, ""

    def _check_guard(self, plan: Plan, mapped: dict[str, MappedRecord]) -> GuardRefusedError | None:
        if not plan.deactivations or self.allow_mass_deactivation:
            return None
        active = sum(1 for entry in mapped.values() if entry.active) + plan.found_active
        try:
            source_count = plan.source_count if plan.complete else plan.present_count
            self.guard.check(len(plan.deactivations), active, source_count=source_count)
        except GuardRefusedError as exc:
            log.error("%s", exc)
            return exc
        return None

    def _halo_index(self, unmapped: list[SourceRecord], *, list_all: bool) -> HaloIndex:
        """Halo's records for the given unmapped records, by match key.

        A handful of records are searched one by one where Halo's ``search`` covers a match
        field; more than that (or a target it cannot search) costs one paged listing, which
        is cheaper than a search per record and is also what finds orphans.
        """
        searchable = [
            (position, names[0])
            for position, names in enumerate(self.target.match_keys)
            if len(names) == 1 and names[0] in self.target.searchable
        ]
        if list_all or len(unmapped) > FULL_LISTING_THRESHOLD or not searchable:
            listing = self.client.iter_records(
                self.target.entity, {"includeinactive": "true"}, page_size=LISTING_PAGE_SIZE
            )
            index = HaloIndex(self.target, listing)
            index.complete = True
            return index
        index = HaloIndex(self.target, [])
        seen_ids: set[int] = set()
        searched: set[str] = set()
        for record in unmapped:
            values = self.target.match_values(record.fields)
            for position, name in searchable:
                value = values[position]
                if not value or value in searched:
                    continue
                searched.add(value)
                for match in self._search(name, value):
                    if int(match["id"]) not in seen_ids:
                        seen_ids.add(int(match["id"]))
                        index.add(match)
        return index

    def _search(self, name: str, value: str) -> list[dict[str, Any]]:
        """The Halo records whose field ``name`` equals ``value``.

        Halo's ``search`` is a substring match over several fields ("PC-1" also finds
        PC-100..PC-199), so every page of results is read and only exact matches kept: two
        exact matches are a duplicate to report, not a choice to make.
        """
        results = self.client.iter_records(
            self.target.entity,
            {"search": value, "includeinactive": "true"},
            page_size=SEARCH_PAGE_SIZE,
        )
        return [r for r in results if r.get("id") and normalise(r.get(name)) == value]

    # -- applying ---------------------------------------------------------------------------

    def _apply(self, plan: Plan) -> None:
        if plan.rekeyed:
            self.state.forget_mappings(self.module, self.target.entity, plan.rekeyed)
        for module, source_key in plan.taken_over:
            log.info("Taking over %s from %s", source_key, module)
            self.state.forget_mappings(module, self.target.entity, [source_key])
        self._save(
            [MappedRecord(r.key, halo_id, r.fingerprint, True) for r, halo_id in plan.adopted]
            + plan.orphans
        )
        if plan.creates and self.target.marker_field:
            # Another agent may be creating the same records right now: the next run
            # compares with all of Halo, which is where such twins show up.
            self._checkpoint("listed", "0")
        self._in_batches("create", plan.creates, self._create_batch)
        self._in_batches("update", plan.updates, lambda batch: self._update_batch(batch, plan))
        self._in_batches("deactivate", plan.deactivations, self._deactivate_batch)

    def _in_batches(self, phase: str, items: list[Any], apply: Callable[[list[Any]], None]) -> None:
        for start in range(0, len(items), self.batch_size):
            apply(items[start : start + self.batch_size])
            # The batch and its id map are committed: a stop here loses and repeats nothing.
            self.progress(phase, min(start + self.batch_size, len(items)), len(items))
            self.safe_point()

    def _create_batch(self, batch: list[SourceRecord], *, second_try: bool = False) -> None:
        try:
            saved = self.client.post_batch(self.target.entity, [r.fields for r in batch])
        except HaloValidationError as exc:
            self._split(batch, exc, self._create_batch, self._create_refused)
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
        # Counted before the id map is saved: the batch is in Halo even if the save fails.
        self._tally.created += len(batch)
        self._save([MappedRecord(r.key, i, r.fingerprint, True) for r, i in pairs])

    def _update_batch(self, batch: list[tuple[SourceRecord, int]], plan: Plan) -> None:
        bodies = []
        for record, halo_id in batch:
            extra = self.target.reactivate_fields if record.key in plan.reactivations else {}
            bodies.append({**record.fields, **extra, "id": halo_id})
        try:
            self.client.post_batch(self.target.entity, bodies)
        except REFUSALS as exc:
            retry = functools.partial(self._update_batch, plan=plan)
            self._split(batch, exc, retry, self._update_refused)
            return
        self._tally.updated += len(batch)
        self._save([MappedRecord(r.key, i, r.fingerprint, True) for r, i in batch])

    def _deactivate_batch(self, batch: list[MappedRecord]) -> None:
        bodies = [{"id": entry.halo_id, **self.target.deactivate_fields} for entry in batch]
        try:
            self.client.post_batch(self.target.entity, bodies)
        except REFUSALS as exc:
            self._split(batch, exc, self._deactivate_batch, self._deactivate_refused)
            return
        self._tally.deactivated += len(batch)
        self._save([MappedRecord(e.source_key, e.halo_id, e.fingerprint, False) for e in batch])

    def _split(
        self,
        batch: list[Any],
        exc: HaloError,
        retry: Callable[[list[Any]], None],
        refused: Callable[[Any, HaloError], None],
    ) -> None:
        """Halo refused a batch (400, or 404 for an id): halve it until the culprits stand alone."""
        if len(batch) == 1:
            refused(batch[0], exc)
            return
        middle = len(batch) // 2
        retry(batch[:middle])
        retry(batch[middle:])

    def _create_refused(self, record: SourceRecord, exc: HaloError) -> None:
        self._fail(record.key, record.name, exc.message)

    def _update_refused(self, item: tuple[SourceRecord, int], exc: HaloError) -> None:
        record, halo_id = item
        message = exc.message
        if isinstance(exc, HaloNotFoundError):
            # Deleted in Halo by someone: forget the mapping, so the next run re-creates it.
            self.state.forget_mappings(self.module, self.target.entity, [record.key])
            message = f"Halo record {halo_id} no longer exists; it is created again next run"
        self._fail(record.key, record.name, message)

    def _deactivate_refused(self, entry: MappedRecord, exc: HaloError) -> None:
        if isinstance(exc, HaloNotFoundError):
            # Already gone from Halo: there is nothing left to deactivate.
            self.state.forget_mappings(self.module, self.target.entity, [entry.source_key])
            log.info("%s was already deleted in Halo", entry.source_key)
            return
        self._fail(entry.source_key, entry.source_key, exc.message)

    def _fail(self, key: str, label: str, message: str) -> None:
        log.error("Halo refused %s: %s", label, message)
        self._tally.failures.append(RecordFailure(key, label, message))

    def _keep_unsaved(self, batch: list[SourceRecord]) -> list[SourceRecord]:
        """Map the records of a lost batch that Halo did save; return those it did not.

        A record without a match value cannot be looked up, so it is not sent again: a
        failure now is better than a duplicate in Halo.
        """
        index = self._halo_index(batch, list_all=False)
        unsaved = []
        for record in batch:
            value = self.target.match_value(record.fields)
            halo_record, problem = index.find(record.fields)
            if problem:
                self._fail(record.key, record.name, problem)
            elif not value:
                self._fail(
                    record.key,
                    record.name,
                    "Halo may have saved it, but it has no "
                    f"{self.target.match_field} to check that by; not sent again",
                )
            elif halo_record and halo_record.get("id"):
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
