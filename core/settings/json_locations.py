"""Parse JSON and remember the line of every key, so settings errors can name a line.

``json.loads`` says where the *syntax* breaks, but once a file parses there is no way back
from a value to its line. Admins fix files by line number, so after ``json.loads`` succeeds
a small walker goes over the same text and records, for each field path
(``Modules[1].Interval``), the line where its key (or array element) starts.
"""

from __future__ import annotations

import bisect
import difflib
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_SCALAR_DECODER = json.JSONDecoder()


def child_path(parent: str, key: str | int) -> str:
    """Return the path of an object member (``Halo.Url``) or array element (``Modules[0]``)."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


@dataclass(frozen=True)
class LocatedJson:
    """A parsed JSON document plus the line (1-based) of each field path; ``""`` is the root."""

    value: Any
    lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, field_path: str) -> int | None:
        """Return the line of a field path, or None when the document has no such field."""
        return self.lines.get(field_path)


def parse_with_lines(text: str) -> LocatedJson:
    """Parse ``text`` like ``json.loads`` and locate every field.

    Raises ``json.JSONDecodeError`` (with ``lineno``/``colno``) for invalid JSON; the walker
    only ever sees text that already parsed, so it needs no error handling of its own.
    """
    value = json.loads(text)
    walker = _LineWalker(text)
    start = walker.skip_whitespace(0)
    walker.lines[""] = walker.line_at(start)
    walker.walk_value(start, "")
    return LocatedJson(value, walker.lines)


class _LineWalker:
    """Recursive descent over valid JSON that records lines instead of building values."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.newline_offsets = [match.start() for match in re.finditer("\n", text)]
        self.lines: dict[str, int] = {}

    def line_at(self, offset: int) -> int:
        return bisect.bisect_left(self.newline_offsets, offset) + 1

    def skip_whitespace(self, offset: int) -> int:
        match = _WHITESPACE.match(self.text, offset)
        return match.end() if match else offset

    def walk_value(self, offset: int, path: str) -> int:
        """Walk the value starting at ``offset`` (no leading space); return the offset after it."""
        opening = self.text[offset]
        if opening == "{":
            return self._walk_object(offset + 1, path)
        if opening == "[":
            return self._walk_array(offset + 1, path)
        _, end = _SCALAR_DECODER.raw_decode(self.text, offset)
        return end

    def _walk_object(self, offset: int, path: str) -> int:
        offset = self.skip_whitespace(offset)
        if self.text[offset] == "}":
            return offset + 1
        while True:
            key_line = self.line_at(offset)
            key, offset = _SCALAR_DECODER.raw_decode(self.text, offset)
            member_path = child_path(path, key)
            self.lines[member_path] = key_line
            offset = self.skip_whitespace(self.skip_whitespace(offset) + 1)  # past the ":"
            offset = self.skip_whitespace(self.walk_value(offset, member_path))
            if self.text[offset] == "}":
                return offset + 1
            offset = self.skip_whitespace(offset + 1)  # past the ","

    def _walk_array(self, offset: int, path: str) -> int:
        offset = self.skip_whitespace(offset)
        if self.text[offset] == "]":
            return offset + 1
        index = 0
        while True:
            element_path = child_path(path, index)
            self.lines[element_path] = self.line_at(offset)
            offset = self.skip_whitespace(self.walk_value(offset, element_path))
            if self.text[offset] == "]":
                return offset + 1
            offset = self.skip_whitespace(offset + 1)
            index += 1


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a document: the field path, its line (if known) and what to do."""

    field: str
    message: str
    line: int | None = None

    def describe(self, path: str) -> str:
        """Return ``<path>, line <n>, field <field>: <message>``, the ConfigError format."""
        location = [path]
        if self.line is not None:
            location.append(f"line {self.line}")
        if self.field:
            location.append(f"field {self.field}")
        return f"{', '.join(location)}: {self.message}"


MISSING: Any = object()
"""What ``FieldReader.value`` returns for an absent key, so null and absent stay distinct."""


class FieldReader:
    """Typed access to a located document that records problems instead of raising.

    Each getter takes the parsed object and its field path, and returns a usable default
    when the value is wrong, so one pass over the document finds every problem; the caller
    raises once, listing ``problems``.
    """

    def __init__(self, located: LocatedJson) -> None:
        self.located = located
        self.problems: list[Problem] = []

    def line_of(self, field_path: str) -> int | None:
        """Return the line of a field, else of its nearest enclosing field (for missing keys)."""
        while field_path:
            line = self.located.line_of(field_path)
            if line is not None:
                return line
            parent = re.sub(r"\[\d+\]$|\.?[^.\[\]]*$", "", field_path, count=1)
            field_path = parent if parent != field_path else ""
        return self.located.line_of("")

    def problem(self, field_path: str, message: str) -> None:
        self.problems.append(Problem(field_path, message, self.line_of(field_path)))

    def as_object(self, value: Any, field_path: str) -> dict[str, Any]:
        """Return ``value`` if it is an object; else record why and return an empty one."""
        if isinstance(value, dict):
            return value
        self.problem(field_path, "required" if value is MISSING else "must be an object {...}")
        return {}

    def check_keys(self, mapping: dict[str, Any], field_path: str, allowed: Iterable[str]) -> None:
        """Record unknown keys, with a "did you mean" hint for near misses (any letter case)."""
        by_lowercase = {name.lower(): name for name in allowed}
        for key in mapping:
            if key in by_lowercase.values():
                continue
            close = difflib.get_close_matches(key.lower(), list(by_lowercase), n=1)
            hint = f'did you mean "{by_lowercase[close[0]]}"?' if close else "remove it"
            self.problem(child_path(field_path, key), f"unknown key; {hint}")

    def text(
        self, mapping: dict[str, Any], field_path: str, key: str, *, required: bool = False
    ) -> str | None:
        """Return a string field; None when absent or null (a problem if ``required``)."""
        value = mapping.get(key)
        if isinstance(value, str) and (value.strip() or not required):
            return value.strip()
        if value is None and not required:
            return None
        message = "required" if value in (None, "") else f"must be text, not {_show(value)}"
        self.problem(child_path(field_path, key), message)
        return None

    def boolean(self, mapping: dict[str, Any], field_path: str, key: str, default: bool) -> bool:
        """Return a true/false field, ``default`` when absent or null."""
        value = mapping.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        self.problem(child_path(field_path, key), f"must be true or false, not {_show(value)}")
        return default

    def number(
        self,
        mapping: dict[str, Any],
        field_path: str,
        key: str,
        default: float,
        *,
        whole: bool = False,
    ) -> float:
        """Return a positive number (a whole one if ``whole``), ``default`` when absent."""
        value = mapping.get(key)
        if value is None:
            return default
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        # 1e999 parses as infinity: a limit that would only fail much later, at run time.
        finite = is_number and math.isfinite(value)
        if finite and value > 0 and (not whole or float(value).is_integer()):
            return int(value) if whole else float(value)
        kind = "a whole number" if whole else "a number"
        self.problem(child_path(field_path, key), f"must be {kind} above 0, not {_show(value)}")
        return default

    def optional_id(self, mapping: dict[str, Any], field_path: str, key: str) -> int | None:
        """Return a positive whole number (a record id), or None when absent or null."""
        if mapping.get(key) is None:
            return None
        return int(self.number(mapping, field_path, key, 0, whole=True)) or None

    def array(self, mapping: dict[str, Any], field_path: str, key: str) -> list[Any]:
        """Return a list field, empty when absent or null."""
        value = mapping.get(key)
        if value is None:
            return []
        if isinstance(value, list):
            return value
        self.problem(child_path(field_path, key), f"must be a list [...], not {_show(value)}")
        return []


def _show(value: Any) -> str:
    """Return a short JSON rendering of a wrong value for a message (callers pass no secrets)."""
    rendered = json.dumps(value, ensure_ascii=False)
    return rendered if len(rendered) <= 40 else rendered[:37] + "..."
