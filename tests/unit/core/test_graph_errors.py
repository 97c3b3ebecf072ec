"""Entra's and Graph's error answers become one clear sentence each."""

from __future__ import annotations

from core.sources.graph_errors import (
    DeltaTokenExpiredError,
    GraphCredentialsError,
    GraphError,
    GraphPermissionError,
    GraphTenantNotFoundError,
    graph_failure,
    token_failure,
)

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
APP = "6731de76-14a6-49ae-97bc-6eba6914391e"


def entra(error: str, description: str) -> dict[str, object]:
    return {"error": error, "error_description": description, "error_codes": [1]}


def test_a_wrong_secret_keeps_only_the_first_sentence_of_entras_description() -> None:
    description = (
        "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the "
        "request is the client secret value.\r\nTrace ID: abc\r\nCorrelation ID: def"
    )
    error = token_failure(401, entra("invalid_client", description), TENANT, APP)
    assert isinstance(error, GraphCredentialsError)
    assert error.message == (
        f"Entra ID refused the client secret for app {APP} in tenant {TENANT} "
        "(AADSTS7000215: Invalid client secret provided.)."
    )
    assert "Value (not its Secret ID)" in error.hint


def test_an_expired_secret_is_a_refused_secret_too() -> None:
    error = token_failure(
        401,
        entra("invalid_client", "AADSTS7000222: The provided client secret keys are expired."),
        TENANT,
        APP,
    )
    assert "refused the client secret" in error.message and error.code == "AADSTS7000222"


def test_an_unknown_tenant_says_where_to_find_the_tenant_id() -> None:
    error = token_failure(
        400, entra("invalid_request", "AADSTS90002: Tenant 'x' not found. Check it."), "x", APP
    )
    assert isinstance(error, GraphTenantNotFoundError)
    assert error.message == "Entra ID has no tenant x (AADSTS90002: Tenant 'x' not found.)."
    assert "Directory (tenant) ID" in error.hint


def test_a_token_answer_that_is_not_json_still_gives_a_sentence() -> None:
    error = token_failure(502, None, TENANT, APP)
    assert type(error) is GraphError
    assert error.message == f"Entra ID refused a token for app {APP} in tenant {TENANT} (HTTP 502)."


def test_410_is_a_delta_token_expired_error_whatever_the_code() -> None:
    assert isinstance(graph_failure(410, None, "the users delta", APP), DeltaTokenExpiredError)
    body = {"error": {"code": "syncStateNotFound", "message": "gone"}}
    assert isinstance(graph_failure(400, body, "the users delta", APP), DeltaTokenExpiredError)


def test_403_names_the_application_permission_and_admin_consent() -> None:
    body = {"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges."}}
    error = graph_failure(403, body, "users", APP)
    assert isinstance(error, GraphPermissionError)
    assert error.message == (
        f"Graph refused to list users for app {APP} "
        "(Authorization_RequestDenied: Insufficient privileges.)."
    )
    assert "User.Read.All" in error.hint and "admin consent" in error.hint
