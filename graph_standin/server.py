"""The stand-in's HTTP routes: Entra's token endpoint and the Graph v1.0 calls the module makes.

    POST /{tenant}/oauth2/v2.0/token      client credentials (secret or certificate assertion)
    GET  /v1.0/users                      $select, $top, @odata.nextLink
    GET  /v1.0/users/{id}                 $select
    GET  /v1.0/users/delta                nextLink pages, then @odata.deltaLink; @removed
    GET  /v1.0/groups/{id}/members        $select, $top, @odata.nextLink

Graph errors have Graph's shape, ``{"error": {"code", "message", "innerError"}}``; token
errors have Entra's (``error``, ``error_description`` with its AADSTS code).
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from graph_standin.directory import (
    DEFAULT_USER_PROPERTIES,
    DeltaStateNotFound,
    Directory,
    UnknownProperty,
    parse_select,
)
from graph_standin.faults import GraphFaults
from graph_standin.tokens import IssuedToken, TokenIssuer, TokenRefused

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 999
# Delta pages are sized by this preference; Graph ignores $top on users/delta.
_MAX_PAGE_PREFERENCE = re.compile(r"odata\.maxpagesize=(\d+)")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class GraphError(Exception):
    """An error answer in Graph's shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class GraphServer:
    """The aiohttp application over one tenant's directory, token issuer and faults."""

    def __init__(
        self,
        directory: Directory,
        issuer: TokenIssuer,
        faults: GraphFaults,
        graph_url: str,
        tenant_names: set[str],
    ) -> None:
        self.directory = directory
        self.issuer = issuer
        self.faults = faults
        self.graph_url = graph_url
        self.tenant_names = tenant_names
        self.requests: Counter[tuple[str, int]] = Counter()
        self._lock = threading.Lock()

    def create_app(self) -> web.Application:
        """The routes, each Graph route behind the fault and bearer-token checks."""
        app = web.Application()
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self.token)
        app.router.add_get("/v1.0/users", self._graph("users", self.users))
        app.router.add_get("/v1.0/users/delta", self._graph("users/delta", self.users_delta))
        app.router.add_get("/v1.0/users/{user_id}", self._graph("users/id", self.user))
        app.router.add_get(
            "/v1.0/groups/{group_id}/members", self._graph("groups/members", self.group_members)
        )
        return app

    async def token(self, request: web.Request) -> web.Response:
        """Entra's token endpoint for this tenant (by id or by domain name)."""
        tenant = request.match_info["tenant"]
        form = {key: str(value) for key, value in (await request.post()).items()}
        try:
            if tenant.lower() not in self.tenant_names:
                raise TokenRefused(
                    400,
                    "invalid_request",
                    90002,
                    f"Tenant '{tenant}' not found. Check to make sure you have the correct "
                    "tenant ID and are signing into the correct cloud.",
                )
            body = self.issuer.issue(form)
        except TokenRefused as refusal:
            self._count("token", refusal.status)
            return web.json_response(refusal.body(), status=refusal.status)
        self._count("token", 200)
        return web.json_response(body)

    async def users(self, request: web.Request, token: IssuedToken) -> web.Response:
        """GET /v1.0/users: every user, $top per page, continued by $skiptoken."""
        _require(token, "User.Read.All", "Directory.Read.All")
        select = _select(request)
        return self._paged(request, self.directory.list_users(select), select)

    async def user(self, request: web.Request, token: IssuedToken) -> web.Response:
        """GET /v1.0/users/{id}: one user with the selected properties."""
        _require(token, "User.Read.All", "Directory.Read.All")
        found = self.directory.get_user(request.match_info["user_id"], _select(request))
        if found is None:
            raise GraphError(
                404,
                "Request_ResourceNotFound",
                f"Resource '{request.match_info['user_id']}' does not exist or one of its "
                "queried reference-property objects are not present.",
            )
        body = {"@odata.context": f"{self.graph_url}/v1.0/$metadata#users/$entity", **found}
        return web.json_response(body)

    async def users_delta(self, request: web.Request, token: IssuedToken) -> web.Response:
        """GET /v1.0/users/delta: a round of pages ending with a deltaLink."""
        _require(token, "User.Read.All", "Directory.Read.All")
        query = request.query
        try:
            skip_token = query.get("$skiptoken")
            if skip_token is None:
                skip_token = self.directory.start_delta(_select(request), query.get("$deltatoken"))
            page = self.directory.delta_page(skip_token, _page_size(request, delta=True))
        except DeltaStateNotFound as error:
            raise GraphError(
                410,
                "syncStateNotFound",
                "The requested sync state was not found or has expired. Restart the "
                "synchronization without a state token.",
            ) from error
        body: dict[str, Any] = {
            "@odata.context": f"{self.graph_url}/v1.0/$metadata#users",
            "value": page.entries,
        }
        if page.next_skip_token is not None:
            link = f"{self.graph_url}/v1.0/users/delta?$skiptoken={page.next_skip_token}"
            body["@odata.nextLink"] = link
        else:
            link = f"{self.graph_url}/v1.0/users/delta?$deltatoken={page.delta_token}"
            body["@odata.deltaLink"] = link
        return web.json_response(body)

    async def group_members(self, request: web.Request, token: IssuedToken) -> web.Response:
        """GET /v1.0/groups/{id}/members: the group's users as directoryObjects, paged."""
        _require(token, "GroupMember.Read.All", "Group.Read.All", "Directory.Read.All")
        group_id = request.match_info["group_id"]
        members = self.directory.group_members(group_id)
        if members is None:
            raise GraphError(
                404,
                "Request_ResourceNotFound",
                f"Resource '{group_id}' does not exist or one of its queried reference-property "
                "objects are not present.",
            )
        select = _select(request)
        objects = [
            {"@odata.type": "#microsoft.graph.user", **{name: m.get(name) for name in select}}
            for m in members
        ]
        return self._paged(request, objects, select)

    def _paged(
        self, request: web.Request, items: list[dict[str, Any]], select: tuple[str, ...]
    ) -> web.Response:
        size = _page_size(request, delta=False)
        offset_text = request.query.get("$skiptoken", "0")
        offset = int(offset_text) if offset_text.isdigit() else 0
        body: dict[str, Any] = {
            "@odata.context": f"{self.graph_url}/v1.0/$metadata#users",
            "value": items[offset : offset + size],
        }
        if offset + size < len(items):
            query = f"$top={size}&$select={','.join(select)}&$skiptoken={offset + size}"
            body["@odata.nextLink"] = f"{self.graph_url}{request.path}?{query}"
        return web.json_response(body)

    def _graph(
        self, name: str, handler: Callable[[web.Request, IssuedToken], Awaitable[web.Response]]
    ) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            response = await self._answer(request, handler)
            self._count(name, response.status)
            return response

        return guarded

    async def _answer(
        self,
        request: web.Request,
        handler: Callable[[web.Request, IssuedToken], Awaitable[web.Response]],
    ) -> web.Response:
        try:
            token = self.issuer.check(request.headers.get("Authorization"))
            if isinstance(token, str):
                raise GraphError(401, "InvalidAuthenticationToken", token)
            throttle = self.faults.take()
            if throttle is not None:
                response = _error_response(
                    GraphError(
                        throttle.status,
                        "TooManyRequests" if throttle.status == 429 else "serviceNotAvailable",
                        "Too many requests." if throttle.status == 429 else "Service unavailable.",
                    )
                )
                if throttle.retry_after_seconds is not None:
                    response.headers["Retry-After"] = str(throttle.retry_after_seconds)
                return response
            return await handler(request, token)
        except GraphError as error:
            return _error_response(error)

    def _count(self, name: str, status: int) -> None:
        with self._lock:
            self.requests[(name, status)] += 1


def _require(token: IssuedToken, *permissions: str) -> None:
    if not token.permissions.intersection(permissions):
        raise GraphError(
            403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
        )


def _select(request: web.Request) -> tuple[str, ...]:
    try:
        return parse_select(request.query.get("$select"), DEFAULT_USER_PROPERTIES)
    except UnknownProperty as error:
        raise GraphError(
            400,
            "Request_BadRequest",
            f"Could not find a property named '{error}' on type 'microsoft.graph.user'.",
        ) from error


def _page_size(request: web.Request, *, delta: bool) -> int:
    preference = _MAX_PAGE_PREFERENCE.search(request.headers.get("Prefer", ""))
    text = preference.group(1) if preference else None
    if not delta and "$top" in request.query:
        text = request.query["$top"]
    if text is None:
        return DEFAULT_PAGE_SIZE
    size = int(text) if text.isdigit() else 0
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise GraphError(400, "Request_UnsupportedQuery", f"Invalid page size specified: '{text}'.")
    return size


def _error_response(error: GraphError) -> web.Response:
    body = {
        "error": {
            "code": error.code,
            "message": error.message,
            "innerError": {
                "date": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
                "request-id": str(uuid.uuid4()),
                "client-request-id": str(uuid.uuid4()),
            },
        }
    }
    return web.json_response(body, status=error.status)
