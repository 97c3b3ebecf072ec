"""Planning is pure: the id map and fingerprints decide, before any request."""

from __future__ import annotations

import pytest

from core.errors import GuardRefusedError
from core.outcomes import RecordFailure
from core.state.store import MappedRecord
from core.sync.plan import (
    DeactivationGuard,
    HaloIndex,
    Plan,
    adopt_existing,
    adopt_orphans,
    correct_hand_edits,
    plan_against_map,
)
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
    [failure] = plan.failures
    assert (failure.key, failure.label) == ("d@x", "d@x")
    assert "2 Halo Users records (ids 7, 9)" in failure.message
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
    assert plan.failures == [RecordFailure("a@x", "a@x", "the line was cut")]
    assert plan.kept == []  # only a reconcile keeps unchanged records for a second look


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


# -- what each failure says --------------------------------------------------------------------


def test_a_record_without_key_and_a_duplicate_key_say_so_and_name_the_first_one() -> None:
    first = SourceRecord("a@x", {"emailaddress": "a@x"}, label="Ann (row 2)")
    again = SourceRecord("a@x", {"emailaddress": "a@x"}, label="Ann (row 9)")
    plan = plan_against_map(
        [SourceRecord("", {}, label="row 5"), first, again],
        {},
        complete=True,
        deactivate_missing=True,
    )
    assert plan.failures == [
        RecordFailure("", "row 5", "no key value; skipped"),
        RecordFailure("a@x", "Ann (row 9)", "duplicate key 'a@x' (also Ann (row 2)); skipped"),
    ]
    assert plan.source_count == 3
    assert set(plan.source_keys) == {"a@x"}


def test_a_record_with_a_problem_is_named_in_the_source_keys_and_blocks_its_duplicate() -> None:
    cut = SourceRecord("a@x", {}, label="row 2", problem="the line was cut")
    plan = plan_against_map([cut, record("a@x")], {}, complete=True, deactivate_missing=True)
    assert set(plan.source_keys) == {"a@x"}
    assert plan.creates == []
    assert plan.failures[1].message == "duplicate key 'a@x' (also row 2); skipped"


def test_an_inactive_mapped_record_is_not_deactivated_again() -> None:
    gone = record("g@x")
    plan = plan_against_map(
        [], {"g@x": mapped(gone, 3, active=False)}, complete=True, deactivate_missing=True
    )
    assert plan.deactivations == []


def test_without_deactivate_missing_nothing_is_deactivated() -> None:
    gone = record("g@x")
    plan = plan_against_map([], {"g@x": mapped(gone, 3)}, complete=True, deactivate_missing=False)
    assert plan.deactivations == []
    plan = plan_against_map(
        [], {"g@x": mapped(gone, 3)}, complete=False, deactivate_missing=False, removed=["g@x"]
    )
    assert plan.deactivations == []


def test_a_key_removed_twice_by_a_delta_is_deactivated_once() -> None:
    gone = record("g@x")
    plan = plan_against_map(
        [],
        {"g@x": mapped(gone, 3)},
        complete=False,
        deactivate_missing=True,
        removed=["g@x", "g@x"],
    )
    assert [m.source_key for m in plan.deactivations] == ["g@x"]


def test_a_changed_inactive_record_is_updated_and_reactivated_an_unchanged_active_one_not() -> None:
    back, same = record("r@x"), record("s@x")
    plan = plan_against_map(
        [record("r@x", title="T"), same],
        {"r@x": mapped(back, 9, active=False), "s@x": mapped(same, 8)},
        complete=True,
        deactivate_missing=True,
    )
    assert [(r.key, i) for r, i in plan.updates] == [("r@x", 9)]
    assert plan.reactivations == {"r@x"}
    assert plan.unchanged == 1


def test_a_changed_active_record_is_updated_without_reactivation() -> None:
    before = record("c@x")
    plan = plan_against_map(
        [record("c@x", title="T")],
        {"c@x": mapped(before, 4)},
        complete=True,
        deactivate_missing=True,
    )
    assert [(r.key, i) for r, i in plan.updates] == [("c@x", 4)]
    assert plan.reactivations == set()


# -- finding Halo's twin -----------------------------------------------------------------------


def test_an_inactive_halo_twin_is_updated_and_reactivated_even_with_equal_values() -> None:
    plan = plan_against_map([record("e@x")], {}, complete=True, deactivate_missing=True)
    halo = [{"id": 5, "emailaddress": "e@x", "name": "E@X", "inactive": True}]
    adopt_existing(plan, USERS, HaloIndex(USERS, halo))
    assert plan.adopted == []
    assert [(r.key, i) for r, i in plan.updates] == [("e@x", 5)]
    assert plan.reactivations == {"e@x"}


def test_an_active_twin_with_other_values_is_updated_without_reactivation() -> None:
    plan = plan_against_map([record("e@x")], {}, complete=True, deactivate_missing=True)
    halo = [{"id": "5", "emailaddress": "e@x", "name": "Someone", "inactive": False}]
    adopt_existing(plan, USERS, HaloIndex(USERS, halo))
    assert [(r.key, i) for r, i in plan.updates] == [("e@x", 5)]
    assert plan.reactivations == set()


def test_halo_records_without_an_id_or_a_match_value_are_not_indexed() -> None:
    index = HaloIndex(USERS, [{"emailaddress": "a@x"}, {"id": 0, "emailaddress": "b@x"}])
    assert index.records == []
    index.add({"id": 3, "name": "no address"})
    assert len(index.records) == 1
    assert index.find({"emailaddress": ""}) == (None, "")
    assert index.find({"emailaddress": "a@x"}) == (None, "")


def test_one_halo_record_found_by_two_alternatives_is_one_match() -> None:
    target = HaloTarget(entity="Users", match=("third_party_guid", "emailaddress"))
    halo = {"id": 4, "third_party_guid": "G", "emailaddress": "a@x"}
    index = HaloIndex(target, [halo, dict(halo)])
    found, problem, ids = index.find_all({"third_party_guid": "g", "emailaddress": "a@x"})
    assert (found, problem, ids) == (halo, "", [4])


def test_two_halo_records_sharing_a_composite_key_name_every_part_and_id() -> None:
    sites = HaloTarget(entity="Site", match=(("client_id", "name"),))
    index = HaloIndex(
        sites,
        [{"id": 12, "client_id": 1, "name": "Leeds"}, {"id": 3, "client_id": 1, "name": "leeds"}],
    )
    found, problem, ids = index.find_all({"client_id": 1, "name": "Leeds"})
    assert found is None and ids == [3, 12]
    assert problem == (
        "2 Halo Site records (ids 3, 12) have the same client_id + name; not changed until "
        "one of them is merged or removed in Halo"
    )


# -- this instance's records nobody claims -----------------------------------------------------

OURS = "halo-integrator:csv"


def halo_user(halo_id: int, address: str, marker: str = OURS, **fields: object) -> dict:
    return {"id": halo_id, "emailaddress": address, "third_party_id": marker, **fields}


def orphan_plan(
    source: list[SourceRecord], halo: list[dict], known: dict[str, MappedRecord] | None = None
) -> Plan:
    known = known or {}
    plan = plan_against_map(source, known, complete=True, deactivate_missing=True)
    index = HaloIndex(USERS, halo)
    adopt_existing(plan, USERS, index)
    adopt_orphans(plan, USERS, index, OURS, known)
    return plan


def test_after_a_lost_id_map_our_unclaimed_records_are_the_leavers() -> None:
    plan = orphan_plan(
        [record("a@x")],
        [halo_user(1, "a@x"), halo_user(2, "gone@x"), halo_user(3, "old@x", inactive=True)],
    )
    assert plan.orphans == [MappedRecord("gone@x", 2, "", True)]
    assert plan.deactivations == plan.orphans
    assert plan.found_active == 2


def test_records_of_other_integrations_or_made_by_hand_are_never_orphans() -> None:
    plan = orphan_plan(
        [],
        [
            halo_user(1, "hand@x", marker=""),
            halo_user(2, "other@x", marker="halo-integrator:ldap"),
            halo_user(3, "tool@x", marker="some-other-tool"),
        ],
    )
    assert plan.orphans == [] and plan.deactivations == [] and plan.failures == []
    assert plan.found_active == 0


def test_a_record_without_a_match_value_is_an_orphan_by_its_halo_id() -> None:
    plan = orphan_plan([], [halo_user(7, "")])
    assert plan.orphans == [MappedRecord("halo-id:7", 7, "", True)]


def test_mapped_contested_and_failed_records_are_not_orphans() -> None:
    known = {"m@x": MappedRecord("m@x", 1, "f", True)}
    cut = SourceRecord("cut@x", {"emailaddress": "cut@x"}, problem="the line was cut")
    plan = orphan_plan(
        [record("twice@x"), cut],
        [
            halo_user(1, "m@x"),
            halo_user(2, "twice@x"),
            halo_user(3, "twice@x"),
            halo_user(4, "cut@x"),
        ],
        known,
    )
    assert plan.orphans == []
    assert plan.contested == {2, 3}
    assert plan.found_active == 1


def test_a_twin_of_our_record_made_by_another_instance_is_reported() -> None:
    known = {"a@x": MappedRecord("a@x", 1, "f", True)}
    plan = orphan_plan(
        [record("a@x")],
        [halo_user(1, "a@x"), halo_user(5, "a@x", marker="halo-integrator:csv-2")],
        known,
    )
    assert plan.orphans == []
    assert plan.failures == [
        RecordFailure(
            "a@x",
            "a@x",
            "Halo Users records 1 and 5 both stand for this key; 5 was made by another Halo "
            "Integrator instance (halo-integrator:csv-2; a second settings folder or jump "
            "box?). It is not changed until one of them is merged or removed in Halo",
        )
    ]


def test_a_twin_made_by_this_instance_in_another_run_is_reported_as_such() -> None:
    twin = orphan_plan(
        [],
        [halo_user(1, "a@x"), halo_user(6, "A@X ")],
        {"a@x": MappedRecord("a@x", 1, "f", True)},
    )
    assert twin.failures[0].message == (
        "Halo Users records 1 and 6 both stand for this key; 6 was made by this instance in "
        "another run (two agents on one settings folder?). It is not changed until one of "
        "them is merged or removed in Halo"
    )
    assert twin.orphans == []


def test_a_target_without_a_marker_field_has_no_orphans() -> None:
    plain = HaloTarget(entity="Users", match=("emailaddress",))
    plan = plan_against_map([], {}, complete=True, deactivate_missing=True)
    adopt_orphans(plan, plain, HaloIndex(plain, [halo_user(1, "a@x")]), OURS, {})
    assert plan.orphans == [] and plan.found_active == 0


# -- the guard's words and limits --------------------------------------------------------------


def test_an_empty_source_is_refused_with_its_own_message() -> None:
    with pytest.raises(GuardRefusedError) as caught:
        DeactivationGuard().check(3, 3, source_count=0)
    assert str(caught.value) == (
        "The source returned no records at all; refused to deactivate all 3 records in "
        "Halo. Check the source (an empty export, an unmounted share, a wrong filter). If "
        "it really is empty now, run once with --allow-mass-deactivation."
    )
    DeactivationGuard().check(0, 3, source_count=0)


def test_a_delta_without_a_source_count_is_measured_by_share_alone() -> None:
    DeactivationGuard().check(1, 3, source_count=None)
    DeactivationGuard().check(1, 10, source_count=1)


def test_the_guard_message_names_the_share_the_count_and_the_records_allowed() -> None:
    with pytest.raises(GuardRefusedError) as caught:
        DeactivationGuard(max_percent=12.5, max_count=40).check(50, 1_000)
    assert str(caught.value) == (
        "Refused to deactivate 50 of 1000 records in Halo (the limit is 12.5% and at most "
        "40: 40 records). Check that the source is complete. If the removals are real, "
        "raise max_deactivate_percent / max_deactivate_count or run once with "
        "--allow-mass-deactivation."
    )


@pytest.mark.parametrize(
    ("percent", "count", "active", "allowed"),
    [
        (10, 500, 6, 1),  # at least one record ...
        (0.5, 500, 6, 1),  # ... for any share above zero
        (0, 500, 1_000, 0),
        (10, 500, 109, 10),  # a share is rounded down
        (10, 500, 110, 11),
        (25, 500, 100, 25),
        (10, 30, 1_000, 30),
        (10, 500, 0, 1),
    ],
)
def test_the_allowance_is_a_share_of_the_set_at_least_one_at_most_the_count(
    percent: float, count: int, active: int, allowed: int
) -> None:
    assert DeactivationGuard(max_percent=percent, max_count=count).allowance(active) == allowed


def test_the_guard_defaults_are_ten_percent_and_five_hundred() -> None:
    assert DeactivationGuard() == DeactivationGuard(max_percent=10.0, max_count=500)


def test_every_kind_of_record_passed_over_still_lets_a_later_orphan_be_found() -> None:
    known = {"m@x": MappedRecord("m@x", 1, "f", True)}
    plan = orphan_plan(
        [record("m@x"), record("claimed@x"), record("twice@x")],
        [
            halo_user(2, "hand@x", marker=""),
            halo_user(3, "old@x", inactive=True),
            halo_user(1, "m@x"),
            halo_user(4, "twice@x"),
            halo_user(5, "twice@x"),
            halo_user(6, "m@x", marker="halo-integrator:csv-2"),
            halo_user(7, "other@x", marker="halo-integrator:ldap"),
            halo_user(8, "claimed@x"),
            halo_user(9, "gone@x"),
        ],
        known,
    )
    assert plan.orphans == [MappedRecord("gone@x", 9, "", True)]
    assert [f.key for f in plan.failures] == ["twice@x", "m@x"]


def test_two_new_records_with_one_match_value_are_not_both_created() -> None:
    by_login = HaloTarget(entity="Users", match=("login", "emailaddress"))
    first = SourceRecord("ann", {"login": "ann", "emailaddress": "a@x", "name": "Ann"})
    second = SourceRecord("ann2", {"login": "ann2", "emailaddress": "A@X", "name": "Ann"})
    plan = plan_against_map([first, second], {}, complete=True, deactivate_missing=True)
    adopt_existing(plan, by_login, HaloIndex(by_login, []))
    assert [r.key for r in plan.creates] == ["ann"]
    assert plan.failures[0].key == "ann2" and "not created twice" in plan.failures[0].message


def test_a_reconcile_sends_again_what_was_edited_or_deactivated_by_hand_in_halo() -> None:
    same, edited, retired, deleted = record("a@x"), record("b@x"), record("c@x"), record("d@x")
    left = record("e@x", inactive=True)  # the source itself says inactive
    records = [same, edited, retired, deleted, left]
    known = {r.key: mapped(r, n) for n, r in enumerate(records, start=1)}
    plan = plan_against_map(
        records, known, complete=True, deactivate_missing=True, keep_unchanged=True
    )
    assert plan.unchanged == 5 and len(plan.kept) == 5
    halo = [
        {"id": 1, "emailaddress": "A@x ", "name": "A@X"},  # same, up to case and spaces
        {"id": 2, "emailaddress": "b@x", "name": "Renamed by hand"},
        {"id": 3, "emailaddress": "c@x", "name": "C@X", "inactive": True},
        # 4 was deleted in Halo: the update path finds that out, not the reconcile
        {"id": 5, "emailaddress": "e@x", "name": "E@X", "inactive": True},
    ]
    correct_hand_edits(plan, HaloIndex(USERS, halo))
    assert [(r.key, halo_id) for r, halo_id in plan.updates] == [("b@x", 2), ("c@x", 3)]
    assert plan.reactivations == {"c@x"}
    assert plan.unchanged == 3 and plan.kept == []


def test_a_mapped_inactive_record_the_source_still_marks_inactive_is_not_reactivated() -> None:
    gone = record("g@x", inactive=True)
    known = {"g@x": mapped(record("g@x"), 6, active=False)}
    plan = plan_against_map([gone], known, complete=True, deactivate_missing=True)
    assert [(r.key, i) for r, i in plan.updates] == [("g@x", 6)]
    assert plan.reactivations == set()


def test_two_new_records_with_one_match_value_name_the_key_and_the_rest_go_on() -> None:
    target = HaloTarget("Users", match=("login", "emailaddress"))
    first = SourceRecord("1", {"login": "ann", "emailaddress": "ann@x"}, label="row 1")
    twin = SourceRecord("2", {"login": "ann2", "emailaddress": "ANN@x"}, label="row 2")
    later = SourceRecord("3", {"login": "bob", "emailaddress": "bob@x"}, label="row 3")
    plan = plan_against_map([first, twin, later], {}, complete=True, deactivate_missing=True)
    adopt_existing(plan, target, HaloIndex(target, []))
    assert plan.failures == [
        RecordFailure("2", "row 2", "has the same emailaddress as row 1; not created twice")
    ]
    assert [r.key for r in plan.creates] == ["1", "3"]
