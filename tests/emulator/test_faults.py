"""Fault knobs: latency, 500s, 429 bursts, dropped connections, early token expiry."""

from __future__ import annotations

import time

import httpx
import pytest

from halo_emulator import Emulator, FaultSettings

from .conftest import HaloApi, token_form


def test_latency_is_added_to_every_answer(emulator: Emulator, api: HaloApi) -> None:
    emulator.set_faults(latency_ms=150)
    started = time.monotonic()
    assert api.get("Status").status_code == 200
    assert time.monotonic() - started >= 0.15
    emulator.set_faults(latency_ms=0)


def test_error_next_gives_500s_then_recovers(emulator: Emulator, api: HaloApi) -> None:
    emulator.set_faults(error_next=2)
    assert [api.get("Status").status_code for _ in range(3)] == [500, 500, 200]
    assert emulator.stats()["by_status"]["500"] == 2


def test_error_rate_one_always_fails_and_zero_never(emulator: Emulator, api: HaloApi) -> None:
    emulator.set_faults(error_rate=1.0)
    assert api.get("Status").status_code == 500
    emulator.set_faults(error_rate=0.0)
    assert api.get("Status").status_code == 200


def test_burst_429_answers_with_the_rate_limit_body(emulator: Emulator, api: HaloApi) -> None:
    emulator.set_faults(burst_429=2)
    first, second, third = (api.get("Status") for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (429, 429, 200)
    assert "Rate Limit Reached" in first.json()["message"]


def test_drop_next_closes_the_connection_without_an_answer(
    emulator: Emulator, api: HaloApi
) -> None:
    emulator.set_faults(drop_next=1)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        api.get("Status")
    assert api.get("Status").status_code == 200
    assert emulator.stats()["dropped"] == 1


def test_drop_rate_one_drops_the_token_request_too(emulator: Emulator) -> None:
    emulator.set_faults(drop_rate=1.0)
    with (
        httpx.Client(base_url=emulator.base_url) as client,
        pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)),
    ):
        client.post("/auth/token", data=token_form(emulator))
    emulator.set_faults(drop_rate=0.0)


def test_early_expiry_invalidates_a_token_that_claims_to_be_valid(make_emulator, make_api) -> None:
    emulator = make_emulator(rate_limit=None, faults=FaultSettings(token_early_expiry=0.5))
    api = make_api(emulator)
    assert api.get("Status").status_code == 200
    time.sleep(0.6)
    response = api.get("Status")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    api.authenticate()
    assert api.get("Status").status_code == 200


def test_expire_tokens_invalidates_every_issued_token(emulator: Emulator, api: HaloApi) -> None:
    emulator.expire_tokens()
    assert api.get("Status").status_code == 401
    api.authenticate()
    assert api.get("Status").status_code == 200
    assert api.admin("POST", "expire-tokens").status_code == 200
    assert api.get("Status").status_code == 401


def test_faults_can_be_set_over_the_admin_api(emulator: Emulator, api: HaloApi) -> None:
    response = api.admin("POST", "faults", json={"error_next": 1, "latency_ms": 0})
    assert response.json()["error_next"] == 1
    assert api.get("Status").status_code == 500
    assert api.admin("GET", "faults").json()["error_next"] == 0
    assert api.admin("POST", "faults", json={"no_such_knob": 1}).status_code == 400
    assert api.admin("POST", "faults", json={"error_rate": 2}).status_code == 400


def test_faults_never_touch_the_admin_api(emulator: Emulator, api: HaloApi) -> None:
    emulator.set_faults(error_next=3, drop_next=0, burst_429=0)
    assert api.admin("GET", "stats").status_code == 200
    assert emulator.stats()["total"] == 1  # only the token request so far
    emulator.set_faults(error_next=0)


def test_set_faults_rejects_unknown_names(emulator: Emulator) -> None:
    with pytest.raises(TypeError):
        emulator.set_faults(explode=True)
