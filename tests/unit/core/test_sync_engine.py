"""``RecordSync`` applying a plan: batches, counts, refusals, lost answers, progress.

Halo is an in-memory stand-in here (the emulator cannot refuse one record or lose one answer
on cue); the same behaviours run over HTTP in tests/integration/test_engine_over_http.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from core.errors import (
    HaloConnectionError,
    HaloError,
    HaloForbiddenError,
    HaloNotFoundError,
    HaloValidationError,
)
from core.outcomes import RecordFailure, RunCounts
from core.run.request import RunRequest
from core.state.store import StateStore
from core.sync import engine as engine_module
from core.sync.engine import (
    LISTING_PAGE_SIZE,
    RECONCILE_EVERY_SECONDS,
    SEARCH_PAGE_SIZE,
    RecordSync,
)
from core.sync.plan import DeactivationGuard
from core.sync.records import USERS, HaloTarget, SourceRecord, marker_value

MARKER = marker_value("csv")
# Users without a marker field: the id map alone decides, nothing is listed for orphans.
PLAIN_USERS = HaloTarget(
    entity="Users", match=("emailaddress",), searchable=frozenset({"emailaddress"})
)


class FakeHalo:
    """Halo's two batch calls in memory: records by id, every request kept as sent.

    It keeps the rules the engine relies on (answers in the order sent, inactive records
    hidden unless ``includeinactive=true``, ``search`` a substring match, a create whose
    answer was lost still saved) and scripts the answers a test needs.
    """

    def __init__(self, *, batch_size: int = 2) -> None:
        self.connection = SimpleNamespace(batch_size=batch_size)
        self.records: dict[int, dict[str, Any]] = {}
        self.posts: list[list[dict[str, Any]]] = []
        self.queries: list[tuple[dict[str, Any], int]] = []
        # The next POSTs with creates are saved (only the first ``saved_before_loss`` of
        # them, when set), then their answer is lost on the way back.
        self.lose_answers = 0
        self.saved_before_loss: int | None = None
        # Called per element of a POST: an error refuses the whole array, as Halo's 400 does.
        self.refuse: Callable[[dict[str, Any]], HaloError | None] = lambda body: None
        # "reversed": the saved records in another order; "ids": nothing but their ids.
        self.answer = "as sent"
        self._next_id = 100

    def add(self, **fields: Any) -> dict[str, Any]:
        """A record made in Halo before the sync (by hand, or by an earlier run)."""
        record = {"id": self._next_id, "inactive": False, **fields}
        self.records[self._next_id] = record
        self._next_id += 1
        return record

    def post_batch(self, entity: str, bodies: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        self.posts.append([dict(body) for body in bodies])
        for body in bodies:
            error = self.refuse(body)
            if error is not None:
                raise error
        if self.lose_answers and any(not body.get("id") for body in bodies):
            self.lose_answers -= 1
            for body in bodies[: self.saved_before_loss]:
                self._save(body)
            raise HaloConnectionError("the answer was lost", maybe_applied=True)
        saved = [self._save(body) for body in bodies]
        if self.answer == "reversed":
            return saved[::-1]
        if self.answer == "ids":
            return [{"id": record["id"]} for record in saved]
        return saved

    def iter_records(
        self, entity: str, params: dict[str, Any] | None = None, *, page_size: int = 50
    ) -> Iterator[dict[str, Any]]:
        params = dict(params or {})
        self.queries.append((params, page_size))
        search = str(params.get("search", "")).lower()
        for record in list(self.records.values()):
            if record.get("inactive") and params.get("includeinactive") != "true":
                continue
            if search and not any(search in str(value).lower() for value in record.values()):
                continue
            yield dict(record)

    def _save(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("id"):
            record = self.records[int(body["id"])]
            record.update(body)
            return dict(record)
        return dict(self.add(**body))

    def with_email(self, address: str) -> list[dict[str, Any]]:
        return [r for r in self.records.values() if r.get("emailaddress") == address]


def user(number: int, **fields: Any) -> SourceRecord:
    address = f"u{number}@example.com"
    return SourceRecord(address, {"emailaddress": address, "name": f"User {number}", **fields})


def users(*numbers: int, **fields: Any) -> list[SourceRecord]:
    return [user(number, **fields) for number in numbers]


@pytest.fixture
def state(tmp_path: Path) -> StateStore:
    return StateStore(tmp_path)


@pytest.fixture
def halo() -> FakeHalo:
    return FakeHalo()


def engine(halo: FakeHalo, state: StateStore, **options: Any) -> RecordSync:
    options.setdefault("target", USERS)
    return RecordSync(client=halo, state=state, module="csv", **options)  # type: ignore[arg-type]


def released(halo: FakeHalo, state: StateStore, **options: Any) -> RecordSync:
    """An engine run with --allow-mass-deactivation."""
    return engine(halo, state, request=RunRequest(allow_mass_deactivation=True), **options)


def halo_ids(state: StateStore, target: HaloTarget = USERS) -> dict[str, int]:
    return {k: e.halo_id for k, e in state.mapped_records("csv", target.entity).items()}


def refuse_email(address: str, error: HaloError, *, updates_only: bool = True):
    def refuse(body: dict[str, Any]) -> HaloError | None:
        if body.get("emailaddress") == address and (body.get("id") or not updates_only):
            return error
        return None

    return refuse


def refuse_id(halo_id: int, error: HaloError):
    return lambda body: error if body.get("id") == halo_id else None


# -- batches and counts ------------------------------------------------------------------------


def test_every_batch_of_creates_updates_and_deactivations_is_counted(
    halo: FakeHalo, state: StateStore
) -> None:
    created = engine(halo, state).run(users(1, 2, 3))
    assert created.counts == RunCounts(created=3)
    assert [len(post) for post in halo.posts] == [2, 1]

    updated = engine(halo, state).run(users(1, 2, 3, department="HR"))
    assert updated.counts == RunCounts(updated=3)
    assert all(r["department"] == "HR" for r in halo.records.values())

    gone = released(halo, state).run(users(4))
    assert gone.counts == RunCounts(created=1, deactivated=3)
    assert [r["emailaddress"] for r in halo.records.values() if r["inactive"]] == [
        "u1@example.com",
        "u2@example.com",
        "u3@example.com",
    ]
    assert {k: e.active for k, e in state.mapped_records("csv", "Users").items()} == {
        "u1@example.com": False,
        "u2@example.com": False,
        "u3@example.com": False,
        "u4@example.com": True,
    }


def test_a_record_sent_is_its_fields_with_the_marker_and_nothing_else(
    halo: FakeHalo, state: StateStore
) -> None:
    engine(halo, state).run([user(1)])
    assert halo.posts == [
        [{"emailaddress": "u1@example.com", "name": "User 1", "third_party_id": MARKER}]
    ]


def test_progress_is_reported_after_each_batch_and_its_id_map_are_committed(
    halo: FakeHalo, state: StateStore
) -> None:
    seen: list[tuple[Any, ...]] = []

    def progress(phase: str, done: int, total: int) -> None:
        seen.append((phase, done, total, len(halo.records), len(halo_ids(state))))

    def safe_point() -> None:
        seen.append(("safe point", len(halo_ids(state))))

    engine(halo, state, progress=progress, safe_point=safe_point).run(users(1, 2, 3))
    assert seen == [
        ("create", 2, 3, 2, 2),
        ("safe point", 2),
        ("create", 3, 3, 3, 3),
        ("safe point", 3),
    ]
    seen.clear()
    engine(halo, state, progress=progress, safe_point=safe_point).run(users(1, 2, 3, title="x"))
    assert [item[:3] for item in seen if item[0] == "update"] == [
        ("update", 2, 3),
        ("update", 3, 3),
    ]


def test_the_batch_size_defaults_to_the_connections_and_can_be_set_per_sync(
    halo: FakeHalo, state: StateStore
) -> None:
    engine(halo, state, batch_size=3).run(users(1, 2, 3, 4))
    assert [len(post) for post in halo.posts] == [3, 1]


def test_unchanged_and_adopted_records_are_counted_as_unchanged(
    halo: FakeHalo, state: StateStore
) -> None:
    engine(halo, state).run(users(1, 2))
    halo.add(emailaddress="u3@example.com", name="User 3", third_party_id=MARKER)
    result = engine(halo, state).run(users(1, 2, 3))
    assert result.counts == RunCounts(unchanged=3)
    assert halo_ids(state)["u3@example.com"] == 102


def test_a_known_set_is_compared_with_all_of_halo_once_a_day(
    halo: FakeHalo, state: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine(halo, state).run([user(1)])
    listed = int(state.checkpoint("csv", "listed:Users") or 0)
    halo.queries.clear()
    monkeypatch.setattr(engine_module.time, "time", lambda: listed + RECONCILE_EVERY_SECONDS)
    engine(halo, state).run([user(1)])
    assert halo.queries == []  # exactly a day: not yet
    monkeypatch.setattr(engine_module.time, "time", lambda: listed + RECONCILE_EVERY_SECONDS + 1)
    engine(halo, state).run([user(1)])
    assert halo.queries == [({"includeinactive": "true"}, LISTING_PAGE_SIZE)]
    assert state.checkpoint("csv", "listed:Users") == str(listed + RECONCILE_EVERY_SECONDS + 1)


# -- updates: reactivation only where it is one ------------------------------------------------


def test_reactivation_fields_go_only_with_a_record_that_comes_back(
    halo: FakeHalo, state: StateStore
) -> None:
    engine(halo, state).run(users(1, 2))
    released(halo, state).run([user(1)])
    halo.posts.clear()
    result = engine(halo, state).run([user(1, title="Boss"), user(2)])
    assert result.counts == RunCounts(updated=2)
    assert halo.posts == [
        [
            {
                "emailaddress": "u1@example.com",
                "name": "User 1",
                "title": "Boss",
                "third_party_id": MARKER,
                "id": 100,
            },
            {
                "emailaddress": "u2@example.com",
                "name": "User 2",
                "third_party_id": MARKER,
                "inactive": False,
                "id": 101,
            },
        ]
    ]
    assert halo.records[101]["inactive"] is False


def test_a_user_disabled_in_halo_by_an_admin_stays_disabled_when_only_its_fields_change(
    halo: FakeHalo, state: StateStore
) -> None:
    engine(halo, state).run([user(1)])
    halo.records[100]["inactive"] = True  # an admin disabled the account in Halo
    engine(halo, state).run([user(1, title="Boss")])
    assert halo.records[100]["inactive"] is True


# -- lookups in Halo ---------------------------------------------------------------------------


def test_after_a_lost_state_db_a_user_deactivated_in_halo_is_found_and_reactivated(
    halo: FakeHalo, state: StateStore
) -> None:
    halo.add(emailaddress="u1@example.com", name="User 1", inactive=True)
    result = engine(halo, state, target=PLAIN_USERS).run([user(1)])
    assert result.counts == RunCounts(updated=1)
    assert len(halo.with_email("u1@example.com")) == 1
    assert halo.records[100]["inactive"] is False
    assert halo.queries == [
        ({"search": "u1@example.com", "includeinactive": "true"}, SEARCH_PAGE_SIZE)
    ]


def test_a_full_listing_includes_inactive_records_too(halo: FakeHalo, state: StateStore) -> None:
    halo.add(emailaddress="u1@example.com", name="User 1", inactive=True, third_party_id=MARKER)
    result = engine(halo, state).run([user(1)])
    assert result.counts == RunCounts(updated=1)
    assert halo.records[100]["inactive"] is False
    assert halo.queries == [({"includeinactive": "true"}, LISTING_PAGE_SIZE)]


def test_a_search_keeps_only_exact_matches_and_searches_a_value_once(
    halo: FakeHalo, state: StateStore
) -> None:
    halo.add(emailaddress="xu1@example.com", name="Someone else")
    halo.add(name="u1@example.com in a name, no address")
    twin = SourceRecord("other-key", {"emailaddress": "U1@example.com ", "name": "Same"})
    result = engine(halo, state, target=PLAIN_USERS).run([user(1), twin])
    assert (result.counts.updated, result.counts.unchanged) == (0, 0)
    assert all(not body.get("id") for body in halo.posts[0])
    assert len(halo.queries) == 1


def test_many_unmapped_records_are_looked_up_in_one_listing(
    halo: FakeHalo, state: StateStore
) -> None:
    engine(halo, state, target=PLAIN_USERS).run(users(*range(1, 22)))
    assert halo.queries == [({"includeinactive": "true"}, LISTING_PAGE_SIZE)]
    halo.queries.clear()
    engine(halo, state, target=PLAIN_USERS).run(users(*range(1, 22), *range(30, 50)))
    assert [query for query, _ in halo.queries] == [
        {"search": f"u{n}@example.com", "includeinactive": "true"} for n in range(30, 50)
    ]


def test_a_record_without_a_match_value_is_not_looked_up(halo: FakeHalo, state: StateStore) -> None:
    nameless = SourceRecord("E-1", {"name": "No Address"})
    result = engine(halo, state, target=PLAIN_USERS).run([nameless])
    assert result.counts == RunCounts(created=1)
    assert halo.queries == []


# -- Halo refusing part of a batch -------------------------------------------------------------


def test_a_400_on_an_update_batch_fails_that_record_alone(
    halo: FakeHalo, state: StateStore, caplog: pytest.LogCaptureFixture
) -> None:
    engine(halo, state, batch_size=4).run(users(1, 2, 3, 4))
    before = state.mapped_records("csv", "Users")["u3@example.com"].fingerprint
    halo.refuse = refuse_email("u3@example.com", HaloValidationError("title is too long"))
    with caplog.at_level(logging.ERROR, logger="halo_integrator.sync"):
        result = engine(halo, state, batch_size=4).run(users(1, 2, 3, 4, title="T"))
    assert result.counts == RunCounts(updated=3, failed=1)
    assert result.failures == [
        RecordFailure("u3@example.com", "u3@example.com", "title is too long")
    ]
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        "Halo refused u3@example.com: title is too long"
    ]
    assert [len(post) for post in halo.posts[1:]] == [4, 2, 2, 1, 1]
    assert "title" not in halo.records[102]
    assert state.mapped_records("csv", "Users")["u3@example.com"].fingerprint == before
    halo.refuse = lambda body: None
    again = engine(halo, state, batch_size=4).run(users(1, 2, 3, 4, title="T"))
    assert again.counts == RunCounts(updated=1, unchanged=3)


def test_a_record_deleted_in_halo_fails_its_update_and_is_created_again_next_run(
    halo: FakeHalo, state: StateStore
) -> None:
    engine(halo, state).run(users(1, 2))
    halo.refuse = refuse_id(100, HaloNotFoundError("no such user"))
    result = engine(halo, state).run(users(1, 2, title="T"))
    assert result.counts == RunCounts(updated=1, failed=1)
    assert result.failures == [
        RecordFailure(
            "u1@example.com",
            "u1@example.com",
            "Halo record 100 no longer exists; it is created again next run",
        )
    ]
    assert set(halo_ids(state)) == {"u2@example.com"}


def test_a_400_on_a_deactivation_batch_keeps_that_record_active_and_fails_it(
    halo: FakeHalo, state: StateStore
) -> None:
    engine(halo, state, batch_size=4).run(users(1, 2, 3, 4, 5))
    halo.refuse = refuse_id(101, HaloValidationError("an agent's user cannot be made inactive"))
    result = released(halo, state, batch_size=4).run([user(5)])
    assert result.counts == RunCounts(unchanged=1, deactivated=3, failed=1)
    assert result.failures == [
        RecordFailure("u2@example.com", "u2@example.com", "an agent's user cannot be made inactive")
    ]
    active = {k for k, e in state.mapped_records("csv", "Users").items() if e.active}
    assert active == {"u2@example.com", "u5@example.com"}
    assert [r["id"] for r in halo.records.values() if r["inactive"]] == [100, 102, 103]


def test_a_deactivation_of_a_record_already_deleted_in_halo_forgets_it_quietly(
    halo: FakeHalo, state: StateStore, caplog: pytest.LogCaptureFixture
) -> None:
    engine(halo, state).run(users(1, 2, 3))
    halo.refuse = refuse_id(100, HaloNotFoundError("no such user"))
    with caplog.at_level(logging.INFO, logger="halo_integrator.sync"):
        result = released(halo, state).run([user(3)])
    assert result.counts == RunCounts(unchanged=1, deactivated=1)
    assert result.failures == []
    assert set(halo_ids(state)) == {"u2@example.com", "u3@example.com"}
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.INFO] == [
        "u1@example.com was already deleted in Halo"
    ]


def test_a_400_on_a_create_batch_fails_only_the_bad_record(
    halo: FakeHalo, state: StateStore
) -> None:
    halo.refuse = refuse_email(
        "u2@example.com", HaloValidationError("name is required"), updates_only=False
    )
    result = engine(halo, state, batch_size=3).run(users(1, 2, 3))
    assert result.counts == RunCounts(created=2, failed=1)
    assert result.failures == [
        RecordFailure("u2@example.com", "u2@example.com", "name is required")
    ]
    assert set(halo_ids(state)) == {"u1@example.com", "u3@example.com"}


@pytest.mark.parametrize("phase", ["create", "update", "deactivate"])
def test_an_error_that_is_no_refusal_stops_the_run_with_what_was_applied(
    halo: FakeHalo, state: StateStore, phase: str
) -> None:
    if phase != "create":
        engine(halo, state).run(users(1, 2, 3))
    posts = len(halo.posts)
    forbidden = HaloForbiddenError("no permission")
    halo.refuse = lambda body: forbidden if len(halo.posts) > posts + 1 else None
    records = {
        "create": users(1, 2, 3),
        "update": users(1, 2, 3, title="T"),
        "deactivate": [],
    }[phase]
    with pytest.raises(HaloForbiddenError) as caught:
        released(halo, state).run(records)
    done = {"create": "created", "update": "updated", "deactivate": "deactivated"}[phase]
    assert getattr(caught.value.partial.counts, done) == 2


# -- answers lost on the way back --------------------------------------------------------------


def test_a_create_whose_answer_was_lost_is_looked_up_not_sent_again(
    halo: FakeHalo, state: StateStore
) -> None:
    halo.lose_answers = 1
    result = engine(halo, state, target=PLAIN_USERS, batch_size=5).run(users(1, 2, 3))
    assert result.counts == RunCounts(created=3)
    assert len(halo.posts) == 1 and len(halo.records) == 3
    assert halo_ids(state) == {"u1@example.com": 100, "u2@example.com": 101, "u3@example.com": 102}


def test_the_part_of_a_lost_batch_halo_did_not_save_is_sent_once_more(
    halo: FakeHalo, state: StateStore
) -> None:
    halo.lose_answers, halo.saved_before_loss = 1, 1
    result = engine(halo, state, target=PLAIN_USERS, batch_size=5).run(users(1, 2, 3))
    assert result.counts == RunCounts(created=3)
    assert [[b["emailaddress"] for b in post] for post in halo.posts] == [
        ["u1@example.com", "u2@example.com", "u3@example.com"],
        ["u2@example.com", "u3@example.com"],
    ]
    assert sorted(halo_ids(state).values()) == [100, 101, 102]
    # Looked up by a search per record, not a listing of every user.
    assert [query for query, _ in halo.queries[3:]] == [
        {"search": f"u{n}@example.com", "includeinactive": "true"} for n in (1, 2, 3)
    ]


def test_a_second_lost_answer_in_a_row_stops_the_run_keeping_what_was_found(
    halo: FakeHalo, state: StateStore
) -> None:
    halo.lose_answers, halo.saved_before_loss = 2, 1
    with pytest.raises(HaloConnectionError) as caught:
        engine(halo, state, target=PLAIN_USERS, batch_size=5).run(users(1, 2, 3))
    assert caught.value.partial.counts.created == 1
    assert len(halo.posts) == 2
    # The record found after the first loss is in the id map although the run failed.
    assert halo_ids(state, PLAIN_USERS) == {"u1@example.com": 100}
    # u2 reached Halo with the second lost answer, u3 did not: found once, created once.
    again = engine(halo, state, target=PLAIN_USERS, batch_size=5).run(users(1, 2, 3))
    assert again.counts == RunCounts(created=1, unchanged=2)
    assert sorted(r["emailaddress"] for r in halo.records.values()) == [
        "u1@example.com",
        "u2@example.com",
        "u3@example.com",
    ]


def test_a_lost_record_without_a_match_value_fails_instead_of_being_sent_again(
    halo: FakeHalo, state: StateStore, caplog: pytest.LogCaptureFixture
) -> None:
    halo.lose_answers, halo.saved_before_loss = 1, 0
    nameless = SourceRecord("E-7", {"name": "No Address"}, label="Employee 7")
    with caplog.at_level(logging.WARNING, logger="halo_integrator.sync"):
        result = engine(halo, state, target=PLAIN_USERS).run([nameless])
    assert result.counts == RunCounts(failed=1)
    assert result.failures == [
        RecordFailure(
            "E-7",
            "Employee 7",
            "Halo may have saved it, but it has no emailaddress to check that by; not sent again",
        )
    ]
    assert len(halo.posts) == 1
    assert "A create batch may have reached Halo; looking before resending" in caplog.text


def test_a_lost_record_halo_now_holds_twice_is_reported_not_picked(
    halo: FakeHalo, state: StateStore
) -> None:
    halo.lose_answers, halo.saved_before_loss = 1, 0
    halo.refuse = lambda body: None
    sync = engine(halo, state, target=PLAIN_USERS)
    original = halo.post_batch

    def post_and_twin(entity: str, bodies: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        halo.add(emailaddress="u1@example.com", name="made by another agent")
        halo.add(emailaddress="u1@example.com", name="and another")
        return original(entity, bodies)

    halo.post_batch = post_and_twin  # type: ignore[method-assign]
    result = sync.run([user(1)])
    assert result.counts == RunCounts(failed=1)
    assert result.failures == [
        RecordFailure(
            "u1@example.com",
            "u1@example.com",
            "2 Halo Users records (ids 100, 101) have the same emailaddress; not changed "
            "until one of them is merged or removed in Halo",
        )
    ]
    assert halo_ids(state, PLAIN_USERS) == {}


def test_an_error_that_cannot_have_reached_halo_is_not_looked_up(
    halo: FakeHalo, state: StateStore
) -> None:
    halo.refuse = lambda body: HaloConnectionError("refused", maybe_applied=False)
    with pytest.raises(HaloConnectionError):
        engine(halo, state, target=PLAIN_USERS).run([user(1)])
    assert halo.queries == [
        ({"search": "u1@example.com", "includeinactive": "true"}, SEARCH_PAGE_SIZE)
    ]


# -- ids of what Halo saved --------------------------------------------------------------------


@pytest.mark.parametrize("answer", ["as sent", "reversed", "ids"])
def test_each_record_is_mapped_to_the_halo_id_saved_for_it(
    halo: FakeHalo, state: StateStore, answer: str
) -> None:
    halo.answer = answer
    engine(halo, state, batch_size=3).run(users(1, 2, 3))
    for key, halo_id in halo_ids(state).items():
        assert halo.records[halo_id]["emailaddress"] == key


# -- the guard and dry runs --------------------------------------------------------------------


def test_the_configured_share_of_deactivations_is_used_not_the_default(
    halo: FakeHalo, state: StateStore
) -> None:
    engine(halo, state, batch_size=50).run(users(*range(1, 21)))
    kept = users(*range(6, 21))
    loose = engine(halo, state, guard=DeactivationGuard(max_percent=25)).run(kept)
    assert loose.refusal is None and loose.counts.deactivated == 5


def test_a_refused_run_deactivates_nothing_but_applies_the_rest(
    halo: FakeHalo, state: StateStore
) -> None:
    engine(halo, state, batch_size=50).run(users(*range(1, 21)))
    result = engine(halo, state, guard=DeactivationGuard(max_percent=20)).run(
        [*users(*range(6, 21)), user(30)]
    )
    assert result.refusal == (
        "Refused to deactivate 5 of 20 records in Halo (the limit is 20% and at most 500: "
        "4 records). Check that the source is complete. If the removals are real, raise "
        "max_deactivate_percent / max_deactivate_count or run once with "
        "--allow-mass-deactivation."
    )
    assert result.counts == RunCounts(created=1, unchanged=15)
    assert not any(r["inactive"] for r in halo.records.values())


def test_a_dry_run_counts_the_plan_and_sends_nothing(halo: FakeHalo, state: StateStore) -> None:
    engine(halo, state).run(users(1, 2, 3, 4))
    halo.posts.clear()
    request = RunRequest(dry_run=True, allow_mass_deactivation=True)
    result = engine(halo, state, request=request).run(
        [user(1), user(2, title="T"), user(5), SourceRecord("", {"name": "no key"})]
    )
    assert result.counts == RunCounts(created=1, updated=1, unchanged=1, deactivated=2, failed=1)
    assert halo.posts == []


# -- reconcile and create=False ----------------------------------------------------------------


def test_a_reconcile_puts_back_what_was_edited_or_deactivated_by_hand_in_halo(
    halo: FakeHalo, state: StateStore
) -> None:
    engine(halo, state).run(users(1, 2, 3))
    ids = halo_ids(state)
    halo.records[ids["u1@example.com"]]["name"] = "Renamed by hand"
    halo.records[ids["u2@example.com"]]["inactive"] = True
    plain = engine(halo, state).run(users(1, 2, 3))
    assert plain.counts == RunCounts(unchanged=3)  # the id map alone sees nothing
    result = engine(halo, state, reconcile=True).run(users(1, 2, 3))
    assert (result.counts.updated, result.counts.unchanged) == (2, 1)
    assert halo.records[ids["u1@example.com"]]["name"] == "User 1"
    assert halo.records[ids["u2@example.com"]]["inactive"] is False
    [put_back] = halo.posts[-1:]
    assert sorted(body["id"] for body in put_back) == [ids["u1@example.com"], ids["u2@example.com"]]


def test_without_create_a_record_halo_lacks_fails_and_nothing_is_created(
    halo: FakeHalo, state: StateStore
) -> None:
    halo.add(emailaddress="u1@example.com", name="User 1", third_party_id=MARKER)
    result = engine(halo, state, create=False).run(users(1, 2))
    assert result.counts.created == 0 and result.counts.unchanged == 1
    assert result.failures == [
        RecordFailure(
            "u2@example.com", "u2@example.com", "not in Halo, and this module does not create Users"
        )
    ]
    assert halo.with_email("u2@example.com") == []
