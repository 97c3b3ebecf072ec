"""Translation of httpx failures and Halo error answers into ``core.errors`` types.

Done once, here, so every caller gets the same admin-readable message for the same failure,
and so no message is ever built from request headers (where the bearer token lives).
"""

from __future__ import annotations

import email.utils
import ssl
import time
from typing import Any

import httpx

from core.errors import (
    HaloAuthError,
    HaloConnectionError,
    HaloError,
    HaloForbiddenError,
    HaloNotFoundError,
    HaloRateLimitError,
    HaloServerError,
    HaloValidationError,
)
from core.halo.retry import seconds_text

MAX_DETAIL_CHARACTERS = 300
# Failures that happen before a single byte of the request left: always safe to retry.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def connection_error(
    exc: httpx.TransportError, url: str, timeout: float, after: str = ""
) -> HaloError:
    """The admin-readable form of a transport failure; ``maybe_applied`` if it was sent.

    ``after`` ("after 4 tries in 95 s") says what the client really did before giving up.
    """
    address = httpx.URL(url)
    host, origin = address.host, _origin(address)
    maybe_applied = not isinstance(exc, NOT_SENT)
    tail = f" {after}" if after else ""
    if isinstance(exc, httpx.TimeoutException):
        message = f"No answer from {origin}{tail}; each try waited up to {seconds_text(timeout)} s."
        hint = "Check the network path to Halo, or raise TimeoutSeconds."
    elif _caused_by(exc, ssl.SSLCertVerificationError):
        message = f"The TLS certificate of {host} is not trusted."
        hint = "Fix the certificate, or set CaBundle to your organisation's CA file."
    elif "name or service not known" in str(exc).lower() or "getaddrinfo" in str(exc).lower():
        message = f"Cannot resolve the host name {host}{tail}."
        hint = "Check the Halo URL for typos, and the DNS of this machine."
    elif isinstance(exc, httpx.ConnectError):
        message = f"Nothing answers at {origin} ({_reason(exc)}){tail}."
        hint = "Check the Halo URL and any proxy or firewall between here and Halo."
    else:
        message = f"The connection to {origin} broke off ({type(exc).__name__}){tail}."
        hint = "It is retried automatically; if it persists, check proxies and firewalls."
    return HaloConnectionError(message, hint=hint, maybe_applied=maybe_applied)


def response_error(
    response: httpx.Response, *, maybe_applied: bool = False, after: str = ""
) -> HaloError:
    """The typed error for an HTTP error answer from the API (``after``: the tries made)."""
    status = response.status_code
    where = f"{response.request.method} {response.request.url.path}"
    detail = error_detail(response)
    suffix = f": {detail}" if detail else ""
    if status == 400:
        return HaloValidationError(f"Halo refused {where}{suffix}", status=status)
    if status == 401:
        return HaloAuthError(
            f"Halo refused a freshly issued token for {where}.",
            status=status,
            hint="The API application may be disabled, or its agent inactive.",
        )
    if status == 403:
        return HaloForbiddenError(
            f"The Halo API agent may not do {where}{suffix}",
            status=status,
            hint="Grant the permission to the API application and its agent in Halo.",
        )
    if status == 404:
        return HaloNotFoundError(f"Halo has no {response.request.url.path}{suffix}", status=status)
    if status == 429:
        return HaloRateLimitError(f"Halo rate limit reached{suffix}", status=status)
    if status >= 500:
        return HaloServerError(
            f"Halo failed {where} with HTTP {status}{f' {after}' if after else ''}{suffix}",
            status=status,
            maybe_applied=maybe_applied,
        )
    return HaloError(f"Halo answered {where} with HTTP {status}{suffix}", status=status)


def error_detail(response: httpx.Response) -> str:
    """The human part of an error body, in any of the shapes Halo and its proxies use."""
    try:
        body: Any = response.json()
    except ValueError:
        text = response.text.strip()
        return text[:MAX_DETAIL_CHARACTERS] if text and "<" not in text[:1] else ""
    parts: list[str] = []
    if isinstance(body, dict):
        for key in ("message", "Message", "errorMessage", "error_description", "error"):
            if isinstance(body.get(key), str) and body[key] not in parts:
                parts.append(body[key])
        errors = body.get("errors")
        if isinstance(errors, list):
            parts.extend(str(item) for item in errors)
        elif isinstance(errors, dict):
            parts.extend(f"{name}: {value}" for name, value in errors.items())
    elif isinstance(body, str):
        parts.append(body)
    return "; ".join(parts)[:MAX_DETAIL_CHARACTERS]


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), if there is one."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _origin(url: httpx.URL) -> str:
    """``https://host`` or ``http://host:port``: never a path, a query or user info."""
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}"


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    current: BaseException | None = exc
    while current is not None:
        if isinstance(current, kind):
            return True
        current = current.__cause__ or current.__context__
    return False


def _reason(exc: BaseException) -> str:
    text = str(exc)
    return text.split("] ")[-1] if text else type(exc).__name__
