"""JSON bodies for errors, in the shapes Halo's clients parse.

haloitsm-python reads `message` and `errors` on a 400 and `message` otherwise; HAPI looks
for `Message`-style text; PDA for an `errors` array (halo-api.md sections 2.2 and 8).
So every error carries `message`, and validation errors add `errors: [str]`.
"""

from __future__ import annotations

import json
import math
from typing import Any

from aiohttp import web


def json_error(status: int, message: str, errors: list[str] | None = None) -> web.Response:
    """An error response with a JSON body."""
    body: dict[str, Any] = {"message": message}
    if errors is not None:
        body["errors"] = errors
    return web.json_response(body, status=status)


def parse_id(value: Any) -> int | None:
    """An id given as 5, 5.0, "5" or "5.0" -> 5; None for anything else (including 0.5)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number) or number != int(number):
        return None
    return int(number)


def is_true(value: str | None) -> bool:
    """Query booleans: 'true', 'True' (what requests sends for True), '1', 'yes'."""
    return value is not None and value.strip().lower() in ("true", "1", "yes")


async def read_json(request: web.Request) -> Any:
    """The parsed JSON body, or a 400 response when it is not JSON ("JSON only", APIDOC)."""
    text = await request.text()
    try:
        return json.loads(text) if text.strip() else None
    except json.JSONDecodeError as error:
        return json_error(400, f"The request body is not valid JSON: {error}", [str(error)])
