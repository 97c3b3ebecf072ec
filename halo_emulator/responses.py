"""JSON bodies for errors, in the shapes Halo's clients parse.

haloitsm-python reads `message` and `errors` on a 400 and `message` otherwise; HAPI looks
for `Message`-style text; PDA for an `errors` array (halo-api.md sections 2.2 and 8).
So every error carries `message`, and validation errors add `errors: [str]`.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from aiohttp import web


def json_error(status: int, message: str, errors: list[str] | None = None) -> web.Response:
    """An error response with a JSON body."""
    body: dict[str, Any] = {"message": message}
    if errors is not None:
        body["errors"] = errors
    return web.json_response(body, status=status)


MAX_ID = 2**63 - 1  # SQLite's INTEGER
_ID_TEXT = re.compile(r"^\d{1,19}(\.0*)?$")


def parse_id(value: Any) -> int | None:
    """An id given as 5, 5.0, "5" or "5.0" -> 5; None for anything else (0.5, "1e0", 1e20)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            return None
        number = int(value)
    elif isinstance(value, str) and _ID_TEXT.match(value.strip()):
        number = int(value.strip().split(".")[0])
    else:
        return None
    return number if 0 <= number <= MAX_ID else None


def is_true(value: str | None) -> bool:
    """Query booleans: 'true', 'True' (what requests sends for True), '1', 'yes'."""
    return value is not None and value.strip().lower() in ("true", "1", "yes")


async def read_json(request: web.Request) -> Any:
    """The parsed JSON body, or a 400 response when it is not JSON ("JSON only", APIDOC).

    NaN and Infinity are refused: Python would accept them, but they are not JSON and the
    record would be echoed back unparseable.
    """
    try:
        text = (await request.read()).decode("utf-8")
        return json.loads(text, parse_constant=_refuse_constant) if text.strip() else None
    except UnicodeDecodeError as error:
        return json_error(400, "The request body is not UTF-8 text.", [str(error)])
    except (json.JSONDecodeError, ValueError) as error:
        return json_error(400, f"The request body is not valid JSON: {error}", [str(error)])


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")
