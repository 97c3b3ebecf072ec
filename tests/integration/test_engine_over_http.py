"""The engine's batches over HTTP: refusals of updates and deactivations, lost answers, lookups
of inactive users, and a configured guard, against the emulator with the real client."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx

from core.halo.client import HaloClient
from core.run.runner import Runner
from core.settings.model import Settings
from core.state.store import STATE_FILE_NAME
from halo_emulator import Emulator

from .conftest import FAST_RETRY, connection_for, halo_users, user_rows, write_csv

MakeSettings = Callable[..., Settings]


class RefuseUsers(httpx.HTTPTransport):
    """Answers 400, as Halo does for bad data, to a POST of users with a body ``refused`` picks."""

    def __init__(self, refused: Callable[[dict], bool]) -> None:
        super().__init__()
        self.refused = refused
        self.posts: list[list[dict]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.lower() == "/api/users":
            bodies = json.loads(request.content)
            self.posts.append(bodies)
            if any(self.refused(body) for body in bodies):
                message = {"message": "Invalid Users data: [0].emailaddress: already an agent"}
                return httpx.Response(400, json=message, request=request)
        return super().handle_request(request)


def runner(
    settings: Settings, emu: Emulator, transport: httpx.BaseTransport | None = None
) -> Runner:
    """A run whose Halo client posts two records a batch, so every phase has several."""
    connection = connection_for(emu, batch_size=2)
    return Runner(
        settings,
        client_factory=lambda: HaloClient(connection, retry=FAST_RETRY, transport=transport),
    )


def by_email(emu: Emulator) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for user in halo_users(emu):
        found.setdefault(str(user.get("emailaddress")), []).append(user)
    return {key: users for key, users in found.items() if key.endswith("@example.com")}


def test_a_400_on_an_update_batch_fails_that_row_alone_and_it_is_retried_next_run(
    emulator: Emulator, make_settings: MakeSettings
) -> None:
    settings = make_settings()
    rows = user_rows(5)
    write_csv(settings.folder / "users.csv", rows)
    runner(settings, emulator).run()
    for row in rows:
        row["department"] = "Sales"
    write_csv(settings.folder / "users.csv", rows)
    refuse = RefuseUsers(
        lambda body: body.get("id") and body["emailaddress"] == "user3@example.com"
    )
    [result] = runner(settings, emulator, refuse).run()
    assert (result.counts.updated, result.counts.failed) == (4, 1)
    assert [f.key for f in result.failures] == ["user3@example.com"]
    assert "already an agent" in result.failures[0].message
    assert [len(post) for post in refuse.posts] == [2, 2, 1, 1, 1]
    departments = {key: users[0]["department"] for key, users in by_email(emulator).items()}
    assert departments["user3@example.com"] == "IT"
    assert sum(value == "Sales" for value in departments.values()) == 4
    [retried] = runner(settings, emulator).run()
    assert (retried.counts.updated, retried.counts.unchanged) == (1, 4)


def test_a_400_on_a_deactivation_batch_keeps_that_user_active_the_others_go(
    emulator: Emulator, make_settings: MakeSettings
) -> None:
    settings = make_settings(max_deactivate_percent=60)
    write_csv(settings.folder / "users.csv", user_rows(5))
    runner(settings, emulator).run()
    write_csv(settings.folder / "users.csv", user_rows(2, start=4))
    user2 = by_email(emulator)["user2@example.com"][0]["id"]
    refuse = RefuseUsers(lambda body: body.get("inactive") and body["id"] == user2)
    [result] = runner(settings, emulator, refuse).run()
    assert result.outcome == "succeeded"
    assert (result.counts.deactivated, result.counts.failed) == (2, 1)
    assert [f.key for f in result.failures] == ["user2@example.com"]
    inactive = {key for key, users in by_email(emulator).items() if users[0]["inactive"]}
    assert inactive == {"user1@example.com", "user3@example.com"}
    [next_run] = runner(settings, emulator).run()
    assert next_run.counts.deactivated == 1


def test_the_configured_share_of_deactivations_is_the_one_the_guard_applies(
    emulator: Emulator, make_settings: MakeSettings
) -> None:
    loose = make_settings("loose", max_deactivate_percent=25)
    write_csv(loose.folder / "users.csv", user_rows(20))
    runner(loose, emulator).run()
    write_csv(loose.folder / "users.csv", user_rows(15, start=6))
    [result] = runner(loose, emulator).run()
    assert result.outcome == "succeeded" and result.counts.deactivated == 5

    strict = make_settings("strict", max_deactivate_percent=20)
    write_csv(strict.folder / "users.csv", user_rows(20, start=100))
    runner(strict, emulator).run()
    write_csv(strict.folder / "users.csv", user_rows(15, start=105))
    [refused] = runner(strict, emulator).run()
    assert refused.outcome == "refused" and refused.counts.deactivated == 0
    assert "the limit is 20% and at most 500: 4 records" in (refused.error or "")


def test_after_a_lost_state_db_a_user_deactivated_in_halo_is_not_created_again(
    emulator: Emulator, make_settings: MakeSettings
) -> None:
    settings = make_settings()
    write_csv(settings.folder / "users.csv", user_rows(3))
    runner(settings, emulator).run()
    disabled = by_email(emulator)["user2@example.com"][0]
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        halo.post_batch("Users", [{"id": disabled["id"], "inactive": True}])
    (settings.folder / STATE_FILE_NAME).unlink()
    [result] = runner(settings, emulator).run()
    assert result.counts.created == 0
    users = by_email(emulator)
    assert sorted(users) == [f"user{n}@example.com" for n in (1, 2, 3)]
    assert all(len(found) == 1 for found in users.values())
    assert users["user2@example.com"][0]["id"] == disabled["id"]


def test_answers_lost_for_two_create_batches_in_a_row_create_nothing_twice(
    emulator: Emulator, make_settings: MakeSettings
) -> None:
    settings = make_settings()
    write_csv(settings.folder / "users.csv", user_rows(4))
    emulator.set_faults(lose_answer_next=2)
    [result] = runner(settings, emulator).run()
    assert result.outcome == "succeeded" and result.counts.created == 4
    users = by_email(emulator)
    assert len(users) == 4 and all(len(found) == 1 for found in users.values())
    [again] = runner(settings, emulator).run()
    assert (again.counts.created, again.counts.unchanged) == (0, 4)
