"""The ways a sync could lose or duplicate data, each provoked for real against the emulator."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from core.errors import HaloRateLimitError
from core.halo.client import HaloClient, RetryPolicy
from core.run.runner import Runner
from core.settings.model import Settings
from core.state.store import StateStore
from halo_emulator import Emulator

from .conftest import FAST_RETRY, SECRET, connection_for, halo_users, user_rows, write_csv

MakeSettings = Callable[..., Settings]


class LoseFirstCreateAnswer(httpx.HTTPTransport):
    """Delivers the first POST of new records to Halo, then loses the answer on the way back:
    the one failure where resending blindly creates duplicates."""

    def __init__(self) -> None:
        super().__init__()
        self.lost = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        creates = request.method == "POST" and b'"id"' not in request.content
        if creates and "/api/" in request.url.path and not self.lost:
            response.read()
            self.lost += 1
            raise httpx.ReadError("connection reset after the request was sent")
        return response


def runner_with(settings: Settings, transport: httpx.BaseTransport | None = None) -> Runner:
    return Runner(
        settings,
        client_factory=lambda: HaloClient(settings.halo, retry=FAST_RETRY, transport=transport),
    )


def csv_users(emu: Emulator) -> list[dict]:
    return [u for u in halo_users(emu) if str(u.get("emailaddress", "")).endswith("@example.com")]


@pytest.mark.parametrize("key_column", ["emailaddress", "login"])
def test_a_create_whose_answer_was_lost_is_not_created_twice(
    emulator: Emulator, make_settings: MakeSettings, key_column: str
) -> None:
    settings = make_settings(key_column=key_column)
    rows = [{**row, "login": f"login{n}"} for n, row in enumerate(user_rows(3))]
    write_csv(settings.folder / "users.csv", rows)
    transport = LoseFirstCreateAnswer()
    [result] = runner_with(settings, transport).run()
    assert transport.lost == 1
    assert result.counts.created == 3
    assert len(csv_users(emulator)) == 3
    [again] = runner_with(settings).run()
    assert (again.counts.created, again.counts.unchanged) == (0, 3)


def test_an_existing_record_is_found_among_many_similar_ones(
    emulator: Emulator, make_settings: MakeSettings
) -> None:
    """Halo's search is a substring match: PC-1 also finds PC-100..PC-159."""
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        similar = [{"inventory_number": f"PC-1{n:02d}", "assettype_id": 1} for n in range(60)]
        halo.post_batch("Asset", [*similar, {"inventory_number": "PC-1", "assettype_id": 1}])
    settings = make_settings(target="assets", path="assets.csv")
    write_csv(settings.folder / "assets.csv", [{"inventory_number": "PC-1", "key_field": "x"}])
    [result] = runner_with(settings).run()
    assert result.counts.created == 0 and result.counts.updated == 1
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        assets = list(halo.iter_records("Asset", {"search": "PC-1"}))
    assert sum(1 for a in assets if a["inventory_number"] == "PC-1") == 1


def test_a_record_deleted_in_halo_does_not_block_the_module(
    emulator: Emulator, make_settings: MakeSettings
) -> None:
    settings = make_settings()
    rows = user_rows(3)
    write_csv(settings.folder / "users.csv", rows)
    runner_with(settings).run()
    deleted = next(u for u in csv_users(emulator) if u["emailaddress"] == "user1@example.com")
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        halo.delete(f"Users/{deleted['id']}")
    rows[0]["department"] = "Sales"
    rows[1]["department"] = "Sales"
    write_csv(settings.folder / "users.csv", rows)

    [result] = runner_with(settings).run()
    assert result.outcome == "succeeded"
    assert (result.counts.updated, result.counts.failed) == (1, 1)
    assert "no longer exists" in result.failures[0].message
    [next_run] = runner_with(settings).run()
    assert next_run.counts.created == 1  # the deleted user comes back
    assert {u["emailaddress"] for u in csv_users(emulator)} == {r["emailaddress"] for r in rows}


def test_an_aborted_run_still_reports_what_it_applied(
    emulator: Emulator, make_settings: MakeSettings
) -> None:
    settings = make_settings()
    write_csv(settings.folder / "users.csv", user_rows(150))

    class FailSecondBatch(httpx.HTTPTransport):
        posts = 0

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "POST" and request.url.path.lower() == "/api/users":
                FailSecondBatch.posts += 1
                if FailSecondBatch.posts == 2:
                    return httpx.Response(403, json={"message": "no permission"}, request=request)
            return super().handle_request(request)

    [result] = runner_with(settings, FailSecondBatch()).run()
    assert result.outcome == "failed" and "may not do" in (result.error or "")
    assert result.counts.created == 100
    history = StateStore(settings.folder).recent_runs("csv")[0]
    assert (history["outcome"], history["created"]) == ("failed", 100)
    [resumed] = runner_with(settings).run()
    assert (resumed.counts.created, resumed.counts.unchanged) == (50, 100)


def test_an_empty_source_never_deactivates_everything(
    emulator: Emulator, make_settings: MakeSettings
) -> None:
    settings = make_settings()
    write_csv(settings.folder / "users.csv", user_rows(3))
    runner_with(settings).run()
    (settings.folder / "users.csv").write_text("emailaddress,firstname\n", encoding="utf-8")
    [result] = runner_with(settings).run()
    assert result.outcome == "refused" and "no records at all" in (result.error or "")
    assert not any(u.get("inactive") for u in csv_users(emulator))


def test_rate_limit_patience_is_bounded() -> None:
    with Emulator(client_secret=SECRET, rate_limit=(1, 60.0)) as emu:
        policy = RetryPolicy(rate_limit_patience_seconds=0.3, rate_limit_min_wait_seconds=0.1)
        with HaloClient(connection_for(emu), retry=policy) as halo:
            halo.authenticate()  # uses the one request the window allows
            with pytest.raises(HaloRateLimitError) as raised:
                halo.get("Status")
    assert "kept answering 429" in str(raised.value)


def test_a_429_on_the_token_endpoint_is_waited_out(emulator: Emulator) -> None:
    emulator.set_faults(burst_429=1)
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        assert isinstance(halo.get("Status"), list)
        assert halo.stats.rate_limited == 1
    assert emulator.stats()["by_endpoint"]["POST /auth/token"] == 2
