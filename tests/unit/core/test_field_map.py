"""The shared field map: what an admin writes, what reaches Halo."""

from __future__ import annotations

import uuid

import pytest

from core.sync.field_map import FieldMap, FieldMapError, field_map_problems

ENTRY = {
    "mail": ["Ann.Smith@Example.COM"],
    "displayName": ["Ann Smith"],
    "userAccountControl": ["514"],
    "memberOf": ["CN=Staff,OU=Groups,DC=x", "CN=VPN,OU=Groups,DC=x"],
    "manager": ["CN=Smith\\, Bob,OU=Staff,DC=x"],
    "accountEnabled": True,
}


def test_attributes_are_read_case_insensitively_and_converted_in_order() -> None:
    field_map = FieldMap.parse(
        {
            "emailaddress": "MAIL|lower",
            "name": "displayname",
            "inactive": "userAccountControl|bit:2",
            "notes": "memberOf|join:; ",
            "admanager": "manager|rdn",
        }
    )
    assert field_map.apply(ENTRY) == {
        "emailaddress": "ann.smith@example.com",
        "name": "Ann Smith",
        "inactive": True,
        "notes": "CN=Staff,OU=Groups,DC=x; CN=VPN,OU=Groups,DC=x",
        "admanager": "Smith, Bob",
    }


def test_a_bit_that_is_not_set_and_a_negated_flag() -> None:
    field_map = FieldMap.parse(
        {"inactive": "userAccountControl|bit:2", "off": "accountEnabled|not"}
    )
    assert field_map.apply({"userAccountControl": "512", "accountEnabled": "true"}) == {
        "inactive": False,
        "off": False,
    }
    assert field_map.apply({"userAccountControl": ["0x2"], "accountEnabled": False})["off"] is True


def test_a_value_gone_from_the_source_is_cleared_not_kept() -> None:
    field_map = FieldMap.parse({"phonenumber": "telephoneNumber", "title": "title|default:Staff"})
    assert field_map.apply({}) == {"phonenumber": "", "title": "Staff"}


def test_a_profile_is_overridden_field_by_field_and_a_field_can_be_dropped() -> None:
    profile = {"emailaddress": "mail", "phonenumber": "telephoneNumber", "name": "cn"}
    field_map = FieldMap.parse(
        {"name": "displayName", "phonenumber": "", "notes": "=from AD"}, base=profile
    )
    assert field_map.apply(ENTRY) == {
        "emailaddress": "Ann.Smith@Example.COM",
        "name": "Ann Smith",
        "notes": "from AD",
    }
    assert field_map.attributes == ["displayName", "mail"]


def test_an_objectguid_becomes_a_stable_uuid_text() -> None:
    guid = uuid.uuid4()
    field_map = FieldMap.parse({"third_party_guid": "objectGUID|guid"})
    assert field_map.apply({"objectGUID": [guid.bytes_le]}) == {"third_party_guid": str(guid)}
    assert field_map.apply({"objectGUID": "{" + str(guid).upper() + "}"}) == {
        "third_party_guid": str(guid)
    }


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("mail|lowr", "unknown converter 'lowr'"),
        ("|lower", "does not start with an attribute name"),
        ("userAccountControl|bit:two", "'bit:two'"),
    ],
)
def test_a_mapping_that_cannot_work_is_named_with_its_field(spec: str, message: str) -> None:
    with pytest.raises(FieldMapError, match=message):
        FieldMap.parse({"emailaddress": spec})
    [(path, text)] = field_map_problems({"emailaddress": spec})
    assert path == "field_map.emailaddress" and message in text
