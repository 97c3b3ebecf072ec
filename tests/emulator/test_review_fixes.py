"""Edge cases a real Halo gets right and an emulator easily gets wrong."""

from __future__ import annotations

import httpx
import pytest

from halo_emulator import Emulator

from .conftest import HaloApi


def test_ids_of_deleted_records_are_never_reused(api: HaloApi) -> None:
    first = api.post("Users", [{"name": "Alice"}]).json()
    assert api.delete(f"Users/{first['id']}").status_code == 200
    second = api.post("Users", [{"name": "Bob"}]).json()
    assert second["id"] == first["id"] + 1


@pytest.mark.parametrize("bad_id", ["99999999999999999999", "1e20", "1_0", "1e0", "-3", "abc"])
def test_odd_ids_get_a_json_404_not_a_crash(api: HaloApi, bad_id: str) -> None:
    response = api.get(f"Users/{bad_id}")
    assert response.status_code == 404
    assert "message" in response.json()


def test_a_huge_id_in_a_body_is_refused_cleanly(api: HaloApi) -> None:
    response = api.post("Users", [{"id": 1e20, "name": "x"}])
    assert response.status_code in (400, 404)
    assert "message" in response.json()


def test_bodies_that_are_not_utf8_or_not_json_are_400(api: HaloApi) -> None:
    not_utf8 = api.request(
        "POST", "Users", content=b'[{"name": "\xff"}]', headers={"Content-Type": "application/json"}
    )
    assert not_utf8.status_code == 400
    nan = api.request(
        "POST",
        "Users",
        content=b'[{"name": "x", "score": NaN}]',
        headers={"Content-Type": "application/json"},
    )
    assert nan.status_code == 400


def test_routing_ignores_case_in_the_prefixes_too(api: HaloApi, emulator: Emulator) -> None:
    assert (
        api.http.get("/API/Users", headers={"Authorization": f"Bearer {api.token}"}).status_code
        == 200
    )
    form = {
        "grant_type": "client_credentials",
        "client_id": emulator.client_id,
        "client_secret": emulator.client_secret,
    }
    assert api.http.post("/Auth/Token", data=form).status_code == 200


def test_unknown_paths_answer_json(api: HaloApi) -> None:
    response = api.http.get("/nothing/here")
    assert response.status_code == 404 and "message" in response.json()


def test_large_bodies_are_accepted(api: HaloApi) -> None:
    big = "x" * (2 * 1024 * 1024)
    response = api.post("Attachment", [{"filename": "big.bin", "data_base64": big}])
    assert response.status_code == 200


def test_nonsense_fault_and_config_values_are_refused(api: HaloApi) -> None:
    assert api.admin("POST", "faults", json={"latency_ms": "inf"}).status_code == 400
    assert api.admin("POST", "faults", json={"token_early_expiry": -1}).status_code == 400
    assert api.admin("POST", "config", json={"rate_limit": [5]}).status_code == 400


def test_bare_object_posts_are_accepted_but_counted(api: HaloApi) -> None:
    api.post("Users", [{"name": "In an array"}])
    assert api.admin("GET", "stats").json()["bare_object_posts"] == 0
    assert api.post("Users", {"name": "Bare"}).status_code == 200
    assert api.admin("GET", "stats").json()["bare_object_posts"] == 1


def test_a_lost_answer_still_saves_the_write(api: HaloApi) -> None:
    api.admin("POST", "faults", json={"lose_answer_next": 1})
    with pytest.raises(httpx.TransportError):
        api.post("Users", [{"name": "Saved but unanswered"}])
    found = api.get("Users", search="Saved but unanswered").json()
    assert found["record_count"] == 1
    assert api.admin("GET", "stats").json()["dropped"] == 1
