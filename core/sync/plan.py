"""Planning a sync: compare the source with the id map and with Halo, decide what to send.

The plan is pure data, so a dry run is the plan printed, the guard is a check on the plan,
and applying it is one loop per kind of change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from core.errors import GuardRefusedError
from core.outcomes import RecordFailure
from core.state.store import MappedRecord
from core.sync.records import MARKER_PREFIX, HaloTarget, SourceRecord, normalise

__all__ = [
    "DeactivationGuard",
    "HaloIndex",
    "Plan",
    "RecordFailure",
    "adopt_existing",
    "adopt_orphans",
    "correct_hand_edits",
    "plan_against_map",
]


@dataclass
class Plan:
    creates: list[SourceRecord] = field(default_factory=list)
    updates: list[tuple[SourceRecord, int]] = field(default_factory=list)
    reactivations: set[str] = field(default_factory=set)
    adopted: list[tuple[SourceRecord, int]] = field(default_factory=list)
    unchanged: int = 0
    deactivations: list[MappedRecord] = field(default_factory=list)
    failures: list[RecordFailure] = field(default_factory=list)
    source_count: int = 0
    # False for a delta listing: an empty one then means "nothing changed", not "all left".
    complete: bool = True
    # How many keys a delta source's ids-only listing named (None: it gave none).
    present_count: int | None = None
    # Source keys whose Halo record now belongs to another key of the same module.
    rekeyed: list[str] = field(default_factory=list)
    # (module, source key) of records this module takes over from another instance.
    taken_over: list[tuple[str, str]] = field(default_factory=list)
    # Active Halo records of this instance the id map did not know (a lost state DB): the
    # guard counts them as the set the deactivations are a share of.
    found_active: int = 0
    # Those of them no source record claims: kept in the id map even when the guard refuses
    # their deactivation, so the next run still knows them.
    orphans: list[MappedRecord] = field(default_factory=list)
    # Every key the source named (with its label), and Halo ids two records claimed: never
    # retired as orphans.
    source_keys: dict[str, str] = field(default_factory=dict)
    contested: set[int] = field(default_factory=set)
    # With keep_unchanged (a reconcile): the records the id map calls unchanged, to compare
    # with what Halo holds now (someone may have edited them by hand).
    kept: list[tuple[SourceRecord, int]] = field(default_factory=list)


def plan_against_map(
    records: Iterable[SourceRecord],
    mapped: dict[str, MappedRecord],
    *,
    complete: bool,
    deactivate_missing: bool,
    removed: Iterable[str] = (),
    keep_unchanged: bool = False,
) -> Plan:
    """First pass, no requests: what the id map and the fingerprints already decide.

    Unmapped records land in ``creates`` for now; ``adopt_existing`` then moves those that
    already exist in Halo. A partial source listing (``complete=False``, e.g. a delta query)
    deactivates only the keys it names as ``removed``.
    """
    plan = Plan(complete=complete)
    seen = plan.source_keys
    for record in records:
        plan.source_count += 1
        if not record.key:
            plan.failures.append(RecordFailure("", record.name, "no key value; skipped"))
            continue
        if record.problem:
            plan.failures.append(RecordFailure(record.key, record.name, record.problem))
            # Known but unusable now (a cut line): keep its Halo record, do not retire it.
            seen[record.key] = record.name
            continue
        if record.key in seen:
            message = f"duplicate key {record.key!r} (also {seen[record.key]}); skipped"
            plan.failures.append(RecordFailure(record.key, record.name, message))
            continue
        seen[record.key] = record.name
        known = mapped.get(record.key)
        if known is None:
            plan.creates.append(record)
        elif known.fingerprint == record.fingerprint and known.active:
            plan.unchanged += 1
            if keep_unchanged:
                plan.kept.append((record, known.halo_id))
        else:
            plan.updates.append((record, known.halo_id))
            if not known.active and not record.fields.get("inactive"):
                plan.reactivations.add(record.key)
    if not deactivate_missing:
        return plan
    if complete:
        gone = [entry for key, entry in mapped.items() if key not in seen]
    else:
        gone = [mapped[key] for key in dict.fromkeys(removed) if key in mapped and key not in seen]
    plan.deactivations = [entry for entry in gone if entry.active]
    return plan


class HaloIndex:
    """Halo records by each of a target's match keys, to find a source record's twin.

    Two Halo records with one key value are reported, never resolved by picking one: that
    is how a duplicate made by a second agent (or by hand) becomes visible.
    """

    def __init__(self, target: HaloTarget, halo_records: Iterable[dict[str, Any]]) -> None:
        self.target = target
        # True when built from a listing of the whole entity, not from searches.
        self.complete = False
        self.records: list[dict[str, Any]] = []
        self._by_key: list[dict[str, list[dict[str, Any]]]] = [{} for _ in target.match_keys]
        for record in halo_records:
            self.add(record)

    def add(self, record: dict[str, Any]) -> None:
        if not record.get("id"):
            return
        self.records.append(record)
        for index, value in enumerate(self.target.match_values(record)):
            if value:
                self._by_key[index].setdefault(value, []).append(record)

    def find(self, fields: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
        """The Halo record for these fields, or a message saying why there is no single one."""
        found, problem, _ = self.find_all(fields)
        return found, problem

    def find_all(self, fields: dict[str, Any]) -> tuple[dict[str, Any] | None, str, list[int]]:
        """``find`` plus the ids of the records that share the key when there are several."""
        for index, value in enumerate(self.target.match_values(fields)):
            found = self._by_key[index].get(value, []) if value else []
            ids = sorted({int(record["id"]) for record in found})
            if len(ids) == 1:
                return found[0], "", ids
            if len(ids) > 1:
                names = " + ".join(self.target.match_keys[index])
                shown = ", ".join(map(str, ids))
                message = (
                    f"{len(ids)} Halo {self.target.entity} records (ids {shown}) have the "
                    f"same {names}; not changed until one of them is merged or removed in Halo"
                )
                return None, message, ids
        return None, "", []


def adopt_existing(plan: Plan, target: HaloTarget, index: HaloIndex) -> None:
    """Second pass: records Halo already has (same match value) are updated, not created.

    Two new records of one run with the same match value (two rows keyed by login that
    share an e-mail address) would become two Halo records that the next lookup cannot
    tell apart: the second fails instead, naming the first.
    """
    still_new: list[SourceRecord] = []
    claimed_values: dict[tuple[int, str], str] = {}
    for record in plan.creates:
        keyed = [(i, v) for i, v in enumerate(target.match_values(record.fields)) if v]
        twin = next(
            ((i, claimed_values[(i, v)]) for i, v in keyed if (i, v) in claimed_values), None
        )
        if twin is not None:
            names = " + ".join(target.match_keys[twin[0]])
            message = f"has the same {names} as {twin[1]}; not created twice"
            plan.failures.append(RecordFailure(record.key, record.name, message))
            continue
        claimed_values.update((item, record.name) for item in keyed)
        halo_record, problem, ids = index.find_all(record.fields)
        if problem:
            plan.failures.append(RecordFailure(record.key, record.name, problem))
            plan.contested.update(ids)
        elif halo_record is None:
            still_new.append(record)
        elif same_values(record.fields, halo_record) and not _reactivate(record, halo_record):
            plan.adopted.append((record, int(halo_record["id"])))
        else:
            plan.updates.append((record, int(halo_record["id"])))
            if _reactivate(record, halo_record):
                plan.reactivations.add(record.key)
    plan.creates = still_new


def correct_hand_edits(plan: Plan, index: HaloIndex) -> None:
    """A reconcile: unchanged records whose Halo copy differs (edited by hand in Halo, or
    deactivated there) are sent again, so the source stays the truth."""
    by_id = {int(record["id"]): record for record in index.records}
    for record, halo_id in plan.kept:
        halo_record = by_id.get(halo_id)
        if halo_record is None:
            continue  # deleted in Halo: the update path finds out and re-creates it
        if same_values(record.fields, halo_record) and not _reactivate(record, halo_record):
            continue
        plan.unchanged -= 1
        plan.updates.append((record, halo_id))
        if _reactivate(record, halo_record):
            plan.reactivations.add(record.key)
    plan.kept = []


def adopt_orphans(
    plan: Plan,
    target: HaloTarget,
    index: HaloIndex,
    marker: str,
    mapped: dict[str, MappedRecord],
) -> None:
    """Active Halo records marked as this instance's that neither the id map nor any source
    record claims: retire them. Twins of our records made by another agent: report them.

    Without the id map (a lost state DB) the unclaimed records are the leavers: they are
    deactivated like any vanished record, and counted in the set the guard measures the
    change against. A record with the key of one of ours but made by another agent (a
    second settings folder or jump box on the same source) is a duplicate nobody would
    otherwise notice.
    """
    if not target.marker_field:
        return
    mapped_ids = {entry.halo_id for entry in mapped.values()}
    key_owner = {key: entry.halo_id for key, entry in mapped.items()}
    key_owner.update((record.key, halo_id) for record, halo_id in plan.adopted + plan.updates)
    for record in index.records:
        made_by = normalise(record.get(target.marker_field))
        halo_id = int(record["id"])
        if not made_by.startswith(MARKER_PREFIX) or record.get("inactive"):
            continue
        if halo_id in mapped_ids or halo_id in plan.contested:
            continue
        source_key = target.match_value(record) or f"halo-id:{halo_id}"
        twin = key_owner.get(source_key)
        if twin is not None and twin != halo_id:
            message = (
                f"Halo {target.entity} records {twin} and {halo_id} both stand for this key; "
                f"{halo_id} was made by {_agent(made_by, marker)}. It is not changed until "
                "one of them is merged or removed in Halo"
            )
            plan.failures.append(RecordFailure(source_key, source_key, message))
            continue
        if made_by != marker:
            continue  # another integration's record: not ours to retire
        plan.found_active += 1
        if twin == halo_id or source_key in plan.source_keys:
            continue  # claimed this run, or its source record failed: keep it as it is
        orphan = MappedRecord(source_key, halo_id, "", True)
        plan.orphans.append(orphan)
        plan.deactivations.append(orphan)


def _agent(made_by: str, marker: str) -> str:
    if made_by == marker:
        return "this instance in another run (two agents on one settings folder?)"
    return f"another Halo Integrator instance ({made_by}; a second settings folder or jump box?)"


def _reactivate(record: SourceRecord, halo_record: dict[str, Any]) -> bool:
    """Halo holds the record inactive while the source has it active (a disabled account
    that the source itself marks inactive stays inactive)."""
    return bool(halo_record.get("inactive")) and not record.fields.get("inactive")


def same_values(fields: dict[str, Any], halo_record: dict[str, Any]) -> bool:
    """Whether Halo already holds every field value we would send."""
    return all(
        normalise(value) == normalise(halo_record.get(name)) for name, value in fields.items()
    )


@dataclass(frozen=True)
class DeactivationGuard:
    """Refuses to deactivate more than ``max_percent`` or ``max_count`` records in one run.

    A wrong LDAP filter, an empty CSV export or an unmounted share looks exactly like "every
    user left the company"; this is the one mistake a sync tool must not make silently. The
    allowance is a share of the set, at least one record (a team of six may lose one
    member, never five), and never more than ``max_count``.
    """

    max_percent: float = 10.0
    max_count: int = 500

    def allowance(self, active: int) -> int:
        share = int(active * self.max_percent / 100)
        floor = 1 if self.max_percent > 0 else 0
        return min(self.max_count, max(floor, share))

    def check(self, to_deactivate: int, active: int, *, source_count: int | None = None) -> None:
        """``source_count`` is the size of a complete source listing (None for a delta)."""
        if source_count == 0 and to_deactivate:
            raise GuardRefusedError(
                f"The source returned no records at all; refused to deactivate all "
                f"{to_deactivate} records in Halo.",
                hint="Check the source (an empty export, an unmounted share, a wrong filter). "
                "If it really is empty now, run once with --allow-mass-deactivation.",
            )
        allowed = self.allowance(active)
        if to_deactivate > allowed:
            limit = f"{self.max_percent:g}% and at most {self.max_count}"
            raise GuardRefusedError(
                f"Refused to deactivate {to_deactivate} of {active} records in Halo "
                f"(the limit is {limit}: {allowed} records).",
                hint="Check that the source is complete. If the removals are real, raise "
                "max_deactivate_percent / max_deactivate_count or run once with "
                "--allow-mass-deactivation.",
            )
