"""LDAP attribute values as plain Python values, the same whatever schema the server has.

The directory client asks the server for raw values and decodes them here, by attribute name,
rather than through ldap3's schema-driven formatters: those need the server's schema read at
every connect (one more round trip) and give a different type for the same attribute when the
schema is missing. Text is ``str`` (UTF-8, as LDAPv3 sends it), a few counters and flags are
``int``, GUIDs are ``str`` in one documented form, and anything that is not text stays
``bytes``. Generalized times stay strings (``20200101000000Z``, AD ``20261201135928.0Z``):
they compare and store as they are, and :func:`generalized_time` formats one for a filter.
This module imports no LDAP library, so options and tests can use it without the extra.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence

AttributeValue = str | int | bytes

# Active Directory's GUIDs are 16 bytes in Microsoft's mixed-endian layout (bytes_le).
GUID_ATTRIBUTES = frozenset({"objectguid", "invocationid", "schemaidguid", "msds-generationid"})
INTEGER_ATTRIBUTES = frozenset(
    {
        "usnchanged",
        "usncreated",
        "highestcommittedusn",
        "useraccountcontrol",
        "primarygroupid",
        "samaccounttype",
        "grouptype",
    }
)
# userAccountControl bit 2: the account is disabled (ACCOUNTDISABLE).
ACCOUNT_DISABLED_FLAG = 0x2


class RangedAttributeError(ValueError):
    """The server sent only a range of a multi-valued attribute (``member;range=0-1499``)."""


def format_guid(raw: bytes) -> str:
    """An AD GUID (16 raw bytes, mixed-endian) as the lowercase RFC 4122 string.

    The form Windows shows without its braces (``Get-ADUser`` prints the same digits), and the
    form OpenLDAP's entryUUID already has, so both profiles give ids of one shape.
    """
    return str(uuid.UUID(bytes_le=raw))


def decode_values(attribute: str, raw_values: Sequence[bytes]) -> list[AttributeValue]:
    """The values of one attribute, decoded by its name (see the module docstring).

    Raises RangedAttributeError for a ``;range=`` attribute: the values are incomplete, and
    treating them as complete would drop group memberships without a word.
    """
    name = attribute.lower()
    if ";range=" in name:
        raise RangedAttributeError(attribute)
    if name in GUID_ATTRIBUTES:
        return [format_guid(value) if len(value) == 16 else value for value in raw_values]
    if name in INTEGER_ATTRIBUTES:
        return [_integer_or_bytes(value) for value in raw_values]
    return [_text_or_bytes(value) for value in raw_values]


def _integer_or_bytes(raw: bytes) -> AttributeValue:
    try:
        return int(raw)
    except ValueError:
        return raw


def _text_or_bytes(raw: bytes) -> AttributeValue:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:  # a photo, a SID, a certificate: not text
        return raw


def generalized_time(moment: datetime.datetime) -> str:
    """``moment`` as LDAP generalized time in UTC to the second (``20261201135928Z``).

    Seconds are all a ``modifyTimestamp>=`` filter can compare on every server; a naive
    datetime is taken as UTC.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC).strftime("%Y%m%d%H%M%SZ")


def parse_generalized_time(text: str) -> datetime.datetime:
    """A generalized time (``20200101000000Z``, ``20261201135928.0Z``) as an aware datetime.

    Raises ValueError for anything else (a local time without ``Z`` is not sent by AD or
    OpenLDAP for these attributes).
    """
    if not text.endswith("Z"):
        raise ValueError(f"not a UTC generalized time: {text!r}")
    whole = text[:-1].split(".")[0].split(",")[0]
    return datetime.datetime.strptime(whole, "%Y%m%d%H%M%S").replace(tzinfo=datetime.UTC)


def escape_filter_value(value: str) -> str:
    """``value`` escaped for use inside a filter (RFC 4515): ``*``, ``(``, ``)``, ``\\``, NUL."""
    replacements = {"\\": r"\5c", "*": r"\2a", "(": r"\28", ")": r"\29", "\0": r"\00"}
    return "".join(replacements.get(character, character) for character in value)
