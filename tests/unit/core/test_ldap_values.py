"""Raw LDAP values to Python values, by attribute name, whatever the server's schema."""

from __future__ import annotations

import datetime

import pytest

from core.sources.ldap_values import (
    RangedAttributeError,
    decode_values,
    escape_filter_value,
    format_guid,
    generalized_time,
    parse_generalized_time,
)

# An objectGUID as Samba sent it, and the string ldap3's own AD formatter makes of it.
RAW_GUID = b"\x05h\xe3\xb7H\xcc\xbdC\xb9\x15\x82P\xc5\x1dYz"
LDAP3_FORM = "{b7e36805-cc48-43bd-b915-8250c51d597a}"


def test_an_ad_guid_is_the_windows_form_without_braces() -> None:
    assert format_guid(RAW_GUID) == LDAP3_FORM.strip("{}")
    assert decode_values("objectGUID", [RAW_GUID]) == [LDAP3_FORM.strip("{}")]


def test_counters_are_integers_and_text_is_text_and_binary_stays_bytes() -> None:
    assert decode_values("uSNChanged", [b"4711"]) == [4711]
    assert decode_values("userAccountControl", [b"514"]) == [514]
    assert decode_values("cn", ["Zoë Ångström".encode()]) == ["Zoë Ångström"]
    assert decode_values("jpegPhoto", [b"\xff\xd8\xff"]) == [b"\xff\xd8\xff"]
    assert decode_values("whenChanged", [b"20261201135928.0Z"]) == ["20261201135928.0Z"]


def test_a_ranged_attribute_is_refused_rather_than_taken_as_complete() -> None:
    with pytest.raises(RangedAttributeError):
        decode_values("member;range=0-1499", [b"CN=a"])


def test_generalized_time_round_trip() -> None:
    moment = datetime.datetime(2026, 12, 1, 13, 59, 28, tzinfo=datetime.UTC)
    assert generalized_time(moment) == "20261201135928Z"
    assert generalized_time(moment.replace(tzinfo=None)) == "20261201135928Z"
    east = moment.astimezone(datetime.timezone(datetime.timedelta(hours=2)))
    assert generalized_time(east) == "20261201135928Z"
    assert parse_generalized_time("20261201135928.0Z") == moment
    with pytest.raises(ValueError):
        parse_generalized_time("20261201135928")


def test_filter_values_are_escaped() -> None:
    assert escape_filter_value("a*(b)\\c") == r"a\2a\28b\29\5cc"
