"""Token endpoints, authinfo discovery and the bearer check (halo-api.md section 1)."""

from __future__ import annotations

import base64

import httpx

from halo_emulator import Emulator

from .conftest import HaloApi, token_form


def test_authinfo_points_on_premise_clients_at_the_auth_path(emulator: Emulator) -> None:
    response = httpx.get(f"{emulator.base_url}/api/AuthInfo")
    assert response.status_code == 200
    assert response.json() == {"auth_url": f"{emulator.base_url}/auth", "tenant_id": None}


def test_a_good_client_gets_a_bearer_token_with_the_configured_lifetime(make_emulator) -> None:
    emulator = make_emulator(token_lifetime=120)
    response = httpx.post(f"{emulator.base_url}/auth/token", data=token_form(emulator))
    body = response.json()
    assert response.status_code == 200
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 120
    assert body["scope"] == "all"
    assert len(body["access_token"]) > 20


def test_scope_defaults_to_all_and_echoes_what_was_asked(emulator: Emulator) -> None:
    form = token_form(emulator)
    del form["scope"]
    assert httpx.post(f"{emulator.base_url}/auth/token", data=form).json()["scope"] == "all"
    form["scope"] = "read:tickets edit:customers"
    body = httpx.post(f"{emulator.base_url}/auth/token", data=form).json()
    assert body["scope"] == "read:tickets edit:customers"


def test_a_wrong_secret_is_401_invalid_client(emulator: Emulator) -> None:
    response = httpx.post(
        f"{emulator.base_url}/auth/token", data=token_form(emulator, client_secret="nope")
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.json()["error_description"]


def test_a_wrong_client_id_is_401_invalid_client(emulator: Emulator) -> None:
    response = httpx.post(
        f"{emulator.base_url}/auth/token", data=token_form(emulator, client_id="other")
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_another_grant_type_is_400_unsupported_grant_type(emulator: Emulator) -> None:
    response = httpx.post(
        f"{emulator.base_url}/auth/token", data=token_form(emulator, grant_type="password")
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_http_basic_client_authentication_is_accepted(emulator: Emulator) -> None:
    credentials = f"{emulator.client_id}:{emulator.client_secret}".encode()
    response = httpx.post(
        f"{emulator.base_url}/auth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic " + base64.b64encode(credentials).decode()},
    )
    assert response.status_code == 200


def test_api_calls_without_a_token_are_401(emulator: Emulator) -> None:
    response = httpx.get(f"{emulator.base_url}/api/Users")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_request"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_api_calls_with_an_unknown_token_are_401(api: HaloApi) -> None:
    api.token = "made-up"
    response = api.get("Users")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_the_hosted_style_endpoint_is_absent_without_a_tenant(emulator: Emulator) -> None:
    response = httpx.post(f"{emulator.base_url}/token", data=token_form(emulator))
    assert response.status_code == 404


def test_hosted_mode_issues_tokens_at_token_with_the_tenant(make_emulator) -> None:
    emulator = make_emulator(tenant="acme")
    info = httpx.get(f"{emulator.base_url}/api/authinfo").json()
    assert info == {"auth_url": emulator.base_url, "tenant_id": "acme"}
    hosted = httpx.post(f"{info['auth_url']}/token?tenant=acme", data=token_form(emulator))
    assert hosted.status_code == 200
    on_prem_style = httpx.post(f"{emulator.base_url}/auth/token", data=token_form(emulator))
    assert on_prem_style.status_code == 200
    token = hosted.json()["access_token"]
    users = httpx.get(
        f"{emulator.base_url}/api/users", headers={"Authorization": f"Bearer {token}"}
    )
    assert users.status_code == 200


def test_hosted_mode_rejects_a_wrong_or_missing_tenant(make_emulator) -> None:
    emulator = make_emulator(tenant="acme")
    for url in (f"{emulator.base_url}/token?tenant=other", f"{emulator.base_url}/token"):
        response = httpx.post(url, data=token_form(emulator))
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_request"
