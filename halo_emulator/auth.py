"""OAuth2 client-credentials tokens, shaped like Halo's auth server (halo-api.md section 1).

Tokens live in memory only: a restart of the emulator invalidates every token, which is
also what a client must survive against a real Halo (it re-authenticates on 401).
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from halo_emulator.state import STATE, ServerState

SUPPORTED_GRANT_TYPE = "client_credentials"
DEFAULT_SCOPE = "all"


@dataclass(frozen=True)
class IssuedToken:
    """One access token and the monotonic time after which it is refused."""

    client_id: str
    scope: str
    expires_at: float


ISSUED_TOKEN = web.RequestKey("issued_token", IssuedToken)
"""Where the bearer check leaves the caller's token, for server-filled fields."""


class TokenRegistry:
    """Issues random bearer tokens and checks them; thread-safe for `expire_all`."""

    def __init__(self) -> None:
        self._tokens: dict[str, IssuedToken] = {}
        self._lock = threading.Lock()

    def issue(self, client_id: str, scope: str, lifetime_seconds: float) -> str:
        """Create a token that is valid for `lifetime_seconds` from now."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = IssuedToken(client_id, scope, time.monotonic() + lifetime_seconds)
        return token

    def check(self, token: str) -> IssuedToken | None:
        """Return the token's record if it is known and unexpired, else None (and forget it)."""
        with self._lock:
            issued = self._tokens.get(token)
            if issued is not None and issued.expires_at <= time.monotonic():
                del self._tokens[token]
                return None
            return issued

    def expire_all(self) -> None:
        """Invalidate every token issued so far (the 'early token expiry' test knob)."""
        with self._lock:
            self._tokens.clear()


def oauth_error(status: int, error: str, description: str) -> web.Response:
    """An RFC 6749 error body; Halo's clients read `error` and `error_description`."""
    return web.json_response({"error": error, "error_description": description}, status=status)


async def token_endpoint(request: web.Request) -> web.Response:
    """POST /auth/token (on-prem style) and POST /token?tenant= (hosted style)."""
    state = request.app[STATE]
    hosted_path = request.path.rstrip("/").lower() == "/token"
    if hosted_path and state.tenant is None:
        return web.json_response({"message": "Not found"}, status=404)
    if state.tenant is not None and (hosted_path or "tenant" in request.query):
        tenant = request.query.get("tenant", "")
        if tenant.lower() != state.tenant.lower():
            return oauth_error(400, "invalid_request", f"Unknown tenant {tenant!r}.")
    form = await request.post()
    grant_type = str(form.get("grant_type", ""))
    if not grant_type:
        return oauth_error(400, "invalid_request", "The mandatory 'grant_type' is missing.")
    if grant_type != SUPPORTED_GRANT_TYPE:
        return oauth_error(
            400, "unsupported_grant_type", "The specified grant type is not supported."
        )
    client_id, client_secret = _client_credentials(request, form)
    if not (
        secrets.compare_digest(client_id, state.client_id)
        and secrets.compare_digest(client_secret, state.client_secret)
    ):
        return oauth_error(401, "invalid_client", "The client credentials are invalid.")
    scope = str(form.get("scope") or DEFAULT_SCOPE)
    return web.json_response(_token_body(state, client_id, scope))


def _token_body(state: ServerState, client_id: str, scope: str) -> dict[str, object]:
    """Issue the token; its real lifetime is shortened when early expiry is switched on."""
    lifetime = state.token_lifetime
    early = state.faults.token_early_expiry
    real_lifetime = lifetime if early is None else min(float(lifetime), early)
    token = state.tokens.issue(client_id, scope, real_lifetime)
    return {"access_token": token, "token_type": "Bearer", "expires_in": lifetime, "scope": scope}


def _client_credentials(request: web.Request, form: Mapping[str, object]) -> tuple[str, str]:
    """Credentials from the form body, or from HTTP Basic (OpenIddict accepts both)."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip()).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
        client_id, _, client_secret = decoded.partition(":")
        return client_id, client_secret
    return str(form.get("client_id", "")), str(form.get("client_secret", ""))


def bearer_failure(request: web.Request) -> web.Response | None:
    """None when the request carries a valid bearer token, else the 401 to answer with."""
    state = request.app[STATE]
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _unauthorized("invalid_request", "A bearer token is required.")
    issued = state.tokens.check(token.strip())
    if issued is None:
        return _unauthorized("invalid_token", "The access token is invalid or has expired.")
    request[ISSUED_TOKEN] = issued
    return None


def _unauthorized(error: str, description: str) -> web.Response:
    response = oauth_error(401, error, description)
    response.headers["WWW-Authenticate"] = f'Bearer error="{error}"'
    return response
