"""The Halo REST client every sync module and the CLI share (httpx underneath).

It owns what each caller would otherwise get wrong on its own: the client-credentials token,
pacing under the instance's rolling rate limit, retries with back-off that honour
Retry-After and end at the run's deadline (``core.halo.retry``), Halo's list wrappers and
its misspelt ``pageinate`` paging, and batched create/update by POSTing JSON arrays. Every
failure leaves as one of ``core.errors``' typed errors, with a message an admin can act on
and never a secret or a token in it.
"""

from __future__ import annotations

import logging
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from core import __version__
from core.errors import HaloError, HaloRateLimitError
from core.halo.auth import TokenSource, token_url
from core.halo.errors import NOT_SENT, connection_error, response_error, retry_after_seconds
from core.halo.pacing import Pacer, shared_pacer
from core.halo.retry import Deadline, RetryPolicy, Tries
from core.settings.model import HaloConnection

log = logging.getLogger("halo_integrator.client")

DEFAULT_PAGE_SIZE = 100
MIN_RETRY_TIMEOUT_SECONDS = 0.05
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
        clock: Callable[[], float] = time.monotonic,
        deadline: Deadline | None = None,
    ) -> None:
        self.connection = connection
        self.api_url = f"{connection.url.rstrip('/')}/api"
        self.retry = retry or RetryPolicy()
        self.pacer = pacer or shared_pacer(connection)
        self.stats = RequestStats()
        self._stats_lock = threading.Lock()
        self._sleep = sleep
        self._clock = clock
        # One for the client's life: a run (or a Validate) opens its own client.
        self.deadline = deadline or Deadline(connection.deadline_seconds, clock)
        self._http = httpx.Client(
            transport=transport,
            timeout=connection.timeout_seconds,
            verify=tls_verification(connection),
            headers={"User-Agent": f"halo-integrator/{__version__}", "Accept": "application/json"},
        )
        self._tokens = TokenSource(self._fetch_token, clock=clock)

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
        """One request with pacing and retries; returns the final answer (maybe an error).

        Raises when retrying stops (attempts, 429 patience or the run's deadline used up),
        with the tries really made and the time they took in the message.
        """
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else None
        tries = Tries(started_at=self._clock())
        while True:
            self.pacer.acquire()
            self._count()
            tries.sent += 1
            try:
                response = self._http.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    data=data,
                    headers=headers,
                    timeout=self._timeout_for(tries),
                )
            except httpx.TransportError as exc:
                self._after_transport_error(exc, method, url, idempotent, tries)
                continue
            if response.status_code == 429:
                self._after_rate_limit(response, tries)
                continue
            if response.status_code >= 500 and idempotent:
                self._after_server_error(response, tries)
                continue
            if response.status_code < 500:
                self.deadline.renew()  # Halo answered: it is not down
            return response

    def _timeout_for(self, tries: Tries) -> httpx.Timeout:
        """A first try gets the full TimeoutSeconds; a retry no more than the deadline leaves."""
        timeout = self.connection.timeout_seconds
        if tries.sent > 1:
            timeout = max(min(timeout, self.deadline.remaining()), MIN_RETRY_TIMEOUT_SECONDS)
        return httpx.Timeout(timeout)

    def _after_transport_error(
        self,
        exc: httpx.TransportError,
        method: str,
        url: str,
        idempotent: bool,
        tries: Tries,
    ) -> None:
        """Back off before resending, or raise when resending could apply a create twice."""
        resendable = idempotent or isinstance(exc, NOT_SENT)
        if not (resendable and self._back_off(tries, f"{type(exc).__name__} on {method} {url}")):
            after = tries.summary(self._clock())
            raise connection_error(exc, url, self.connection.timeout_seconds, after) from exc

    def _after_server_error(self, response: httpx.Response, tries: Tries) -> None:
        """Back off before repeating a request Halo failed with a 5xx, or raise."""
        request = response.request
        reason = f"HTTP {response.status_code} on {request.method} {request.url}"
        if not self._back_off(tries, reason):
            raise response_error(response, after=tries.summary(self._clock()))

    def _after_rate_limit(self, response: httpx.Response, tries: Tries) -> None:
        """Wait out a 429 (Halo did not apply the request), within patience and the deadline.

        Patience counts from the first 429, not from the start of the request, so time spent
        waiting for our own pacer never uses it up.
        """
        with self._stats_lock:
            self.stats.rate_limited += 1
        now = self._clock()
        tries.first_rate_limit_at = tries.first_rate_limit_at or now
        wait = retry_after_seconds(response)
        if wait is None:
            wait = max(self.retry.rate_limit_min_wait_seconds, self._jitter(tries.rate_limits))
        tries.rate_limits += 1
        patient = now - tries.first_rate_limit_at + wait <= self.retry.rate_limit_patience_seconds
        if not (patient and self._deadline_allows(tries, wait)):
            raise HaloRateLimitError(
                f"Halo kept answering 429 (rate limit reached) {tries.summary(now)}.",
                status=429,
                hint="Another tool may share this API application's quota; the next "
                "run continues where this one stopped.",
            )
        with self._stats_lock:
            self.stats.retries += 1
        log.warning("Halo rate limit reached; waiting %.1f s", wait)
        self.pacer.hold_off(wait)

    def _count(self) -> None:
        with self._stats_lock:
            self.stats.requests_sent += 1

    def _back_off(self, tries: Tries, reason: str) -> bool:
        """Wait before the next try and return True, or False when no try may follow."""
        tries.failures += 1
        wait = self._jitter(tries.failures)
        if tries.failures >= self.retry.max_attempts or not self._deadline_allows(tries, wait):
            return False
        log.warning("%s; retrying in %.1f s (attempt %d)", reason, wait, tries.failures + 1)
        with self._stats_lock:
            self.stats.retries += 1
        self._sleep(wait)
        return True

    def _deadline_allows(self, tries: Tries, wait: float) -> bool:
        """True when a retry after ``wait`` starts within the run's deadline (noted if not)."""
        if self.deadline.allows(wait):
            return True
        tries.stopped_by = self.deadline
        return False

    def _jitter(self, attempt: int) -> float:
        """Exponential back-off with full jitter, so parallel clients do not retry in step."""
        ceiling = min(self.retry.backoff_cap_seconds, self.retry.backoff_base_seconds * 2**attempt)
        return random.uniform(0, ceiling)


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
