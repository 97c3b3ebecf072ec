"""Planning is pure: the id map and fingerprints decide, before any request."""

from __future__ import annotations

import pytest

from core.errors import GuardRefusedError
from core.state.store import MappedRecord
from core.sync.plan import DeactivationGuard, HaloIndex, adopt_existing, plan_against_map
from core.sync.records import USERS, HaloTarget, SourceRecord


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
    halo = [
        {"id": 5, "emailaddress": "E@X ", "name": "E@X"},
        {"id": 6, "emailaddress": "f@x", "name": "F@X", "department": "Sales"},
    ]
    adopt_existing(plan, USERS, HaloIndex(USERS, halo))
    assert [(r.key, i) for r, i in plan.adopted] == [("e@x", 5)]
    assert [(r.key, i) for r, i in plan.updates] == [("f@x", 6)]
    assert [r.key for r in plan.creates] == ["n@x"]


def test_fingerprint_ignores_field_order_but_not_values() -> None:
    first = SourceRecord("k", {"a": 1, "b": "x"})
    assert first.fingerprint == SourceRecord("k", {"b": "x", "a": 1}).fingerprint
    assert first.fingerprint != SourceRecord("k", {"a": 1, "b": "y"}).fingerprint


@pytest.mark.parametrize(
    ("remove", "active", "percent", "count", "refused"),
    [
        (1, 6, 10, 500, False),  # a small team may always lose one member ...
        (2, 6, 10, 500, True),  # ... but not a third of itself
        (5, 6, 10, 500, True),
        (10, 100, 10, 500, False),  # exactly the limit
        (11, 100, 10, 500, True),
        (100, 100, 10, 500, True),
        (20, 100, 25, 500, False),  # the configured share, not the default
        (26, 100, 25, 500, True),
        (500, 10_000, 10, 500, False),  # the count caps a large share
        (501, 10_000, 10, 500, True),
        (31, 1_000, 10, 30, True),
        (1, 50, 0, 500, True),  # 0 % means no deactivation without a release
    ],
)
def test_guard_refuses_mass_deactivation(
    remove: int, active: int, percent: float, count: int, refused: bool
) -> None:
    guard = DeactivationGuard(max_percent=percent, max_count=count)
    if refused:
        with pytest.raises(GuardRefusedError):
            guard.check(remove, active)
    else:
        guard.check(remove, active)


def test_two_halo_records_with_one_key_are_reported_not_picked() -> None:
    plan = plan_against_map([record("d@x")], {}, complete=True, deactivate_missing=True)
    halo = [
        {"id": 7, "emailaddress": "d@x", "name": "D"},
        {"id": 9, "emailaddress": "D@X", "name": "D"},
    ]
    adopt_existing(plan, USERS, HaloIndex(USERS, halo))
    assert plan.creates == [] and plan.updates == [] and plan.adopted == []
    assert "2 Halo Users records (ids 7, 9)" in plan.failures[0].message
    assert plan.contested == {7, 9}


def test_a_composite_key_matches_only_on_every_part() -> None:
    sites = HaloTarget(entity="Site", match=(("client_id", "name"),))
    halo = [
        {"id": 3, "client_id": 1.0, "name": "Leeds"},
        {"id": 4, "client_id": 2, "name": "Leeds"},
    ]
    index = HaloIndex(sites, halo)
    assert index.find({"client_id": 2, "name": "leeds "})[0] == halo[1]
    assert index.find({"client_id": 1, "name": "Leeds"})[0] == halo[0]
    assert index.find({"client_id": 3, "name": "Leeds"})[0] is None
    assert index.find({"name": "Leeds"})[0] is None


def test_match_alternatives_are_tried_in_order() -> None:
    target = HaloTarget(entity="Users", match=("third_party_guid", "emailaddress"))
    halo = [{"id": 1, "emailaddress": "a@x"}, {"id": 2, "third_party_guid": "G-1"}]
    index = HaloIndex(target, halo)
    assert index.find({"third_party_guid": "g-1", "emailaddress": "a@x"})[0] == halo[1]
    assert index.find({"third_party_guid": "g-2", "emailaddress": "a@x"})[0] == halo[0]


def test_removed_keys_of_a_delta_source_are_deactivated_only_when_mapped_and_active() -> None:
    a, b, c = record("a@x"), record("b@x"), record("c@x")
    known = {"a@x": mapped(a, 1), "b@x": mapped(b, 2, active=False), "c@x": mapped(c, 3)}
    plan = plan_against_map(
        [c], known, complete=False, deactivate_missing=True, removed=["a@x", "b@x", "z@x", "c@x"]
    )
    assert [m.source_key for m in plan.deactivations] == ["a@x"]


def test_a_record_with_a_problem_fails_alone_and_keeps_its_halo_record() -> None:
    cut = SourceRecord("a@x", {"emailaddress": "a@x"}, problem="the line was cut")
    plan = plan_against_map(
        [cut], {"a@x": mapped(record("a@x"), 1)}, complete=True, deactivate_missing=True
    )
    assert plan.deactivations == [] and plan.updates == []
    assert plan.failures[0].message == "the line was cut"


def test_a_record_without_key_does_not_stop_the_plan() -> None:
    later = record("z@x")
    plan = plan_against_map(
        [SourceRecord("", {}), later],
        {"z@x": mapped(later, 4)},
        complete=True,
        deactivate_missing=True,
    )
    assert plan.unchanged == 1 and plan.deactivations == []


def test_a_record_the_source_marks_inactive_is_not_reactivated() -> None:
    disabled = record("d@x", inactive=True)
    plan = plan_against_map([disabled], {}, complete=True, deactivate_missing=True)
    halo = [{"id": 3, "emailaddress": "d@x", "name": "D@X", "inactive": True}]
    adopt_existing(plan, USERS, HaloIndex(USERS, halo))
    assert [(r.key, i) for r, i in plan.adopted] == [("d@x", 3)]
    assert plan.reactivations == set()
