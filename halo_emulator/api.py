"""The /api resource server: case-insensitive routing onto the entity table.

Halo's routing ignores case (clients use both `/api/Users` and `/api/users`), which
aiohttp's router does not, so a single catch-all route hands `/api/...` to `dispatch`,
which matches lower-cased segments against `resources.BY_KEY`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from halo_emulator import mail, powershell
from halo_emulator.auth import ISSUED_TOKEN
from halo_emulator.listing import ListError, select
from halo_emulator.records import API_AGENT_ID, PostError, prepare
from halo_emulator.resources import BY_KEY, ResourceSpec, wrongly_typed_fields
from halo_emulator.responses import json_error, parse_id, read_json
from halo_emulator.state import STATE

UNAUTHENTICATED_PATHS = frozenset({"authinfo"})
"""Lower-cased paths under /api that need no bearer token."""


async def dispatch(request: web.Request) -> web.StreamResponse:
    """Route one /api request (auth, faults and rate limiting already passed)."""
    segments = [part.lower() for part in request.match_info["tail"].strip("/").split("/") if part]
    path = "/".join(segments)
    if path == "authinfo":
        return authinfo(request) if request.method == "GET" else _method_not_allowed("GET")
    if path == "mail/integrator/imap":
        return await _only(request, "POST", mail.imap_endpoint)
    spec = BY_KEY.get(segments[0]) if segments else None
    if spec is None or len(segments) > 2 or (spec.singleton and len(segments) == 2):
        return json_error(404, f"No API endpoint at {request.path}")
    if len(segments) == 1:
        return await _collection(request, spec)
    return await _member(request, spec, segments[1])


def authinfo(request: web.Request) -> web.Response:
    """GET /api/authinfo: where to get a token (halo-api.md 1.1).

    On-prem style: `auth_url` is `<base>/auth`, so `auth_url + "/token"` is /auth/token.
    Hosted style (a tenant is configured): `auth_url` is the bare base URL, so clients
    that append `/token?tenant=<tenant_id>` (HAPI, n8n) reach the hosted token endpoint.
    """
    state = request.app[STATE]
    base = f"{request.scheme}://{request.host}"
    auth_url = base if state.tenant else f"{base}/auth"
    return web.json_response({"auth_url": auth_url, "tenant_id": state.tenant})


async def _collection(request: web.Request, spec: ResourceSpec) -> web.Response:
    """/api/<Entity>: GET lists, POST creates or updates."""
    store = request.app[STATE].store
    if request.method == "GET":
        if spec.singleton:
            return web.json_response(store.get(spec.key, 1) or {})
        try:
            return web.json_response(select(spec, store.all(spec.key), request.query))
        except ListError as error:
            return json_error(400, str(error), [str(error)])
    if request.method == "POST":
        return await _post(request, spec)
    return _method_not_allowed("GET, POST")


async def _member(request: web.Request, spec: ResourceSpec, segment: str) -> web.Response:
    """/api/<Entity>/<id>: GET one, DELETE one. Halo has no POST here (its spec lists none)."""
    store = request.app[STATE].store
    if spec.key == "agent" and segment == "me":
        return _agent_me(request)
    if request.method not in ("GET", "DELETE"):
        return _method_not_allowed("GET, DELETE")
    record_id = parse_id(segment)
    if record_id is None:
        return json_error(404, f"{spec.name} {segment!r} not found")
    if request.method == "GET":
        record = store.get(spec.key, record_id)
        if record is None:
            return json_error(404, f"{spec.name} {record_id} not found")
        return web.json_response(record)
    if not store.delete(spec.key, record_id):
        return json_error(404, f"{spec.name} {record_id} not found")
    return web.json_response({"id": record_id})


def _agent_me(request: web.Request) -> web.Response:
    """GET /api/Agent/me: the agent the API application logs in as; read-only.

    Once that agent is deleted this is a 404, as GET /api/Agent/1 is. Not a 401: the token
    still works everywhere else, and clients answer a 401 by fetching a new token (PDA does
    on any 401), which would meet the same 401 again and again.
    """
    if request.method != "GET":
        return _method_not_allowed("GET")
    agent = request.app[STATE].store.get("agent", API_AGENT_ID)
    if agent is None:
        return json_error(
            404, f"The agent this application logs in as (Agent {API_AGENT_ID}) no longer exists"
        )
    return web.json_response(agent)


async def _post(request: web.Request, spec: ResourceSpec) -> web.Response:
    """POST /api/<Entity>: one saved record back for one element, a list for several."""
    body = await read_json(request)
    if isinstance(body, web.Response):
        return body
    items: list[Any] = body if isinstance(body, list) else [body]
    state = request.app[STATE]
    if not isinstance(body, list):
        state.stats.note_bare_object_post()
    if spec.singleton:
        return _update_singleton(request, spec, items)
    try:
        records = prepare(spec, items, state.store, request[ISSUED_TOKEN].client_id)
    except PostError as error:
        return json_error(error.status, error.message, error.errors)
    if spec.key == powershell.QUEUE_ENTITY:
        tickets = powershell.ticket_moves(state.store, records)
        state.store.save_many({spec.key: records, "tickets": tickets})
    else:
        state.store.save(spec.key, records)
    return web.json_response(records[0] if len(items) == 1 else records)


def _update_singleton(request: web.Request, spec: ResourceSpec, items: list[Any]) -> web.Response:
    """POST /api/Control: merge the posted fields into the one settings object."""
    store = request.app[STATE].store
    if len(items) != 1 or not isinstance(items[0], dict):
        return json_error(400, f"{spec.name} takes one JSON object", ["expected one object"])
    problems = wrongly_typed_fields(spec, items[0])
    if problems:
        return json_error(400, f"Invalid {spec.name} data: " + "; ".join(problems), problems)
    record = {**(store.get(spec.key, 1) or {}), **items[0], "id": 1}
    store.save(spec.key, [record])
    return web.json_response(record)


async def _only(request: web.Request, method: str, handler: Any) -> web.StreamResponse:
    if request.method != method:
        return _method_not_allowed(method)
    return await handler(request)


def _method_not_allowed(allowed: str) -> web.Response:
    response = json_error(405, "The requested resource does not support this HTTP method.")
    response.headers["Allow"] = allowed
    return response
