"""Module options as frozen dataclasses: one schema for defaults, help, secrets and checks.

A module declares ``Options`` with ``option(...)`` fields; the same declaration validates the
``Options`` object of ``appsettings.json`` (all problems at once, each with its field),
drives ``halo-integrator module show`` and the settings dialog, and says which values are
secrets to encrypt.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from core.settings.secrets import Secret

_MISSING = dataclasses.MISSING


def option(
    default: Any = _MISSING,
    *,
    help: str,
    choices: tuple[str, ...] = (),
    secret: bool = False,
    minimum: float | None = None,
) -> Any:
    """A dataclass field carrying the metadata the CLI and the settings dialog show."""
    metadata = {"help": help, "choices": choices, "secret": secret, "minimum": minimum}
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass(frozen=True)
class OptionInfo:
    name: str
    kind: str
    default: Any
    required: bool
    help: str
    choices: tuple[str, ...]
    secret: bool


def describe(options_class: type) -> list[OptionInfo]:
    """The schema of an options dataclass, in declaration order."""
    hints = typing.get_type_hints(options_class)
    described = []
    for entry in dataclasses.fields(options_class):
        kind = _base_type(hints[entry.name])
        described.append(
            OptionInfo(
                name=entry.name,
                kind=kind.__name__,
                default=None if entry.default is _MISSING else entry.default,
                required=entry.default is _MISSING,
                help=entry.metadata.get("help", ""),
                choices=tuple(entry.metadata.get("choices", ())),
                secret=entry.metadata.get("secret", False) or kind is Secret,
            )
        )
    return described


def parse_options(options_class: type, raw: dict[str, Any]) -> tuple[Any, list[tuple[str, str]]]:
    """Build ``options_class`` from settings values; returns (options or None, problems).

    Problems are ``(option name, message)`` pairs, every one of them, so an admin fixes the
    file in one go.
    """
    hints = typing.get_type_hints(options_class)
    known = {entry.name: entry for entry in dataclasses.fields(options_class)}
    problems = [(name, "unknown option") for name in raw if name not in known]
    values: dict[str, Any] = {}
    for name, entry in known.items():
        if name not in raw or raw[name] is None:
            if entry.default is _MISSING and not _optional(hints[name]):
                problems.append((name, "required"))
            continue
        try:
            values[name] = _coerce(raw[name], hints[name], entry.metadata)
        except ValueError as exc:
            problems.append((name, str(exc)))
    if problems:
        return None, problems
    return options_class(**values), []


def to_settings(options: Any) -> dict[str, Any]:
    """The options as they go back into ``appsettings.json`` (secrets stay ``Secret``)."""
    return {entry.name: getattr(options, entry.name) for entry in dataclasses.fields(options)}


def _coerce(value: Any, hint: Any, metadata: typing.Mapping[str, Any]) -> Any:
    kind = _base_type(hint)
    if kind is bool:
        if isinstance(value, bool):
            return value
        if str(value).strip().lower() in ("true", "yes", "1", "on"):
            return True
        if str(value).strip().lower() in ("false", "no", "0", "off"):
            return False
        raise ValueError(f"{value!r} is not true or false")
    if kind in (int, float):
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is not a number")
        try:
            number = kind(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"{value!r} is not a {'whole ' if kind is int else ''}number"
            ) from None
        minimum = metadata.get("minimum")
        if minimum is not None and number < minimum:
            raise ValueError(f"must be at least {minimum:g}")
        return number
    if kind is Secret:
        return value if isinstance(value, Secret) else Secret(str(value))
    text = str(value)
    choices = metadata.get("choices") or ()
    if choices and text not in choices:
        raise ValueError(f"{text!r} is not one of {', '.join(choices)}")
    return text


def _base_type(hint: Any) -> type:
    """``int | None`` -> int; plain types stay as they are."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint if isinstance(hint, type) else str


def _optional(hint: Any) -> bool:
    return type(None) in typing.get_args(hint)
