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
from core.sync.records import HaloTarget, SourceRecord, normalise

__all__ = ["DeactivationGuard", "Plan", "RecordFailure", "adopt_existing", "plan_against_map"]


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
    # Source keys whose Halo record now belongs to another key of the same module.
    rekeyed: list[str] = field(default_factory=list)


def plan_against_map(
    records: Iterable[SourceRecord],
    mapped: dict[str, MappedRecord],
    *,
    complete: bool,
    deactivate_missing: bool,
) -> Plan:
    """First pass, no requests: what the id map and the fingerprints already decide.

    Unmapped records land in ``creates`` for now; ``adopt_existing`` then moves those that
    already exist in Halo. A partial source listing (``complete=False``, e.g. a delta query)
    never deactivates anything.
    """
    plan = Plan()
    seen: dict[str, str] = {}
    for record in records:
        plan.source_count += 1
        if not record.key:
            plan.failures.append(RecordFailure("", record.name, "no key value; skipped"))
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
        else:
            plan.updates.append((record, known.halo_id))
            if not known.active:
                plan.reactivations.add(record.key)
    if complete and deactivate_missing:
        plan.deactivations = [
            entry for key, entry in mapped.items() if entry.active and key not in seen
        ]
    return plan


def adopt_existing(plan: Plan, target: HaloTarget, existing: dict[str, dict[str, Any]]) -> None:
    """Second pass: records Halo already has (same match value) are updated, not created."""
    still_new: list[SourceRecord] = []
    for record in plan.creates:
        halo_record = existing.get(target.match_value(record.fields))
        if halo_record is None or not halo_record.get("id"):
            still_new.append(record)
        elif same_values(record.fields, halo_record) and not halo_record.get("inactive"):
            plan.adopted.append((record, int(halo_record["id"])))
        else:
            plan.updates.append((record, int(halo_record["id"])))
            if halo_record.get("inactive"):
                plan.reactivations.add(record.key)
    plan.creates = still_new


def same_values(fields: dict[str, Any], halo_record: dict[str, Any]) -> bool:
    """Whether Halo already holds every field value we would send."""
    return all(
        normalise(value) == normalise(halo_record.get(name)) for name, value in fields.items()
    )


@dataclass(frozen=True)
class DeactivationGuard:
    """Refuses to deactivate more than ``max_percent`` of the active records in one run.

    A wrong LDAP filter, an empty CSV export or an unmounted share looks exactly like "every
    user left the company"; this is the one mistake a sync tool must not make silently.
    """

    max_percent: float = 10.0
    always_allowed: int = 5

    def check(self, to_deactivate: int, active: int, *, source_count: int = 1) -> None:
        if source_count == 0 and to_deactivate:
            raise GuardRefusedError(
                f"The source returned no records at all; refused to deactivate all "
                f"{to_deactivate} records in Halo.",
                hint="Check the source (an empty export, an unmounted share, a wrong filter). "
                "If it really is empty now, run once with --allow-mass-deactivation.",
            )
        allowed = max(self.always_allowed, int(active * self.max_percent / 100))
        if to_deactivate > allowed:
            raise GuardRefusedError(
                f"Refused to deactivate {to_deactivate} of {active} records in Halo "
                f"(the limit is {self.max_percent:g}%, {allowed} records).",
                hint="Check that the source is complete. If the removals are real, raise "
                "max_deactivate_percent or run once with --allow-mass-deactivation.",
            )
