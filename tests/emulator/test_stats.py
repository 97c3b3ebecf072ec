"""Request counting over the admin API and the Python facade."""

from __future__ import annotations

from halo_emulator import Emulator
from halo_emulator.stats import endpoint_key

from .conftest import HaloApi


def test_endpoint_keys_are_lower_case_with_ids_replaced() -> None:
    assert endpoint_key("get", "/api/Users/5") == "GET /api/users/{id}"
    assert endpoint_key("GET", "/api/Users/5.0/") == "GET /api/users/{id}"
    assert endpoint_key("POST", "/api/Users") == "POST /api/users"
    assert endpoint_key("GET", "/api/Agent/me") == "GET /api/agent/me"


def test_stats_count_by_endpoint_status_and_records(emulator: Emulator, api: HaloApi) -> None:
    api.post("Users", [{"name": "Ada"}])
    api.get("users")
    api.get("Users/1")
    api.get("Users/99")
    stats = api.admin("GET", "stats").json()
    assert stats["total"] == 5
    assert stats["by_endpoint"] == {
        "POST /auth/token": 1,
        "POST /api/users": 1,
        "GET /api/users": 1,
        "GET /api/users/{id}": 2,
    }
    assert stats["by_status"] == {"200": 4, "404": 1}
    assert stats["records"]["users"] == 1
    assert stats["records"]["assettype"] >= 4
    assert emulator.stats()["total"] == 5


def test_reset_zeroes_the_counters_but_keeps_records(emulator: Emulator, api: HaloApi) -> None:
    api.post("Users", [{"name": "Ada"}])
    assert api.admin("POST", "stats/reset").json()["total"] == 0
    api.get("Users")
    emulator.reset_stats()
    stats = emulator.stats()
    assert stats["total"] == 0 and stats["by_endpoint"] == {}
    assert stats["records"]["users"] == 1


def test_401_and_429_answers_are_counted(make_emulator, make_api) -> None:
    emulator = make_emulator(rate_limit=(2, 60.0))
    api = make_api(emulator)
    api.token = "bad"
    api.get("Users")
    api.get("Users")
    assert emulator.stats()["by_status"] == {"200": 1, "401": 1, "429": 1}
