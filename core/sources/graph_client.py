"""The Microsoft Graph client the ``azure_ad`` module reads Entra ID users with; httpx only.

    with GraphClient(settings) as graph:
        round_ = graph.delta_users(USER_SELECT, delta_link=stored_link)
        for item in round_:            # GraphUser or RemovedUser, page after page
            ...
        checkpoint = round_.delta_link # the checkpoint, once every page has been read

Each GET is retried on 429, 503 and 504 after ``Retry-After`` (or a doubling back-off), up
to ``max_throttle_wait_seconds`` in total, and on a dropped connection; a retried page is
requested again with the same link, so paging never loses or doubles a page. httpx errors
and Graph's error answers become :mod:`core.sources.graph_errors` here, once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from core.sources.graph_auth import GraphTokenAuth
from core.sources.graph_errors import (
    GraphError,
    GraphThrottledError,
    GraphUnreachableError,
    graph_failure,
)
from core.sources.graph_types import (
    USER_SELECT,
    DeltaItem,
    DeltaPage,
    GraphSettings,
    GraphUser,
    delta_item,
)

RETRIED_STATUSES = frozenset({429, 503, 504})
MAX_TRANSPORT_ATTEMPTS = 3
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 60.0
USER_TYPE = "#microsoft.graph.user"

logger = logging.getLogger(__name__)


class GraphClient:
    """Reads users and group members from one tenant; see the module docstring.

    ``transport`` lets tests swap the network, ``clock`` the time (token expiry, assertion
    times) and ``sleep`` the waits for throttling.
    """

    def __init__(
        self,
        settings: GraphSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.auth = GraphTokenAuth(settings, clock=clock)
        self._sleep = sleep
        self._http = httpx.Client(
            auth=self.auth,
            transport=transport,
            timeout=httpx.Timeout(
                settings.read_timeout_seconds, connect=settings.connect_timeout_seconds
            ),
            headers={"Accept": "application/json"},
        )
        self.requests_sent = 0
        self.throttle_waited_seconds = 0.0

    def __repr__(self) -> str:
        return f"GraphClient(tenant={self.settings.tenant_id!r}, app={self.settings.client_id!r})"

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def __enter__(self) -> GraphClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def check_access(self) -> None:
        """Get a token and read one user: proves tenant, credential and User.Read.All.
        Raises a GraphError saying which of them is wrong."""
        self.get(f"{self.settings.api_url}/users", {"$select": "id", "$top": "1"}, what="users")

    def list_users(self, select: Sequence[str] = USER_SELECT) -> Iterator[GraphUser]:
        """Every user of the tenant (``/users``, no change tracking), page after page."""
        params = {"$select": ",".join(select), "$top": str(self.settings.page_size)}
        for entry in self._follow(f"{self.settings.api_url}/users", params, "users"):
            item = delta_item(entry)
            if isinstance(item, GraphUser):
                yield item

    def delta_users(
        self, select: Sequence[str] = USER_SELECT, delta_link: str | None = None
    ) -> DeltaRound:
        """A round of ``/users/delta``: everything when ``delta_link`` is None, else what
        changed since it. Nothing is requested until the round is iterated."""
        return DeltaRound(self, tuple(select), delta_link)

    def group_member_ids(self, group_id: str) -> set[str]:
        """The object ids of the users directly in a group (nested groups are not followed).
        Raises GraphNotFoundError for an unknown group, GraphPermissionError without
        GroupMember.Read.All."""
        url = f"{self.settings.api_url}/groups/{quote(group_id, safe='')}/members"
        params = {"$select": "id", "$top": str(self.settings.page_size)}
        return {
            str(entry["id"])
            for entry in self._follow(url, params, f"the members of group {group_id}")
            if entry.get("@odata.type") == USER_TYPE and "id" in entry
        }

    def get(
        self,
        url: str,
        params: dict[str, str] | None = None,
        *,
        what: str,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """One Graph GET as parsed JSON, throttling and dropped connections waited out.
        Raises a GraphError; ``what`` names the data in its message ("users")."""
        self._check_origin(url)
        transport_failures = 0
        while True:
            try:
                response = self._send(url, params, headers)
            except httpx.TransportError as error:
                transport_failures += 1
                if transport_failures >= MAX_TRANSPORT_ATTEMPTS:
                    raise _unreachable(error) from error
                self._wait(_backoff(transport_failures - 1), url, f"{type(error).__name__}")
                continue
            if response.status_code in RETRIED_STATUSES:
                self._wait(_retry_after(response), url, f"HTTP {response.status_code}")
                continue
            return self._parsed(response, what)

    def _send(
        self, url: str, params: dict[str, str] | None, headers: dict[str, str] | None
    ) -> httpx.Response:
        self.requests_sent += 1
        return self._http.get(url, params=params, headers=headers)

    def _parsed(self, response: httpx.Response, what: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not response.is_success:
            raise graph_failure(response.status_code, body, what, self.settings.client_id)
        if not isinstance(body, dict):
            raise GraphError(
                f"Graph answered the request for {what} with something other than JSON.",
                hint="Check graph_url: it should be https://graph.microsoft.com.",
                status=response.status_code,
            )
        return body

    def _wait(self, seconds: float, url: str, reason: str) -> None:
        limit = self.settings.max_throttle_wait_seconds
        if self.throttle_waited_seconds + seconds > limit:
            raise GraphThrottledError(
                f"Graph kept answering {reason} after {self.throttle_waited_seconds:.0f} s of "
                f"waiting (at most {limit:.0f} s allowed).",
                hint="The next run carries on; if it persists, run less often or raise "
                "max_throttle_wait_seconds.",
            )
        logger.info("Graph answered %s; trying again in %.1f s", reason, seconds)
        self.throttle_waited_seconds += seconds
        self._sleep(seconds)

    def _follow(self, url: str, params: dict[str, str], what: str) -> Iterator[dict[str, Any]]:
        next_url: str | None = url
        next_params: dict[str, str] | None = params
        while next_url is not None:
            body = self.get(next_url, next_params, what=what)
            yield from _entries(body, what)
            link = body.get("@odata.nextLink")
            next_url, next_params = (link if isinstance(link, str) else None), None

    def _check_origin(self, url: str) -> None:
        """Refuses a link to another host: a stored deltaLink must not carry our token away."""
        expected = urlsplit(self.settings.graph_url)
        actual = urlsplit(url)
        if (actual.scheme, actual.netloc) != (expected.scheme, expected.netloc):
            raise GraphError(
                f"the link {actual.scheme}://{actual.netloc}{actual.path} is not on graph_url "
                f"{self.settings.graph_url}.",
                hint="A stored deltaLink from another graph_url is ignored: run a full sync.",
            )


class DeltaRound:
    """One delta round, read once: iterate it for items, or ``pages()`` for pages; then
    ``delta_link`` is the checkpoint. ``is_full`` says the round lists every user (so users
    missing from it are gone), rather than only what changed."""

    def __init__(
        self, client: GraphClient, select: tuple[str, ...], delta_link: str | None
    ) -> None:
        self._client = client
        self._select = select
        self._start_link = delta_link
        self._delta_link: str | None = None
        self._started = False
        self.is_full = delta_link is None
        self.pages_read = 0

    def __iter__(self) -> Iterator[DeltaItem]:
        for page in self.pages():
            yield from page.items

    def pages(self) -> Iterator[DeltaPage]:
        """The round's pages in order. Raises DeltaTokenExpiredError (the start link, or a
        page's link, is no longer known: start a full round) and other GraphErrors."""
        if self._started:
            raise RuntimeError("a delta round is read once; start a new one")
        self._started = True
        settings = self._client.settings
        headers = {"Prefer": f"odata.maxpagesize={settings.page_size}"}
        url = self._start_link or f"{settings.api_url}/users/delta"
        params = None if self._start_link else {"$select": ",".join(self._select)}
        while True:
            body = self._client.get(url, params, what="the users delta", headers=headers)
            page = _delta_page(body)
            self.pages_read += 1
            yield page
            if page.delta_link is not None:
                self._delta_link = page.delta_link
                return
            assert page.next_link is not None
            url, params = page.next_link, None

    @property
    def delta_link(self) -> str:
        """The deltaLink that ends the round; RuntimeError before the last page was read."""
        if self._delta_link is None:
            raise RuntimeError("the delta round has not been read to its last page")
        return self._delta_link


def _delta_page(body: dict[str, Any]) -> DeltaPage:
    items = tuple(delta_item(entry) for entry in _entries(body, "the users delta"))
    next_link, delta_link = body.get("@odata.nextLink"), body.get("@odata.deltaLink")
    if isinstance(next_link, str):
        return DeltaPage(items, next_link, None)
    if isinstance(delta_link, str):
        return DeltaPage(items, None, delta_link)
    raise GraphError(
        "a users delta page had neither @odata.nextLink nor @odata.deltaLink.",
        hint="Check graph_url: it should be https://graph.microsoft.com.",
    )


def _entries(body: dict[str, Any], what: str) -> list[dict[str, Any]]:
    value = body.get("value")
    if not isinstance(value, list) or not all(
        isinstance(entry, dict) and isinstance(entry.get("id"), str) for entry in value
    ):
        raise GraphError(
            f"Graph's answer for {what} has no list of objects with ids.",
            hint="Check graph_url: it should be https://graph.microsoft.com.",
        )
    return value


def _retry_after(response: httpx.Response) -> float:
    """Graph's Retry-After in seconds; a doubling back-off when it sent none."""
    text = response.headers.get("Retry-After", "").strip()
    if text.isdigit():
        return float(text)
    return BACKOFF_BASE_SECONDS


def _backoff(attempt: int) -> float:
    return float(min(BACKOFF_BASE_SECONDS * 2**attempt, BACKOFF_CAP_SECONDS))


def _unreachable(error: httpx.TransportError) -> GraphUnreachableError:
    try:
        host = error.request.url.host
    except RuntimeError:
        host = "Microsoft Entra ID / Graph"
    return GraphUnreachableError(
        f"cannot reach {host}: {type(error).__name__}"
        + (f" ({error})" if str(error) else "")
        + ".",
        hint="Check this machine's internet access, proxy and firewall (login_url, graph_url).",
    )
