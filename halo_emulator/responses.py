"""JSON bodies for errors, in the shapes Halo's clients parse.

haloitsm-python reads `message` and `errors` on a 400 and `message` otherwise; HAPI looks
for `Message`-style text; PDA for an `errors` array (halo-api.md sections 2.2 and 8).
So every error carries `message`, and validation errors add `errors: [str]`.
"""

from __future__ import annotations

import json
import math
import re
import sys
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


MAX_JSON_DEPTH = 64
"""Nesting .NET's JSON readers (Newtonsoft, System.Text.Json) accept by default."""
_MAX_NUMBER_DIGITS = len(str(int(sys.float_info.max)))


class BodyRefused(ValueError):
    """Valid JSON that Halo would not take: a value no field can hold or serve back."""


async def read_json(request: web.Request) -> Any:
    """The parsed JSON body, or a 400 response when Halo would refuse it ("JSON only", APIDOC).

    Beyond syntax, a body is refused when it holds something that could not be served back
    as strict JSON (NaN, Infinity, a number beyond a double, a lone UTF-16 surrogate) or is
    nested deeper than Halo reads, so nothing unservable is ever stored.
    """
    try:
        text = (await request.read()).decode("utf-8")
        if not text.strip():
            return None
        body = json.loads(
            text,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
            parse_int=_double_sized_int,
        )
        _check_nesting_and_text(body)
        return body
    except UnicodeDecodeError as error:
        return json_error(400, "The request body is not UTF-8 text.", [str(error)])
    except RecursionError:
        return _refused(BodyRefused(f"nested more than {MAX_JSON_DEPTH} levels deep"))
    except BodyRefused as error:
        return _refused(error)
    except (json.JSONDecodeError, ValueError) as error:
        return json_error(400, f"The request body is not valid JSON: {error}", [str(error)])


def _refused(error: BodyRefused) -> web.Response:
    return json_error(400, f"The request body cannot be stored: {error}", [str(error)])


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise BodyRefused(f"the number {_shortened(text)} is out of range")
    return number


def _double_sized_int(text: str) -> int:
    # The length is checked first: int() of thousands of digits is slow, and refused anyway.
    if len(text.lstrip("-")) <= _MAX_NUMBER_DIGITS:
        number = int(text)
        if abs(number) <= sys.float_info.max:
            return number
    raise BodyRefused(f"the number {_shortened(text)} is out of range")


def _shortened(text: str) -> str:
    return text if len(text) <= 24 else f"{text[:12]}…({len(text)} characters)"


def _check_nesting_and_text(body: Any) -> None:
    """Raise BodyRefused for nesting beyond MAX_JSON_DEPTH or a string that is not Unicode.

    Iterative, so the check itself cannot run out of stack.
    """
    pending: list[tuple[Any, int]] = [(body, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            _check_text(value)
            continue
        if not isinstance(value, dict | list):
            continue
        if depth == MAX_JSON_DEPTH:
            raise BodyRefused(f"nested more than {MAX_JSON_DEPTH} levels deep")
        children = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        pending.extend((child, depth + 1) for child in children)


def _check_text(value: str) -> None:
    """A lone surrogate (from a "\\ud800" escape) cannot be written as UTF-8."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            bad = value[error.start]
            raise BodyRefused(f"a string holds a lone surrogate (\\u{ord(bad):04x})") from None
