"""OAuth2 client-credentials tokens for the Halo API, cached until shortly before expiry.

Halo issues tokens at ``<auth url>/token`` (on-prem: ``<instance>/auth``; hosted: a separate
auth server plus ``?tenant=``). Fetching one per request would double the request count under
a 300-per-5-minutes limit, so a token is reused until ``REFRESH_MARGIN_SECONDS`` before it
expires, and refreshed once when the API still says 401 (clock skew, early revocation).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from core.errors import HaloError, HaloServerError, InvalidCredentialsError

REFRESH_MARGIN_SECONDS = 60.0
DEFAULT_TOKEN_LIFETIME_SECONDS = 3600.0


@dataclass(frozen=True)
class Token:
    """An access token; ``repr`` hides the value so it never reaches a log line."""

    value: str
    expires_at: float

    def __repr__(self) -> str:
        return f"Token(expires_at={self.expires_at:.0f})"


def token_url(instance_url: str, auth_url: str | None) -> str:
    """The token endpoint: ``<auth_url>/token``, where auth_url defaults to ``<instance>/auth``."""
    base = (auth_url or f"{instance_url.rstrip('/')}/auth").rstrip("/")
    return f"{base}/token"


class TokenSource:
    """Fetches and caches one token; thread-safe, so a tray and its workers share it."""

    def __init__(
        self,
        fetch: Callable[[], httpx.Response],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._token: Token | None = None
        self._lock = threading.Lock()

    def get(self) -> str:
        """A valid access token, fetched when none is cached or it is about to expire."""
        with self._lock:
            token = self._token
            if token is None or self._clock() >= token.expires_at - REFRESH_MARGIN_SECONDS:
                token = self._token = self._request_token()
            return token.value

    def invalidate(self, rejected: str) -> None:
        """Forget the cached token if it is the one the API just rejected."""
        with self._lock:
            if self._token is not None and self._token.value == rejected:
                self._token = None

    def _request_token(self) -> Token:
        response = self._fetch()
        if response.status_code == 200:
            return self._parse(response)
        raise token_error(response)

    def _parse(self, response: httpx.Response) -> Token:
        try:
            body = response.json()
            value = str(body["access_token"])
            lifetime = float(body.get("expires_in") or DEFAULT_TOKEN_LIFETIME_SECONDS)
        except (ValueError, KeyError, TypeError) as exc:
            raise HaloError(
                f"The token endpoint {response.request.url.copy_with(query=None)} answered "
                "without an access token.",
                status=response.status_code,
                hint="Check the Halo URL and the Auth URL under API Details in Halo.",
            ) from exc
        return Token(value=value, expires_at=self._clock() + lifetime)


def token_error(response: httpx.Response) -> HaloError:
    """Translate a failed token response into the admin-readable error it stands for."""
    status = response.status_code
    error = _oauth_error(response)
    endpoint = str(response.request.url.copy_with(query=None))
    if status in (400, 401) and error in ("invalid_client", "unauthorized_client"):
        return InvalidCredentialsError(
            # The title already says "Invalid client credentials"; the message does not repeat it.
            "Halo rejected the client ID or secret.",
            status=status,
            hint="Copy both again from Configuration > Integrations > Halo Integrator in Halo "
            "(or the application under Halo API); a regenerated secret replaces the old one.",
        )
    if status == 404:
        return HaloError(
            f"No Halo token endpoint at {endpoint}.",
            status=status,
            hint="Use the instance URL (not .../api) and set the Auth URL if Halo shows a "
            "separate one under API Details.",
        )
    if status >= 500:
        return HaloServerError(f"The Halo token endpoint failed with HTTP {status}.", status=status)
    detail = f" ({error})" if error else ""
    return HaloError(
        f"The Halo token endpoint refused the request with HTTP {status}{detail}.",
        status=status,
        hint="Check the tenant (hosted Halo only) and the scope.",
    )


def _oauth_error(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""
