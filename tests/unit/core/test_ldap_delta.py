"""Delta filters and the AD high-water mark that is bound to one domain controller."""

from __future__ import annotations

import datetime

from core.sources.ldap_delta import (
    UsnHighWaterMark,
    parenthesized,
    timestamp_delta_filter,
    usn_delta_filter,
)

MARK = UsnHighWaterMark(4711, "CN=NTDS Settings,CN=DC1,CN=Servers,...", "0b7e-guid")


def test_the_usn_filter_asks_for_changes_after_the_mark() -> None:
    assert usn_delta_filter("(objectClass=user)", MARK) == "(&(objectClass=user)(uSNChanged>=4712))"
    assert usn_delta_filter("objectClass=user", 10) == "(&(objectClass=user)(uSNChanged>=11))"
    assert parenthesized(" (a=b) ") == "(a=b)"


def test_the_timestamp_filter_goes_back_by_the_overlap() -> None:
    since = datetime.datetime(2026, 12, 1, 12, 0, 0, tzinfo=datetime.UTC)
    assert (
        timestamp_delta_filter("(objectClass=inetOrgPerson)", since)
        == "(&(objectClass=inetOrgPerson)(modifyTimestamp>=20261201115500Z))"
    )
    assert timestamp_delta_filter("(a=b)", since, datetime.timedelta(0)).endswith(
        "(modifyTimestamp>=20261201120000Z))"
    )


def test_a_mark_holds_only_on_the_same_dc_database() -> None:
    later = UsnHighWaterMark(5000, MARK.dc_service_name.upper(), MARK.invocation_id)
    assert MARK.same_counter(later)
    assert not MARK.same_counter(UsnHighWaterMark(5000, "CN=NTDS Settings,CN=DC2", "0b7e-guid"))
    assert not MARK.same_counter(UsnHighWaterMark(5000, MARK.dc_service_name, "restored"))
    assert not MARK.same_counter(UsnHighWaterMark(10, MARK.dc_service_name, MARK.invocation_id))
    assert UsnHighWaterMark.from_json(MARK.to_json()) == MARK
