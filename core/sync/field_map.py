"""Source attribute → Halo field, with small converters: one map for every tabular source.

A directory entry, a Graph user and a SQL row all arrive as "attribute → value(s)"; what
differs is only which attribute feeds which Halo field and how its value is shaped. So the
admin writes one mapping per Halo field, in the same words for every module::

    {"emailaddress": "mail|lower", "inactive": "userAccountControl|bit:2",
     "name": "displayName", "notes": "=Imported from AD", "phonenumber": ""}

``attribute|converter|converter...`` reads an attribute (case-insensitively, as LDAP
does) and passes it through the converters in order; ``displayName,cn`` takes the first
of several attributes that has a value; ``=text`` is a literal; an empty string removes a
field a module's profile would otherwise send. A value the source no
longer has is sent as "" so that it is cleared in Halo too, not kept for ever.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from core.sync.dn import split_dn

Converter = Callable[[Any], Any]

TRUE_WORDS = frozenset({"true", "yes", "1", "y", "on"})


def _first(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return value[0] if value else None
    return value


def _text(value: Any) -> str | None:
    value = _first(value)
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _join(separator: str) -> Converter:
    def join(value: Any) -> Any:
        if value is None:
            return None
        values = value if isinstance(value, list | tuple) else [value]
        return separator.join(str(item) for item in values if item not in (None, ""))

    return join


def _bit(mask: int) -> Converter:
    """True when ``mask`` is set in an integer flag word (userAccountControl's 2 = disabled)."""

    def bit(value: Any) -> Any:
        text = _text(value)
        if text is None or not text.strip().lstrip("-").isdigit():
            return False
        return bool(int(text) & mask)

    return bit


def _boolean(value: Any) -> Any:
    value = _first(value)
    if isinstance(value, bool) or value is None:
        return bool(value)
    return str(value).strip().lower() in TRUE_WORDS


def _negate(value: Any) -> Any:
    value = _first(value)
    return None if value is None else not _boolean(value)


def _integer(value: Any) -> Any:
    text = _text(value)
    if text is None or not text.strip().lstrip("-").isdigit():
        return None
    return int(text)


def _rdn(value: Any) -> Any:
    """The first name in a DN: ``CN=Ann Smith,OU=Staff,...`` → ``Ann Smith`` (a manager)."""
    text = _text(value)
    if not text:
        return text
    names = split_dn(text)
    return names[0][1] if names else text


def _guid(value: Any) -> Any:
    """An AD objectGUID (16 little-endian bytes) or a GUID text, as a lower-case UUID."""
    value = _first(value)
    if isinstance(value, bytes) and len(value) == 16:
        return str(uuid.UUID(bytes_le=value))
    text = _text(value)
    if not text:
        return text
    try:
        return str(uuid.UUID(text.strip("{} ")))
    except ValueError:
        return text.strip().lower()


def _present(value: Any) -> bool:
    """True when the attribute has any value (OpenLDAP's pwdAccountLockedTime = locked)."""
    return value not in (None, "", [], ())


def _default(fallback: str) -> Converter:
    def default(value: Any) -> Any:
        return fallback if value in (None, "", [], ()) else value

    return default


SIMPLE: dict[str, Converter] = {
    "first": _first,
    "text": _text,
    "lower": lambda value: None if (text := _text(value)) is None else text.lower(),
    "upper": lambda value: None if (text := _text(value)) is None else text.upper(),
    "strip": lambda value: None if (text := _text(value)) is None else text.strip(),
    "int": _integer,
    "bool": _boolean,
    "not": _negate,
    "rdn": _rdn,
    "guid": _guid,
    "present": _present,
}
WITH_ARGUMENT: dict[str, Callable[[str], Converter]] = {
    "join": lambda argument: _join(argument or ", "),
    "bit": lambda argument: _bit(int(argument, 0)),
    "default": _default,
}
CONVERTER_NAMES = (*SIMPLE, *(f"{name}:..." for name in WITH_ARGUMENT))


class FieldMapError(ValueError):
    """A mapping an admin wrote that cannot work; the message names the Halo field."""


@dataclass(frozen=True)
class FieldRule:
    """How one Halo field is filled: from ``attribute`` through ``converters``, or a literal."""

    spec: str
    attribute: str | None
    converters: tuple[Converter, ...] = ()
    literal: str | None = None

    @property
    def attributes(self) -> list[str]:
        return self.attribute.split(",") if self.attribute else []

    def value(self, source: Mapping[str, Any]) -> Any:
        if self.attribute is None:
            return self.literal
        # Converters see every value of a multi-valued attribute (join needs them all).
        value = None
        for name in self.attributes:
            value = source.get(name.lower())
            if value not in (None, "", [], ()):
                break
        for convert in self.converters:
            value = convert(value)
        if isinstance(value, bytes):
            return _text(value)
        return _first(value)


def parse_rule(halo_field: str, spec: str) -> FieldRule:
    spec = spec.lstrip()
    if spec.startswith("="):
        return FieldRule(spec, None, literal=spec[1:])
    attribute, *names = spec.split("|")
    attribute = ",".join(name.strip() for name in attribute.split(","))
    if not re.fullmatch(r"[A-Za-z][\w.;-]*(,[A-Za-z][\w.;-]*)*", attribute):
        raise FieldMapError(f"{halo_field}: {spec!r} does not start with an attribute name")
    converters = []
    for name in names:
        # An argument is taken as written ("join:; " joins with a semicolon and a space).
        keyword, _, argument = name.partition(":")
        keyword, name = keyword.strip(), name.strip()
        try:
            if keyword in SIMPLE and not argument:
                converters.append(SIMPLE[keyword])
            elif keyword in WITH_ARGUMENT:
                converters.append(WITH_ARGUMENT[keyword](argument))
            else:
                known = ", ".join(CONVERTER_NAMES)
                raise FieldMapError(f"{halo_field}: unknown converter {name!r} (known: {known})")
        except ValueError as exc:
            if isinstance(exc, FieldMapError):
                raise
            raise FieldMapError(f"{halo_field}: {name!r}: {exc}") from exc
    return FieldRule(spec, attribute, tuple(converters))


class FieldMap:
    """Halo field → rule; ``apply`` turns one source item into Halo fields."""

    def __init__(self, rules: Mapping[str, FieldRule]) -> None:
        self.rules = dict(rules)

    @classmethod
    def parse(cls, spec: Mapping[str, str], *, base: Mapping[str, str] | None = None) -> FieldMap:
        """``base`` (a module's profile) overridden field by field by ``spec`` (the admin's)."""
        merged = {**(base or {}), **spec}
        return cls(
            {
                halo_field: parse_rule(halo_field, text)
                for halo_field, text in merged.items()
                if text.strip()
            }
        )

    @property
    def attributes(self) -> list[str]:
        """The source attributes the map reads, for a query that fetches only those."""
        return sorted({name for rule in self.rules.values() for name in rule.attributes})

    def apply(self, source: Mapping[str, Any]) -> dict[str, Any]:
        lowered = {name.lower(): value for name, value in source.items()}
        fields = {}
        for halo_field, rule in self.rules.items():
            value = rule.value(lowered)
            fields[halo_field] = "" if value is None else value
        return fields


def field_map_problems(
    spec: Mapping[str, str], option_name: str = "field_map"
) -> list[tuple[str, str]]:
    """(option path, message) for each mapping that cannot work, for ``Options.problems``."""
    found = []
    for halo_field, text in spec.items():
        if not isinstance(text, str):
            found.append((f"{option_name}.{halo_field}", 'must be text such as "mail|lower"'))
            continue
        try:
            if text.strip():
                parse_rule(halo_field, text)
        except FieldMapError as exc:
            found.append((f"{option_name}.{halo_field}", str(exc).split(": ", 1)[-1]))
    return found
