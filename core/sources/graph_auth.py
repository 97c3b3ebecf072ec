"""Client-credentials tokens for Graph: a secret or a certificate assertion, reused until expiry.

:class:`GraphTokenAuth` is an ``httpx.Auth``: it asks Entra ID for a token when it has none
(or it is about to expire), adds it to each request, and fetches a fresh one once when Graph
answers 401 (a token revoked early). A certificate credential signs a JWT (RS256, ``x5t`` =
the certificate's SHA-1 thumbprint) for each token request, as Entra's documentation asks.
Token answers other than 200 become core errors here; no token or secret reaches a message.
One auth object serves one client on one thread.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from core.sources.graph_errors import GraphCertificateError, GraphError, token_failure
from core.sources.graph_types import GraphSettings

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME_SECONDS = 600
# A token this close to its expiry is replaced before use, so no request carries a token
# that expires in flight.
REFRESH_MARGIN_SECONDS = 120.0
DEFAULT_TOKEN_LIFETIME_SECONDS = 3599.0


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: float

    def __repr__(self) -> str:
        return f"_Token(expires_at={self.expires_at:.0f})"


class CertificateCredential:
    """A private key and its certificate, loaded once from one PEM file."""

    def __init__(self, path: Path) -> None:
        try:
            data = path.read_bytes()
        except OSError as error:
            raise GraphCertificateError(
                f"cannot read certificate_path {path}: {error.strerror or error}.",
                hint="Point certificate_path at a PEM file with the private key and certificate.",
            ) from error
        try:
            key = serialization.load_pem_private_key(data, password=None)
            certificate = x509.load_pem_x509_certificate(data)
        except (ValueError, TypeError) as error:
            raise GraphCertificateError(
                f"{path} does not hold an unencrypted private key and a certificate in PEM.",
                hint="Export both into one PEM file, e.g. openssl pkcs12 -in app.pfx -nodes "
                "-out app.pem.",
            ) from error
        if not isinstance(key, rsa.RSAPrivateKey):
            raise GraphCertificateError(
                f"the key in {path} is not an RSA key; Entra ID signs assertions with RS256.",
                hint="Create the app's certificate with an RSA key (2048 bits or more).",
            )
        self._key = key
        self.thumbprint = _b64url(certificate.fingerprint(hashes.SHA1()))  # noqa: S303

    def __repr__(self) -> str:
        return f"CertificateCredential(x5t={self.thumbprint!r})"

    def assertion(self, token_url: str, client_id: str, now: float) -> str:
        """A signed client assertion JWT for one token request."""
        header = {"alg": "RS256", "typ": "JWT", "x5t": self.thumbprint}
        claims = {
            "aud": token_url,
            "iss": client_id,
            "sub": client_id,
            "jti": str(uuid.uuid4()),
            "nbf": int(now),
            "iat": int(now),
            "exp": int(now) + ASSERTION_LIFETIME_SECONDS,
        }
        signing_input = f"{_b64url_json(header)}.{_b64url_json(claims)}"
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"


class GraphTokenAuth(httpx.Auth):
    """Adds a client-credentials Bearer token to every Graph request; see the module doc."""

    requires_response_body = True

    def __init__(self, settings: GraphSettings, *, clock: Callable[[], float] = time.time) -> None:
        if (settings.client_secret is None) == (settings.certificate_path is None):
            raise GraphError(
                f"app {settings.client_id} needs exactly one credential.",
                hint="Set app_client_secret, or certificate_path, not both.",
            )
        self._settings = settings
        self._clock = clock
        self._certificate = (
            CertificateCredential(settings.certificate_path)
            if settings.certificate_path is not None
            else None
        )
        self._token: _Token | None = None
        self.tokens_fetched = 0

    def __repr__(self) -> str:
        return (
            f"GraphTokenAuth(tenant={self._settings.tenant_id!r}, app={self._settings.client_id!r})"
        )

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Send ``request`` with a valid token; once more with a new token after a 401."""
        if self._token is None or self._token.expires_at - REFRESH_MARGIN_SECONDS <= self._clock():
            yield from self._fetch_token()
        request.headers["Authorization"] = f"Bearer {self._current()}"
        response = yield request
        if response.status_code == 401:
            yield from self._fetch_token()
            request.headers["Authorization"] = f"Bearer {self._current()}"
            yield request

    def _fetch_token(self) -> Generator[httpx.Request, httpx.Response, None]:
        settings = self._settings
        response = yield httpx.Request("POST", settings.token_url, data=self._form())
        self.tokens_fetched += 1
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200:
            raise token_failure(response.status_code, body, settings.tenant_id, settings.client_id)
        value = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(value, str) or not value:
            raise GraphError(
                f"the token endpoint {settings.token_url} sent no access token.",
                hint="Check login_url: it should be https://login.microsoftonline.com.",
                status=response.status_code,
            )
        self._token = _Token(value, self._clock() + _lifetime(body))

    def _form(self) -> dict[str, str]:
        settings = self._settings
        form = {
            "grant_type": "client_credentials",
            "client_id": settings.client_id,
            "scope": settings.scope,
        }
        if self._certificate is not None:
            form["client_assertion_type"] = ASSERTION_TYPE
            form["client_assertion"] = self._certificate.assertion(
                settings.token_url, settings.client_id, self._clock()
            )
        elif settings.client_secret is not None:
            form["client_secret"] = settings.client_secret.reveal()
        return form

    def _current(self) -> str:
        assert self._token is not None
        return self._token.value


def _lifetime(body: dict[str, object]) -> float:
    """expires_in in seconds (Entra sends a number; older endpoints sent a string)."""
    try:
        return float(str(body.get("expires_in", DEFAULT_TOKEN_LIFETIME_SECONDS)))
    except ValueError:
        return DEFAULT_TOKEN_LIFETIME_SECONDS


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_json(value: Mapping[str, object]) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode())
