"""Client-credentials tokens for XOAUTH2, cached until shortly before they expire.

Microsoft 365 (and Google Workspace) no longer take passwords over IMAP: an app registration
gets a token from ``.../oauth2/v2.0/token`` with its client ID and secret, and the mailbox
accepts it in ``AUTHENTICATE XOAUTH2``. A token lasts about an hour, so one is reused for
every connection until ``REFRESH_MARGIN_SECONDS`` before it expires; keep one
:class:`ClientCredentialsTokens` per mailbox for as long as the process runs. httpx's
exceptions become :class:`OAuthTokenError` here, never showing the secret or the token.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from core.settings.secrets import Secret
from core.sources.imap_errors import OAuthTokenError
from core.sources.imap_types import MailboxSettings

REFRESH_MARGIN_SECONDS = 60.0
DEFAULT_TOKEN_LIFETIME_SECONDS = 3600.0
_MAX_DESCRIPTION_CHARACTERS = 300
_CREDENTIAL_ERRORS = {"invalid_client", "unauthorized_client", "invalid_grant"}


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: float

    def __repr__(self) -> str:
        return f"_Token(expires_at={self.expires_at:.0f})"


class ClientCredentialsTokens:
    """Fetches and caches one access token for one app registration; thread-safe.

    ``transport`` lets tests swap the network (httpx.MockTransport); ``clock`` the time.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: Secret,
        scope: str,
        *,
        timeout: httpx.Timeout | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self.scope = scope
        self._secret = client_secret
        self._timeout = timeout or httpx.Timeout(60.0, connect=15.0)
        self._transport = transport
        self._clock = clock
        self._token: _Token | None = None
        self._lock = threading.Lock()
        self.requests_sent = 0

    @classmethod
    def for_settings(
        cls, settings: MailboxSettings, *, transport: httpx.BaseTransport | None = None
    ) -> ClientCredentialsTokens:
        """The token source for a mailbox's ``oauth_*`` settings and its timeouts."""
        return cls(
            settings.token_url,
            settings.oauth_client_id,
            settings.oauth_client_secret or Secret(""),
            settings.oauth_scope,
            timeout=httpx.Timeout(
                settings.read_timeout_seconds, connect=settings.connect_timeout_seconds
            ),
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"ClientCredentialsTokens({self.token_url!r}, client_id={self.client_id!r})"

    def token(self, *, fresh: bool = False) -> str:
        """A valid access token: the cached one, or a new one when there is none, it is about
        to expire, or ``fresh`` asks for it (the server refused the cached one).

        Raises OAuthTokenError when the endpoint refuses the credentials, fails or cannot
        be reached.
        """
        with self._lock:
            token = self._token
            if fresh or token is None or self._clock() >= token.expires_at - REFRESH_MARGIN_SECONDS:
                token = self._token = self._request()
            return token.value

    @property
    def cached(self) -> bool:
        """Whether a token is cached that is not about to expire."""
        token = self._token
        return token is not None and self._clock() < token.expires_at - REFRESH_MARGIN_SECONDS

    def _request(self) -> _Token:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._secret.reveal(),
            "scope": self.scope,
        }
        started = self._clock()
        self.requests_sent += 1
        try:
            with httpx.Client(timeout=self._timeout, transport=self._transport) as http:
                response = http.post(self.token_url, data=form)
        except httpx.HTTPError as exc:
            waited = self._clock() - started
            raise OAuthTokenError(
                f"cannot reach the token endpoint {self.token_url} "
                f"({self._scrub(str(exc) or type(exc).__name__)}; waited {waited:.1f} s).",
                hint="Check oauth_token_url / oauth_tenant_id and that this machine may reach "
                "it (proxy, firewall).",
            ) from exc
        if response.status_code == 200:
            return self._parse(response)
        raise self._failure(response)

    def _parse(self, response: httpx.Response) -> _Token:
        try:
            body = response.json()
            value = str(body["access_token"])
            lifetime = float(body.get("expires_in") or DEFAULT_TOKEN_LIFETIME_SECONDS)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise OAuthTokenError(
                f"the token endpoint {self.token_url} answered without an access token.",
                hint="Check oauth_token_url: it must be the OAuth 2.0 token endpoint.",
                status=response.status_code,
            ) from exc
        return _Token(value, self._clock() + lifetime)

    def _failure(self, response: httpx.Response) -> OAuthTokenError:
        status = response.status_code
        error, description = _oauth_error(response)
        said = ": ".join(part for part in (error, self._scrub(description)) if part)
        detail = f" ({said})" if said else ""
        if error in _CREDENTIAL_ERRORS or status == 401:
            hint = (
                "Check oauth_client_id and oauth_client_secret (Microsoft Entra: the app "
                "registration's Certificates & secrets; an expired secret must be replaced) "
                "and oauth_tenant_id."
            )
        elif error == "invalid_scope":
            hint = "Check oauth_scope (Microsoft 365: https://outlook.office365.com/.default)."
        elif status >= 500:
            hint = "The identity provider failed; the next run tries again."
        else:
            hint = "Check oauth_token_url / oauth_tenant_id and oauth_scope."
        return OAuthTokenError(
            f"the token endpoint {self.token_url} refused client ID {self.client_id!r} with "
            f"HTTP {status}{detail}.",
            hint=hint,
            status=status,
        )

    def _scrub(self, text: str) -> str:
        """``text`` without the client secret, should an endpoint or library echo it."""
        secret = self._secret.reveal()
        return text.replace(secret, "********") if secret else text


def _oauth_error(response: httpx.Response) -> tuple[str, str]:
    """RFC 6749's ``error`` and the first line of ``error_description`` (Entra's AADSTS...)."""
    try:
        body = response.json()
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    description = str(body.get("error_description") or "").strip().splitlines()
    first = description[0] if description else ""
    if len(first) > _MAX_DESCRIPTION_CHARACTERS:
        first = first[:_MAX_DESCRIPTION_CHARACTERS] + "..."
    return str(body.get("error") or ""), first
