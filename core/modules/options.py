"""Module options as frozen dataclasses: one schema for defaults, help, secrets and checks.

A module declares ``Options`` with ``option(...)`` fields; the same declaration validates the
``Options`` object of ``appsettings.json`` (all problems at once, each with its field path,
``site_rules[1].site_id: must be at least 1``), drives ``halo-integrator module show`` and
``--set``, and the settings dialog, and says which values are secrets to encrypt.

Besides text, numbers and booleans an option may be a list (``list[T]`` / ``tuple[T, ...]``),
a mapping (``dict[str, T]``) or a nested frozen dataclass (an OU -> site rule, a field map
entry), at any depth. An options class (also a nested one) may define ``problems()`` for
cross-field checks; they are reported like every other option problem.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Callable
from typing import Any

from core.settings.json_locations import child_path
from core.settings.secrets import Secret

_MISSING: Any = dataclasses.MISSING
Problem = tuple[str, str]  # (field path below Options, message)
STRUCTURED_KINDS = ("list", "dict", "object")


def option(
    default: Any = _MISSING,
    *,
    help: str,
    choices: tuple[str, ...] = (),
    secret: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
    default_factory: Callable[[], Any] | None = None,
    example: Any = None,
    from_text: Callable[[str], Any] | None = None,
    to_text: Callable[[Any], str | None] | None = None,
    label: str = "",
    browse: str = "",
    applies_when: dict[str, tuple[Any, ...]] | None = None,
    check: Callable[[Any], str | None] | None = None,
) -> Any:
    """A dataclass field carrying the metadata the CLI and the settings dialog show.

    ``example`` (for lists, mappings and nested options) is shown by ``module show`` and as
    the dialog's placeholder, so an admin sees the expected JSON shape. ``from_text`` lets a
    structured option also be written as text (``"OU=A,DC=x;OU=B,DC=x"`` for a list of
    base DNs), turned into its JSON form before it is checked; ``to_text`` goes back (None
    when a value has more than the text form can say), so the dialog shows what was typed.
    ``label`` is the dialog's
    name for it (default: the name in words); ``browse`` ("file" or "folder") offers a
    Browse… button; ``applies_when={"target": ("assets",)}`` says the option only matters
    while another option has one of those values, so the dialog hides it otherwise.
    ``check`` returns why a value of the right type is still wrong (an interval that does not
    parse), reported at the option's path like a type error.
    """
    if browse not in ("", "file", "folder"):
        raise ValueError(f"browse must be 'file' or 'folder', not {browse!r}")
    metadata = {
        "label": label,
        "browse": browse,
        "applies_when": tuple((applies_when or {}).items()),
        "help": help,
        "choices": choices,
        "secret": secret,
        "minimum": minimum,
        "maximum": maximum,
        "example": example,
        "from_text": from_text,
        "to_text": to_text,
        "check": check,
    }
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass(frozen=True)
class OptionInfo:
    name: str
    kind: str  # str | int | float | bool | Secret | list | dict | object
    default: Any
    required: bool
    help: str
    choices: tuple[str, ...]
    secret: bool
    example: Any = None
    # A structured option that may also be written as text (from_text), e.g. "A;B".
    accepts_text: bool = False
    label: str = ""
    browse: str = ""  # "file" or "folder": the dialog offers Browse…
    # ((other option, (values...)), ...): the option matters only while each holds.
    applies_when: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    # The text form of a value (``to_text``), or None when it needs JSON.
    as_text: Callable[[Any], str | None] | None = None

    @property
    def structured(self) -> bool:
        """Lists, mappings and nested options: JSON on the command line and in the dialog."""
        return self.kind in STRUCTURED_KINDS

    def applies(self, values: typing.Mapping[str, Any]) -> bool:
        """Whether the option matters given the other options' ``values`` (as the dialog
        holds them: text, or a bool for a checkbox). An unknown other value counts as
        applying, so an option is never hidden by a value the schema did not foresee."""
        for other, allowed in self.applies_when:
            if other in values and not _same_value(values[other], allowed):
                return False
        return True


def deactivation_share_option(**extra: Any) -> Any:
    """``max_deactivate_percent``: the deactivation guard's share, in every module's words."""
    return option(
        10.0,
        help="Refuse a run deactivating more than this share.",
        minimum=0,
        maximum=100,
        label="Max % deactivated per run",
        **extra,
    )


def deactivation_count_option(what: str, **extra: Any) -> Any:
    """``max_deactivate_count``: the guard's absolute cap; ``what`` the records ("users")."""
    return option(
        500,
        help=f"Refuse a run deactivating more than this many {what}.",
        minimum=0,
        label="Max deactivated per run",
        **extra,
    )


def full_read_option(default: str, what: str) -> Any:
    """``full_reconcile_every`` of a delta source: how often a run reads ``what`` whole."""
    return option(
        default,
        help=f"How often a run reads {what}.",
        label="Full read every",
        check=_interval_problem,
    )


def _interval_problem(value: Any) -> str | None:
    from core.settings.model import Interval

    try:
        Interval.parse(str(value))
    except ValueError as exc:
        return str(exc)
    return None


def describe(options_class: type) -> list[OptionInfo]:
    """The schema of an options dataclass, in declaration order."""
    hints = typing.get_type_hints(options_class)
    described = []
    for entry in dataclasses.fields(options_class):
        kind = _kind(hints[entry.name])
        described.append(
            OptionInfo(
                name=entry.name,
                kind=kind,
                default=_default_of(entry),
                required=_required(entry, hints[entry.name]),
                help=entry.metadata.get("help", ""),
                choices=tuple(entry.metadata.get("choices", ())),
                secret=entry.metadata.get("secret", False) or kind == "Secret",
                example=entry.metadata.get("example"),
                accepts_text=entry.metadata.get("from_text") is not None,
                label=entry.metadata.get("label") or _words(entry.name),
                browse=entry.metadata.get("browse", ""),
                applies_when=entry.metadata.get("applies_when", ()),
                as_text=entry.metadata.get("to_text"),
            )
        )
    return described


def structured_value(info: OptionInfo, text: str) -> Any:
    """A structured option's value typed as text: JSON, or the option's own text form
    (``OU=A,DC=x;OU=B,DC=x`` for base DNs) where it has one, left for ``from_text``.

    ``halo-integrator module enable --set`` and the settings dialog both read typed values
    with this, so they accept the same things. Raises json.JSONDecodeError otherwise.
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        if info.accepts_text and not text.lstrip().startswith(("[", "{")):
            return text
        raise


def _words(name: str) -> str:
    """``max_deactivate_percent`` -> "Max deactivate percent": a label an option lacks."""
    return name.replace("_", " ").capitalize()


def _same_value(value: Any, allowed: tuple[Any, ...]) -> bool:
    """``value`` (maybe the dialog's text "True") equals one of ``allowed``."""
    return any(value == choice or str(value) == str(choice) for choice in allowed)


def parse_options(options_class: type, raw: Any) -> tuple[Any, list[Problem]]:
    """Build ``options_class`` from settings values; returns (options or None, problems).

    Problems are ``(field path, message)`` pairs, every one of them, so an admin fixes the
    file in one go.
    """
    coercer = _Coercer()
    options = coercer.dataclass(options_class, raw, "")
    if coercer.problems:
        return None, coercer.problems
    return options, []


def to_settings(options: Any) -> dict[str, Any]:
    """The options as they go back into ``appsettings.json`` (secrets stay ``Secret``)."""
    return {
        entry.name: to_json_value(getattr(options, entry.name))
        for entry in dataclasses.fields(options)
    }


def to_json_value(value: Any) -> Any:
    """A value (maybe nested dataclasses and tuples) as plain JSON data, secrets kept."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_settings(value)
    if isinstance(value, list | tuple):
        return [to_json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_json_value(item) for key, item in value.items()}
    return value


class _Coercer:
    """Turns JSON values into typed options, collecting every problem with its path."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def dataclass(self, cls: type, raw: Any, path: str) -> Any:
        if not isinstance(raw, dict):
            self.problem(path or "Options", "must be an object ({...})")
            return None
        hints = typing.get_type_hints(cls)
        known = {entry.name: entry for entry in dataclasses.fields(cls)}
        before = len(self.problems)
        for name in raw:
            if name not in known:
                self.problem(child_path(path, name), "unknown option")
        values: dict[str, Any] = {}
        for name, entry in known.items():
            field_path = child_path(path, name)
            if name not in raw or raw[name] is None:
                if _required(entry, hints[name]):
                    self.problem(field_path, "required")
                continue
            values[name] = self.value(raw[name], hints[name], entry.metadata, field_path)
        if len(self.problems) > before:
            return None
        built = cls(**values)
        self._cross_field(built, path)
        return built

    def _cross_field(self, built: Any, path: str) -> None:
        check = getattr(built, "problems", None)
        if callable(check):
            for name, message in check():
                self.problem(child_path(path, name) if name else path or "Options", message)

    def value(self, value: Any, hint: Any, metadata: typing.Mapping[str, Any], path: str) -> Any:
        hint = _without_none(hint)
        if isinstance(value, str) and metadata.get("from_text"):
            value = metadata["from_text"](value)
        origin = typing.get_origin(hint)
        if origin in (list, tuple):
            return self._sequence(value, hint, path)
        if origin is dict:
            return self._mapping(value, hint, path)
        if dataclasses.is_dataclass(hint):
            return self.dataclass(typing.cast(type, hint), value, path)
        try:
            result = _scalar(value, hint, metadata)
        except ValueError as exc:
            self.problem(path, str(exc))
            return None
        check = metadata.get("check")
        if check is not None and (message := check(result)):
            self.problem(path, message)
        return result

    def _sequence(self, value: Any, hint: Any, path: str) -> Any:
        if not isinstance(value, list | tuple):
            self.problem(path, "must be a list ([...])")
            return None
        item_hint = typing.get_args(hint)[0] if typing.get_args(hint) else str
        items = [
            self.value(item, item_hint, {}, child_path(path, index))
            for index, item in enumerate(value)
        ]
        return tuple(items) if typing.get_origin(hint) is tuple else items

    def _mapping(self, value: Any, hint: Any, path: str) -> Any:
        if not isinstance(value, dict):
            self.problem(path, "must be an object ({...})")
            return None
        arguments = typing.get_args(hint)
        item_hint = arguments[1] if len(arguments) == 2 else str
        return {
            str(key): self.value(item, item_hint, {}, child_path(path, str(key)))
            for key, item in value.items()
        }


def _scalar(value: Any, hint: Any, metadata: typing.Mapping[str, Any]) -> Any:
    kind = hint if isinstance(hint, type) else str
    if kind is bool:
        if isinstance(value, bool):
            return value
        if str(value).strip().lower() in ("true", "yes", "1", "on"):
            return True
        if str(value).strip().lower() in ("false", "no", "0", "off"):
            return False
        raise ValueError(f"{value!r} is not true or false")
    if kind in (int, float):
        return _number(value, kind, metadata)
    if kind is Secret or metadata.get("secret"):
        if isinstance(value, Secret):
            return value
        if not isinstance(value, str | int | float):
            raise ValueError("must be text")
        return Secret(str(value))
    if isinstance(value, dict | list):
        raise ValueError("must be text, not a list or an object")
    text = str(value)
    choices = metadata.get("choices") or ()
    if choices and text not in choices:
        raise ValueError(f"{text!r} is not one of {', '.join(choices)}")
    return text


def _number(value: Any, kind: type, metadata: typing.Mapping[str, Any]) -> int | float:
    if isinstance(value, bool | dict | list):
        raise ValueError(f"{value!r} is not a number")
    try:
        number = kind(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{value!r} is not a {'whole ' if kind is int else ''}number") from None
    if kind is int and isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{value!r} is not a whole number")
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    minimum, maximum = metadata.get("minimum"), metadata.get("maximum")
    if minimum is not None and number < minimum:
        raise ValueError(f"must be at least {minimum:g}")
    if maximum is not None and number > maximum:
        raise ValueError(f"must be at most {maximum:g}")
    return number


def _kind(hint: Any) -> str:
    hint = _without_none(hint)
    origin = typing.get_origin(hint)
    if origin in (list, tuple):
        return "list"
    if origin is dict:
        return "dict"
    if dataclasses.is_dataclass(hint):
        return "object"
    return hint.__name__ if isinstance(hint, type) else "str"


def _without_none(hint: Any) -> Any:
    """``int | None`` -> int; other hints stay as they are."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint


def _required(entry: dataclasses.Field[Any], hint: Any) -> bool:
    no_default = entry.default is _MISSING and entry.default_factory is _MISSING
    return no_default and type(None) not in typing.get_args(hint)


def _default_of(entry: dataclasses.Field[Any]) -> Any:
    if entry.default is not _MISSING:
        return entry.default
    factory: Any = entry.default_factory
    return None if factory is _MISSING else to_json_value(factory())
