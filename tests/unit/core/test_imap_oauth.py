"""Client-credentials tokens for XOAUTH2: one request an hour, clear refusals, no secrets."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable

import httpx
import pytest

from core.settings.secrets import Secret
from core.sources.imap_errors import OAuthTokenError
from core.sources.imap_oauth import ClientCredentialsTokens
from core.sources.imap_types import DEFAULT_OAUTH_SCOPE, MailboxSettings

SECRET = "client-secret-value-9x"
URL = "https://login.example.com/tenant/oauth2/v2.0/token"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def tokens_with(
    handler: Callable[[httpx.Request], httpx.Response], clock: Clock | None = None
) -> ClientCredentialsTokens:
    return ClientCredentialsTokens(
        URL,
        "app-id",
        Secret(SECRET),
        DEFAULT_OAUTH_SCOPE,
        transport=httpx.MockTransport(handler),
        clock=clock or Clock(),
    )


def issuing(forms: list[dict[str, str]], lifetime: int = 3600) -> Callable[..., httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        forms.append(dict(urllib.parse.parse_qsl(request.content.decode())))
        return httpx.Response(
            200, json={"access_token": f"token-{len(forms)}", "expires_in": lifetime}
        )

    return handler


def test_a_token_is_reused_until_shortly_before_it_expires() -> None:
    forms: list[dict[str, str]] = []
    clock = Clock()
    tokens = tokens_with(issuing(forms), clock)
    assert tokens.token() == tokens.token() == "token-1"
    clock.now += 3600 - 30  # inside the refresh margin
    assert tokens.token() == "token-2" and tokens.cached
    assert tokens.token(fresh=True) == "token-3"
    assert forms[0] == {
        "grant_type": "client_credentials",
        "client_id": "app-id",
        "client_secret": SECRET,
        "scope": DEFAULT_OAUTH_SCOPE,
    }


def test_settings_choose_microsofts_endpoint_for_a_tenant() -> None:
    settings = MailboxSettings(
        "imaps://outlook.office365.com",
        "helpdesk@contoso.com",
        oauth_client_id="app",
        oauth_client_secret=Secret(SECRET),
        oauth_tenant_id="contoso.onmicrosoft.com",
    )
    tokens = ClientCredentialsTokens.for_settings(settings)
    assert tokens.token_url.startswith("https://login.microsoftonline.com/contoso.onmicrosoft")
    assert SECRET not in repr(tokens)


def test_refused_credentials_quote_the_endpoints_reason_without_the_secret() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        body = {
            "error": "invalid_client",
            "error_description": f"AADSTS7000215: Invalid client secret {SECRET}.\r\nTrace ID: 1",
        }
        return httpx.Response(401, json=body)

    with pytest.raises(OAuthTokenError) as caught:
        tokens_with(refuse).token()
    error = caught.value
    assert error.status == 401 and "invalid_client: AADSTS7000215" in str(error)
    assert SECRET not in str(error) and "Trace ID" not in str(error)
    assert "oauth_client_secret" in error.hint


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (httpx.Response(503, text="busy"), "HTTP 503"),
        (httpx.Response(400, json={"error": "invalid_scope"}), "invalid_scope"),
        (httpx.Response(200, json={"token_type": "Bearer"}), "without an access token"),
        (httpx.Response(200, text="<html>"), "without an access token"),
    ],
)
def test_other_failures(response: httpx.Response, expected: str) -> None:
    with pytest.raises(OAuthTokenError) as caught:
        tokens_with(lambda request: response).token()
    assert expected in str(caught.value)


def test_an_unreachable_endpoint() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    with pytest.raises(OAuthTokenError) as caught:
        tokens_with(down).token()
    assert f"cannot reach the token endpoint {URL} (Connection refused; waited" in str(caught.value)


def test_the_token_never_shows_in_a_repr() -> None:
    tokens = tokens_with(issuing([]))
    value = tokens.token()
    assert value not in repr(tokens) + repr(vars(tokens))
