"""The loopback admin API under /_emulator/: stats, faults and configuration at runtime.

Tests and benchmarks use it to read request counts and to switch faults on and off
while a client is running. It needs no token, is not counted or rate-limited and never
sees injected faults (the server's gate skips it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from halo_emulator.rate_limit import format_rate_limit, parse_rate_limit
from halo_emulator.responses import json_error, read_json
from halo_emulator.state import STATE, ServerState


def add_routes(router: web.UrlDispatcher) -> None:
    """Register the admin endpoints on the application's router."""
    router.add_get("/_emulator/stats", stats_endpoint)
    router.add_post("/_emulator/stats/reset", reset_endpoint)
    router.add_get("/_emulator/faults", faults_endpoint)
    router.add_post("/_emulator/faults", faults_endpoint)
    router.add_get("/_emulator/config", config_endpoint)
    router.add_post("/_emulator/config", config_endpoint)
    router.add_post("/_emulator/expire-tokens", expire_tokens_endpoint)


def stats(state: ServerState) -> dict[str, Any]:
    """Request counts plus record counts per entity (must run on the loop thread)."""
    return {**state.stats.snapshot(), "records": state.store.counts()}


def config(state: ServerState) -> dict[str, Any]:
    """The runtime-changeable configuration as JSON."""
    return {
        "rate_limit": format_rate_limit(state.limiter.limit),
        "retry_after": state.retry_after,
        "token_lifetime": state.token_lifetime,
        "tenant": state.tenant,
    }


def apply_config(state: ServerState, changes: dict[str, Any]) -> None:
    """Change rate_limit ("300/300", "off" or None), retry_after, token_lifetime.

    Raises ValueError/TypeError on unknown keys or bad values, before changing anything.
    """
    unknown = sorted(set(changes) - {"rate_limit", "retry_after", "token_lifetime"})
    if unknown:
        raise TypeError(f"unknown config key(s): {', '.join(unknown)}")
    limit = state.limiter.limit
    if "rate_limit" in changes:
        value = changes["rate_limit"]
        if isinstance(value, list | tuple):
            if len(value) != 2:
                raise ValueError(f"rate_limit must be [requests, seconds], not {value!r}")
            limit = (int(value[0]), float(value[1]))
        elif value is None or isinstance(value, str):
            limit = parse_rate_limit(value)
        else:
            raise ValueError(f"rate_limit must look like '300/300' or 'off', not {value!r}")
    lifetime = int(changes.get("token_lifetime", state.token_lifetime))
    if lifetime < 1:
        raise ValueError("token_lifetime must be at least 1 second")
    if "rate_limit" in changes:
        state.limiter.limit = limit
    state.retry_after = _flag(changes.get("retry_after", state.retry_after))
    state.token_lifetime = lifetime


def _flag(value: Any) -> bool:
    """JSON true/false, or the strings 'true'/'false' that shell scripts tend to send."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)


async def stats_endpoint(request: web.Request) -> web.Response:
    """GET /_emulator/stats."""
    return web.json_response(stats(request.app[STATE]))


async def reset_endpoint(request: web.Request) -> web.Response:
    """POST /_emulator/stats/reset: zero the request counters."""
    request.app[STATE].stats.reset()
    return web.json_response(stats(request.app[STATE]))


async def faults_endpoint(request: web.Request) -> web.Response:
    """GET shows the fault settings; POST changes the fields it names."""
    state = request.app[STATE]
    failure = await _apply_posted(request, lambda body: state.faults.update(**body))
    return failure or web.json_response(state.faults.settings.as_dict())


async def config_endpoint(request: web.Request) -> web.Response:
    """GET shows the configuration; POST changes rate_limit, retry_after, token_lifetime."""
    state = request.app[STATE]
    failure = await _apply_posted(request, lambda body: apply_config(state, body))
    return failure or web.json_response(config(state))


async def _apply_posted(
    request: web.Request, apply: Callable[[dict[str, Any]], None]
) -> web.Response | None:
    """For a POST, apply its JSON object; a 400 response when it is refused, else None."""
    if request.method != "POST":
        return None
    body = await _object_body(request)
    if isinstance(body, web.Response):
        return body
    try:
        apply(body)
    except (TypeError, ValueError) as error:
        return json_error(400, str(error), [str(error)])
    return None


async def expire_tokens_endpoint(request: web.Request) -> web.Response:
    """POST /_emulator/expire-tokens: every token issued so far stops working now."""
    request.app[STATE].tokens.expire_all()
    return web.json_response({"expired": True})


async def _object_body(request: web.Request) -> dict[str, Any] | web.Response:
    body = await read_json(request)
    if isinstance(body, web.Response):
        return body
    if body is None:
        return {}
    if not isinstance(body, dict):
        return json_error(400, "Expected a JSON object", ["expected a JSON object"])
    return body
