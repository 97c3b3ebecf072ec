"""The stand-in's Entra ID token endpoint: client-credentials grants for registered apps.

An app authenticates with its client secret, or with a client assertion: a JWT signed
RS256 by the private key of a certificate registered on the app, whose header names the
certificate by ``x5t`` (base64url SHA-1 thumbprint) or ``x5t#S256``. The answers and the
AADSTS codes are Entra's, so a client's error handling meets what it will meet in production.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_LIFETIME_SECONDS = 3599
CLOCK_SKEW_SECONDS = 300
ALL_PERMISSIONS = frozenset({"User.Read.All", "GroupMember.Read.All"})


class TokenRefused(Exception):
    """Entra's error answer: HTTP status, the OAuth ``error`` and an AADSTS description."""

    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.code = code
        self.description = f"AADSTS{code}: {description}"

    def body(self) -> dict[str, Any]:
        """The JSON body Entra sends with this error."""
        return {
            "error": self.error,
            "error_description": self.description,
            "error_codes": [self.code],
            "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
            "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4()),
        }


@dataclass
class AppRegistration:
    """An app in the tenant: its secrets, certificates and granted application permissions."""

    client_id: str
    secrets: set[str] = field(default_factory=set)
    certificates: list[x509.Certificate] = field(default_factory=list)
    permissions: frozenset[str] = ALL_PERMISSIONS


@dataclass(frozen=True)
class IssuedToken:
    client_id: str
    expires_at: float
    permissions: frozenset[str]


class TokenIssuer:
    """Checks token requests against the registered apps and remembers the tokens it issued."""

    def __init__(self, tenant_id: str, token_url: str) -> None:
        self.tenant_id = tenant_id
        self.token_url = token_url
        self.apps: dict[str, AppRegistration] = {}
        self.lifetime_seconds = TOKEN_LIFETIME_SECONDS
        self._tokens: dict[str, IssuedToken] = {}
        self._lock = threading.Lock()

    def issue(self, form: dict[str, str]) -> dict[str, Any]:
        """Entra's success body for a valid client-credentials form; raises TokenRefused."""
        if form.get("grant_type") != "client_credentials":
            raise TokenRefused(
                400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
            )
        app = self.apps.get(form.get("client_id", ""))
        if app is None:
            raise TokenRefused(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{form.get('client_id', '')}' was not found in "
                f"the directory '{self.tenant_id}'.",
            )
        if not form.get("scope", "").endswith("/.default"):
            raise TokenRefused(
                400,
                "invalid_scope",
                1002012,
                "The provided value for scope is not valid. Client credential flows must have "
                "a scope value with /.default suffixed to the resource identifier.",
            )
        if "client_assertion" in form:
            self._check_assertion(app, form)
        else:
            self._check_secret(app, form.get("client_secret", ""))
        return self._new_token(app)

    def check(self, authorization: str | None) -> IssuedToken | str:
        """The token a Bearer header carries, or why it is refused (Graph's message)."""
        if not authorization or not authorization.startswith("Bearer "):
            return "Access token is empty."
        with self._lock:
            token = self._tokens.get(authorization.removeprefix("Bearer "))
        if token is None:
            return "Invalid JWT token. Token format not valid."
        if token.expires_at <= time.time():
            return "Lifetime validation failed, the token is expired."
        return token

    def expire_all(self) -> None:
        """Every token issued so far is expired from now on."""
        with self._lock:
            self._tokens = {
                value: IssuedToken(token.client_id, 0.0, token.permissions)
                for value, token in self._tokens.items()
            }

    def _new_token(self, app: AppRegistration) -> dict[str, Any]:
        value = secrets.token_urlsafe(48)
        with self._lock:
            self._tokens[value] = IssuedToken(
                app.client_id, time.time() + self.lifetime_seconds, app.permissions
            )
        return {
            "token_type": "Bearer",
            "expires_in": self.lifetime_seconds,
            "ext_expires_in": self.lifetime_seconds,
            "access_token": value,
        }

    def _check_secret(self, app: AppRegistration, secret: str) -> None:
        if not any(hmac.compare_digest(secret, known) for known in app.secrets):
            raise TokenRefused(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request "
                "is the client secret value, not the client secret ID, for a secret added to "
                f"app '{app.client_id}'.",
            )

    def _check_assertion(self, app: AppRegistration, form: dict[str, str]) -> None:
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise TokenRefused(400, "invalid_request", 50027, "Invalid client_assertion_type.")
        header, claims, signing_input, signature = _split_jwt(form["client_assertion"])
        certificate = _matching_certificate(app, header)
        try:
            public_key = certificate.public_key()
            if header.get("alg") != "RS256" or not isinstance(public_key, rsa.RSAPublicKey):
                raise InvalidSignature
            public_key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature as error:
            raise TokenRefused(
                401, "invalid_client", 700027, "Client assertion contains an invalid signature."
            ) from error
        self._check_claims(app, claims)

    def _check_claims(self, app: AppRegistration, claims: dict[str, Any]) -> None:
        if claims.get("aud") != self.token_url:
            raise TokenRefused(
                401,
                "invalid_client",
                700021,
                f"Client assertion audience claim does not match Realm issuer. "
                f"Expected '{self.token_url}'.",
            )
        if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
            raise TokenRefused(
                401,
                "invalid_client",
                700023,
                "Client assertion issuer and subject claims must both be the client id.",
            )
        now = time.time()
        expires, not_before = claims.get("exp"), claims.get("nbf", 0)
        if (
            not isinstance(expires, int | float)
            or not isinstance(not_before, int | float)
            or expires + CLOCK_SKEW_SECONDS < now
            or not_before - CLOCK_SKEW_SECONDS > now
        ):
            raise TokenRefused(
                401,
                "invalid_client",
                700024,
                "Client assertion is not within its valid time range.",
            )


def thumbprint(certificate: x509.Certificate, algorithm: hashes.HashAlgorithm) -> str:
    """The base64url (unpadded) fingerprint of a certificate, as x5t / x5t#S256 carry it."""
    return _b64url(certificate.fingerprint(algorithm))


def _matching_certificate(app: AppRegistration, header: dict[str, Any]) -> x509.Certificate:
    for certificate in app.certificates:
        if header.get("x5t") == thumbprint(certificate, hashes.SHA1()) or header.get(  # noqa: S303
            "x5t#S256"
        ) == thumbprint(certificate, hashes.SHA256()):
            return certificate
    raise TokenRefused(
        401,
        "invalid_client",
        700027,
        "Client assertion failed signature validation. [Reason - The key was not found., "
        f"Thumbprint of key used by client: '{header.get('x5t') or header.get('x5t#S256')}']",
    )


def _split_jwt(assertion: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    try:
        header_part, claims_part, signature_part = assertion.split(".")
        header = json.loads(_unb64url(header_part))
        claims = json.loads(_unb64url(claims_part))
        signature = _unb64url(signature_part)
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise ValueError("not objects")
    except (ValueError, binascii.Error) as error:
        raise TokenRefused(
            400, "invalid_request", 50027, "JWT token is invalid or malformed."
        ) from error
    return header, claims, f"{header_part}.{claims_part}".encode(), signature


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
