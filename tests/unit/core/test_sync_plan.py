"""Planning is pure: the id map and fingerprints decide, before any request."""

from __future__ import annotations

import pytest

from core.errors import GuardRefusedError
from core.state.store import MappedRecord
from core.sync.plan import DeactivationGuard, adopt_existing, plan_against_map
from core.sync.records import USERS, SourceRecord


def record(key: str, **fields: object) -> SourceRecord:
    return SourceRecord(key=key, fields={"emailaddress": key, "name": key.upper(), **fields})


def mapped(source: SourceRecord, halo_id: int, *, active: bool = True) -> MappedRecord:
    return MappedRecord(source.key, halo_id, source.fingerprint, active)


def test_unchanged_changed_new_and_vanished_records_are_told_apart() -> None:
    same, changed, gone = record("a@x"), record("b@x"), record("c@x")
    known = {"a@x": mapped(same, 1), "b@x": mapped(changed, 2), "c@x": mapped(gone, 3)}
    plan = plan_against_map(
        [same, record("b@x", department="HR"), record("d@x")],
        known,
        complete=True,
        deactivate_missing=True,
    )
    assert plan.unchanged == 1
    assert [(r.key, i) for r, i in plan.updates] == [("b@x", 2)]
    assert [r.key for r in plan.creates] == ["d@x"]
    assert [m.source_key for m in plan.deactivations] == ["c@x"]


def test_a_partial_listing_never_deactivates() -> None:
    gone = record("c@x")
    plan = plan_against_map([], {"c@x": mapped(gone, 3)}, complete=False, deactivate_missing=True)
    assert plan.deactivations == []


def test_a_returning_record_is_reactivated() -> None:
    back = record("r@x")
    plan = plan_against_map(
        [back], {"r@x": mapped(back, 9, active=False)}, complete=True, deactivate_missing=True
    )
    assert [(r.key, i) for r, i in plan.updates] == [("r@x", 9)]
    assert plan.reactivations == {"r@x"}


def test_duplicate_and_empty_keys_are_failures() -> None:
    plan = plan_against_map(
        [record("a@x"), record("a@x"), SourceRecord("", {})],
        {},
        complete=True,
        deactivate_missing=True,
    )
    assert len(plan.creates) == 1
    assert sorted(f.message.split(" ")[0] for f in plan.failures) == ["duplicate", "no"]


def test_existing_halo_records_are_adopted_or_updated_not_created() -> None:
    equal, different, new = record("e@x"), record("f@x", department="IT"), record("n@x")
    plan = plan_against_map([equal, different, new], {}, complete=True, deactivate_missing=True)
    adopt_existing(
        plan,
        USERS,
        {
            "e@x": {"id": 5, "emailaddress": "E@X ", "name": "E@X"},
            "f@x": {"id": 6, "emailaddress": "f@x", "name": "F@X", "department": "Sales"},
        },
    )
    assert [(r.key, i) for r, i in plan.adopted] == [("e@x", 5)]
    assert [(r.key, i) for r, i in plan.updates] == [("f@x", 6)]
    assert [r.key for r in plan.creates] == ["n@x"]


def test_fingerprint_ignores_field_order_but_not_values() -> None:
    first = SourceRecord("k", {"a": 1, "b": "x"})
    assert first.fingerprint == SourceRecord("k", {"b": "x", "a": 1}).fingerprint
    assert first.fingerprint != SourceRecord("k", {"a": 1, "b": "y"}).fingerprint


@pytest.mark.parametrize(
    ("remove", "active", "refused"),
    [
        (5, 10, False),  # small numbers are always allowed
        (10, 100, False),  # exactly the limit
        (11, 100, True),
        (100, 100, True),  # an empty source
    ],
)
def test_guard_refuses_mass_deactivation(remove: int, active: int, refused: bool) -> None:
    guard = DeactivationGuard(max_percent=10)
    if refused:
        with pytest.raises(GuardRefusedError):
            guard.check(remove, active)
    else:
        guard.check(remove, active)
