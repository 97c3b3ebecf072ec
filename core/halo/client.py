"""The Halo REST client every sync module and the CLI share (httpx underneath).

It owns what each caller would otherwise get wrong on its own: the client-credentials token,
pacing under the instance's rolling rate limit, retries with back-off that honour
Retry-After, Halo's list wrappers and its misspelt ``pageinate`` paging, and batched
create/update by POSTing JSON arrays. Every failure leaves as one of ``core.errors``' typed
errors, with a message an admin can act on and never a secret or a token in it.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from core import __version__
from core.errors import HaloError, HaloRateLimitError
from core.halo.auth import TokenSource, token_url
from core.halo.errors import connection_error, response_error, retry_after_seconds
from core.halo.pacing import (
    PACING_FILE_NAME,
    STATE_FOLDER_VARIABLE,
    Pacer,
    RequestPacer,
    SharedRequestPacer,
    user_state_folder,
)
from core.settings.model import HaloConnection

log = logging.getLogger("halo_integrator.client")

DEFAULT_PAGE_SIZE = 100
# Halo's list wrapper keys where they differ from the lower-cased entity name.
LIST_KEYS = {
    "users": "users",
    "client": "clients",
    "site": "sites",
    "asset": "assets",
    "tickets": "tickets",
    "actions": "actions",
    "integrationerror": "integrationerrors",
}


@dataclass
class RetryPolicy:
    """How hard to try: attempts for 5xx / connection errors, patience for 429s."""

    max_attempts: int = 6
    backoff_base_seconds: float = 1.0
    backoff_cap_seconds: float = 60.0
    rate_limit_patience_seconds: float = 330.0  # a whole 5-minute window, and a little more
    rate_limit_min_wait_seconds: float = 5.0  # after a 429 without Retry-After


@dataclass
class RequestStats:
    """What a client did, for run summaries and benchmarks."""

    requests_sent: int = 0
    retries: int = 0
    rate_limited: int = 0
    token_fetches: int = 0


class HaloClient:
    """A connection to one Halo instance; thread-safe, close it (or use ``with``) when done."""

    def __init__(
        self,
        connection: HaloConnection,
        *,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        pacer: Pacer | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.connection = connection
        self.api_url = f"{connection.url.rstrip('/')}/api"
        self.retry = retry or RetryPolicy()
        self.pacer = pacer or shared_pacer(connection)
        self.stats = RequestStats()
        self._stats_lock = threading.Lock()
        self._sleep = sleep
        self._http = httpx.Client(
            transport=transport,
            timeout=connection.timeout_seconds,
            verify=tls_verification(connection),
            headers={"User-Agent": f"halo-integrator/{__version__}", "Accept": "application/json"},
        )
        self._tokens = TokenSource(self._fetch_token)

    def __enter__(self) -> HaloClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def authenticate(self) -> None:
        """Fetch a token now (raises InvalidCredentialsError for a wrong ID or secret)."""
        self._tokens.get()

    # -- plain requests ---------------------------------------------------------------------

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any, *, idempotent: bool = False) -> Any:
        """POST ``body``; ``idempotent`` says whether a failure after sending may be retried."""
        return self.request("POST", path, json=body, idempotent=idempotent)

    def delete(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.request("DELETE", path, params=params)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
    ) -> Any:
        """Send one API request with token, pacing and retries; return the decoded JSON."""
        url = f"{self.api_url}/{path.lstrip('/')}"
        safe_to_repeat = method != "POST" if idempotent is None else idempotent
        refreshed = False
        while True:
            token = self._tokens.get()
            response = self._send(
                method, url, params=params, json=json, bearer=token, idempotent=safe_to_repeat
            )
            if response.status_code == 401 and not refreshed:
                log.info("Halo answered 401; fetching a new token once")
                self._tokens.invalidate(token)
                refreshed = True
                continue
            if response.status_code >= 400:
                raise response_error(response, maybe_applied=not safe_to_repeat)
            return _decode(response)

    # -- lists and batches ------------------------------------------------------------------

    def iter_records(
        self,
        entity: str,
        params: dict[str, Any] | None = None,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Iterator[dict[str, Any]]:
        """Every record of a list endpoint, fetched page by page (``page_no`` is 1-based)."""
        page_no = 1
        seen = 0
        while True:
            query = {**(params or {}), "pageinate": "true", "page_size": page_size}
            body = self.get(entity, {**query, "page_no": page_no})
            records, total = unwrap_list(body, entity)
            yield from records
            seen += len(records)
            # record_count is the truth when Halo sends it: a page may come back shorter than
            # asked for when the server caps page_size.
            finished = seen >= total if total is not None else len(records) < page_size
            if finished or not records:
                return
            page_no += 1

    def post_batch(self, entity: str, records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Create/update ``records`` in one POST of a JSON array; the saved records, in order.

        An array holding only updates (every element has an id) is safe to repeat, so it is
        retried after a dropped connection; one with creates is not, see ``maybe_applied``.
        """
        if not records:
            return []
        idempotent = all(record.get("id") for record in records)
        saved = self.post(entity, list(records), idempotent=idempotent)
        return saved if isinstance(saved, list) else [saved]

    # -- transport --------------------------------------------------------------------------

    def _fetch_token(self) -> httpx.Response:
        connection = self.connection
        if connection.client_secret is None:
            raise HaloError(
                "No client secret is configured.", hint="Run halo-integrator configure."
            )
        form = {
            "grant_type": "client_credentials",
            "client_id": connection.client_id,
            "client_secret": connection.client_secret.reveal(),
            "scope": connection.scope,
        }
        params = {"tenant": connection.tenant} if connection.tenant else None
        with self._stats_lock:
            self.stats.token_fetches += 1
        url = token_url(connection.url, connection.auth_url)
        return self._send("POST", url, params=params, data=form, idempotent=True)

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        data: dict[str, str] | None = None,
        bearer: str | None = None,
        idempotent: bool,
    ) -> httpx.Response:
        """One request with pacing and retries; returns the final response (maybe an error)."""
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else None
        progress = _RetryProgress()
        while True:
            self.pacer.acquire()
            self._count()
            try:
                response = self._http.request(
                    method, url, params=params, json=json, data=data, headers=headers
                )
            except httpx.TransportError as exc:
                self._after_transport_error(exc, method, url, idempotent, progress)
                continue
            if response.status_code == 429:
                self._after_rate_limit(response, progress)
                continue
            if response.status_code >= 500 and idempotent and progress.can_retry(self.retry):
                self._back_off(progress, f"HTTP {response.status_code} on {method} {url}")
                continue
            return response

    def _after_transport_error(
        self,
        exc: httpx.TransportError,
        method: str,
        url: str,
        idempotent: bool,
        progress: _RetryProgress,
    ) -> None:
        """Back off before resending, or raise when resending could apply a create twice."""
        error = connection_error(exc, url, self.connection.timeout_seconds)
        if (error.maybe_applied and not idempotent) or not progress.can_retry(self.retry):
            raise error from exc
        self._back_off(progress, f"{type(exc).__name__} on {method} {url}")

    def _after_rate_limit(self, response: httpx.Response, progress: _RetryProgress) -> None:
        """Wait out a 429 (Halo did not apply the request), within the patience budget.

        Patience counts from the first 429, not from the start of the request, so time spent
        waiting for our own pacer never uses it up.
        """
        with self._stats_lock:
            self.stats.rate_limited += 1
            self.stats.retries += 1
        now = time.monotonic()
        progress.first_rate_limit_at = progress.first_rate_limit_at or now
        wait = retry_after_seconds(response)
        if wait is None:
            wait = max(self.retry.rate_limit_min_wait_seconds, self._jitter(progress.rate_limits))
        progress.rate_limits += 1
        if now - progress.first_rate_limit_at + wait > self.retry.rate_limit_patience_seconds:
            raise HaloRateLimitError(
                "Halo kept answering 429 (rate limit reached) for "
                f"{self.retry.rate_limit_patience_seconds:.0f} s.",
                status=429,
                hint="Another tool may share this API application's quota; the next "
                "run continues where this one stopped.",
            )
        log.warning("Halo rate limit reached; waiting %.1f s", wait)
        self.pacer.hold_off(wait)

    def _count(self) -> None:
        with self._stats_lock:
            self.stats.requests_sent += 1

    def _back_off(self, progress: _RetryProgress, reason: str) -> None:
        progress.failures += 1
        wait = self._jitter(progress.failures)
        log.warning("%s; retrying in %.1f s (attempt %d)", reason, wait, progress.failures + 1)
        with self._stats_lock:
            self.stats.retries += 1
        self._sleep(wait)

    def _jitter(self, attempt: int) -> float:
        """Exponential back-off with full jitter, so parallel clients do not retry in step."""
        ceiling = min(self.retry.backoff_cap_seconds, self.retry.backoff_base_seconds * 2**attempt)
        return random.uniform(0, ceiling)


@dataclass
class _RetryProgress:
    """How one request has fared so far: failures count toward attempts, 429s toward patience."""

    failures: int = 0
    rate_limits: int = 0
    first_rate_limit_at: float | None = None

    def can_retry(self, policy: RetryPolicy) -> bool:
        return self.failures + 1 < policy.max_attempts


_SHARED_PACERS: dict[tuple[str, str, int, float], RequestPacer] = {}
_SHARED_PACERS_LOCK = threading.Lock()


def shared_pacer(connection: HaloConnection) -> RequestPacer:
    """One pacer per Halo application in this process: every client of it shares the quota.

    The tray's scheduled runs, its Validate button and a "Sync now" each open their own
    client; with a pacer each, together they would send more than the limit allows.
    """
    key = (
        connection.url.rstrip("/").lower(),
        connection.client_id,
        connection.requests_per_window,
        connection.window_seconds,
    )
    with _SHARED_PACERS_LOCK:
        if key not in _SHARED_PACERS:
            _SHARED_PACERS[key] = RequestPacer(
                connection.requests_per_window, connection.window_seconds
            )
        return _SHARED_PACERS[key]


def application_pacer(connection: HaloConnection, state_folder: Path | None = None) -> Pacer:
    """The pacer every process of this account shares for this Halo application.

    The file lives in the user's state folder, keyed by the application (URL and client ID),
    so two settings folders on one application ("5 Mins", "Daily") stay under its limit
    together. When that folder cannot be written at all, this process paces alone, with a
    warning, rather than not running.
    """
    path = (state_folder or user_state_folder()) / PACING_FILE_NAME
    try:
        return SharedRequestPacer(
            path,
            f"{connection.url.rstrip('/').lower()} {connection.client_id}",
            connection.requests_per_window,
            connection.window_seconds,
        )
    except (OSError, sqlite3.Error) as exc:
        log.warning(
            "Cannot keep the pacing history in %s (%s); this run paces on its own. Set %s to "
            "a folder this account can write.",
            path,
            exc,
            STATE_FOLDER_VARIABLE,
        )
        return shared_pacer(connection)


def tls_verification(connection: HaloConnection) -> ssl.SSLContext | bool:
    """Verify TLS by default, against the organisation's CA bundle when one is set."""
    if not connection.verify_tls:
        return False
    if connection.ca_bundle:
        return ssl.create_default_context(cafile=connection.ca_bundle)
    return True


def unwrap_list(body: Any, entity: str) -> tuple[list[dict[str, Any]], int | None]:
    """Records and ``record_count`` from a list answer: Halo wraps most lists, not all."""
    if isinstance(body, list):
        return body, None
    if not isinstance(body, dict):
        raise HaloError(f"Halo answered the {entity} list with unexpected data.")
    total = body.get("record_count")
    key = LIST_KEYS.get(entity.lower().strip("/"))
    records = body.get(key) if key else None
    if records is None:
        records = next((value for value in body.values() if isinstance(value, list)), [])
    return records, int(total) if total is not None else None


def _decode(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError as exc:
        raise HaloError(
            f"Halo answered {response.request.method} {response.request.url.path} with "
            "something that is not JSON.",
            status=response.status_code,
            hint="Check that the URL points at the Halo instance, not a proxy login page.",
        ) from exc
