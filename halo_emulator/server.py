"""The aiohttp application: routes plus the gate every non-admin request passes.

The gate (one middleware) applies, in order: request counting, injected connection
drops, latency, injected 429 bursts, the rolling-window rate limit, injected 500s and
the bearer-token check. Admin routes (/_emulator/*) skip the gate entirely: they are
not counted, not rate-limited, need no token and never see faults. Around both,
`json_answers` turns aiohttp's own errors (a path no route matches, a body over the size
limit) and any bug into JSON, because Halo's API answers nothing else.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable

from aiohttp import web

from halo_emulator import admin, api
from halo_emulator.auth import bearer_failure, token_endpoint
from halo_emulator.faults import Fault
from halo_emulator.responses import json_error
from halo_emulator.state import STATE, ServerState

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
log = logging.getLogger("halo_emulator")
# Raw MIME mail with attachments and base64 attachments are far bigger than aiohttp's 1 MiB.
MAX_BODY_BYTES = 64 * 1024 * 1024


class ConnectionDropped(Exception):
    """Raised after the transport was closed on purpose, so no response is written."""


def create_app(state: ServerState) -> web.Application:
    """Build the application serving Halo's API, its token endpoints and the admin API."""
    app = web.Application(middlewares=[json_answers, gate], client_max_size=MAX_BODY_BYTES)
    app[STATE] = state
    # Halo's routing ignores case everywhere, prefixes included (/API/Users, /Auth/Token).
    app.router.add_post(r"/{auth:[Aa][Uu][Tt][Hh]}/{token:[Tt][Oo][Kk][Ee][Nn]}", token_endpoint)
    app.router.add_post(r"/{token:[Tt][Oo][Kk][Ee][Nn]}", token_endpoint)
    admin.add_routes(app.router)
    app.router.add_route("*", r"/{api:[Aa][Pp][Ii]}/{tail:[\s\S]*}", api.dispatch)
    app.router.add_route("*", r"/{tail:[\s\S]*}", not_found)
    return app


async def not_found(request: web.Request) -> web.Response:
    """JSON for unknown paths too: Halo's API answers nothing but JSON."""
    return json_error(404, f"No endpoint at {request.path}")


@web.middleware
async def json_answers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's HTTP errors (plain text) as JSON with the same status and headers."""
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.empty_body:  # 204 and 304 must carry no body at all
            raise
        response = json_error(error.status, error.text or error.reason)
        for name, value in error.headers.items():
            if name.lower() not in ("content-type", "content-length"):
                response.headers[name] = value
        return response
    except ConnectionResetError:
        # The client went away mid-request (killed, timed out): nobody is left to answer.
        log.info("Client left during %s %s", request.method, request.path)
        raise
    except Exception as error:  # a bug must still answer JSON
        log.exception("Unhandled error for %s %s", request.method, request.path)
        return json_error(500, f"An error has occurred: {type(error).__name__}")


@web.middleware
async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count the request and apply faults, rate limit and auth before the handler runs."""
    if request.path.startswith("/_emulator/"):
        return await handler(request)
    state = request.app[STATE]
    try:
        response = await _guarded(request, handler, state)
    except web.HTTPException as error:
        state.stats.record(request.method, request.path, error.status)
        raise
    except ConnectionDropped:
        state.stats.record(request.method, request.path, None)
        raise asyncio.CancelledError from None
    except Exception:  # counted here, answered as JSON by json_answers
        state.stats.record(request.method, request.path, 500)
        raise
    state.stats.record(request.method, request.path, response.status)
    return response


async def _guarded(
    request: web.Request, handler: Handler, state: ServerState
) -> web.StreamResponse:
    fault = state.faults.decide()
    if fault is Fault.DROP:
        if request.transport is not None:
            request.transport.close()
        raise ConnectionDropped
    if state.faults.latency_seconds > 0:
        await asyncio.sleep(state.faults.latency_seconds)
    if fault is Fault.RATE_LIMITED:
        window_seconds = state.limiter.limit[1] if state.limiter.limit else 1.0
        return rate_limited(state, retry_seconds=window_seconds)
    wait_seconds = state.limiter.acquire()
    if wait_seconds is not None:
        return rate_limited(state, retry_seconds=wait_seconds)
    if fault is Fault.SERVER_ERROR:
        return json_error(500, "An error has occurred. (emulated fault)")
    if _needs_bearer(request):
        failure = bearer_failure(request)
        if failure is not None:
            return failure
    response = await handler(request)
    is_api_write = request.method == "POST" and request.path.lower().startswith("/api/")
    if is_api_write and response.status < 400 and state.faults.take_lost_answer():
        if request.transport is not None:
            request.transport.close()
        raise ConnectionDropped
    return response


def _needs_bearer(request: web.Request) -> bool:
    """Everything under /api except authinfo needs a token; the token endpoints do not."""
    path = request.path.lower().rstrip("/")
    return path.startswith("/api/") and path != "/api/authinfo"


def rate_limited(state: ServerState, retry_seconds: float) -> web.Response:
    """Halo's 429, text under both `error` and `message` so every client finds it."""
    text = state.limiter.message()
    response = web.json_response({"error": text, "message": text}, status=429)
    if state.retry_after:
        response.headers["Retry-After"] = str(max(1, math.ceil(retry_seconds)))
    return response
