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
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from core import __version__
from core.config import HaloConnection
from core.errors import HaloError, HaloRateLimitError
from core.halo_auth import TokenSource, token_url
from core.halo_errors import connection_error, response_error, retry_after_seconds
from core.pacing import RequestPacer

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


@dataclass
class RequestStats:
    """What a client did, for run summaries and benchmarks."""

    requests_sent: int = 0
    retries: int = 0
    rate_limited: int = 0
    token_fetches: int = 0
    by_endpoint: dict[str, int] = field(default_factory=dict)


class HaloClient:
    """A connection to one Halo instance; thread-safe, close it (or use ``with``) when done."""

    def __init__(
        self,
        connection: HaloConnection,
        *,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        pacer: RequestPacer | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.connection = connection
        self.api_url = f"{connection.url.rstrip('/')}/api"
        self.retry = retry or RetryPolicy()
        self.pacer = pacer or RequestPacer(
            connection.requests_per_window, connection.window_seconds
        )
        self.stats = RequestStats()
        self._sleep = sleep
        self._http = httpx.Client(
            transport=transport,
            timeout=connection.timeout_seconds,
            verify=connection.ca_bundle or connection.verify_tls,
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
            if len(records) < page_size or (total is not None and seen >= total):
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

    def upsert(
        self,
        entity: str,
        records: Sequence[dict[str, Any]],
        *,
        batch_size: int | None = None,
    ) -> list[dict[str, Any]]:
        """``post_batch`` over ``records`` in chunks of the configured batch size."""
        size = batch_size or self.connection.batch_size
        saved: list[dict[str, Any]] = []
        for start in range(0, len(records), size):
            saved.extend(self.post_batch(entity, records[start : start + size]))
        return saved

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
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            self.pacer.acquire()
            self._count(method, url)
            try:
                response = self._http.request(
                    method, url, params=params, json=json, data=data, headers=headers
                )
            except httpx.TransportError as exc:
                error = connection_error(exc, url, self.connection.timeout_seconds)
                if (error.maybe_applied and not idempotent) or attempt >= self.retry.max_attempts:
                    raise error from exc
                self._back_off(attempt, f"{type(exc).__name__} on {method} {url}")
                continue
            status = response.status_code
            if status == 429:
                self.stats.rate_limited += 1
                wait = retry_after_seconds(response) or self._backoff_seconds(attempt, minimum=5)
                if time.monotonic() - started + wait > self.retry.rate_limit_patience_seconds:
                    raise HaloRateLimitError(
                        "Halo kept answering 429 (rate limit reached) for "
                        f"{self.retry.rate_limit_patience_seconds:.0f} s.",
                        status=429,
                        hint="Another tool may share this API application's quota; the next "
                        "run continues where this one stopped.",
                    )
                log.warning("Halo rate limit reached; waiting %.1f s", wait)
                self.pacer.hold_off(wait)
                self.stats.retries += 1
                continue
            if status >= 500 and idempotent and attempt < self.retry.max_attempts:
                self._back_off(attempt, f"HTTP {status} on {method} {url}")
                continue
            return response

    def _count(self, method: str, url: str) -> None:
        self.stats.requests_sent += 1
        key = f"{method} {httpx.URL(url).path.lower()}"
        self.stats.by_endpoint[key] = self.stats.by_endpoint.get(key, 0) + 1

    def _back_off(self, attempt: int, reason: str) -> None:
        wait = self._backoff_seconds(attempt)
        log.warning("%s; retrying in %.1f s (attempt %d)", reason, wait, attempt + 1)
        self.stats.retries += 1
        self._sleep(wait)

    def _backoff_seconds(self, attempt: int, *, minimum: float = 0.0) -> float:
        """Exponential back-off with full jitter, so parallel clients do not retry in step."""
        ceiling = min(self.retry.backoff_cap_seconds, self.retry.backoff_base_seconds * 2**attempt)
        return max(minimum * self.retry.backoff_base_seconds, random.uniform(0, ceiling))


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
