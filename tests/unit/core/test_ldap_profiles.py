"""Directory profiles and the helpers on entries: disabled, DN within, group membership."""

from __future__ import annotations

import pytest

from core.errors import ModuleError
from core.sources.ldap_profiles import (
    AD,
    OPENLDAP,
    dn_within,
    normalize_dn,
    profile_named,
)

GROUP = "CN=VPN Users,OU=Groups,DC=bars,DC=example"


def test_profiles_name_their_id_and_change_attributes() -> None:
    assert profile_named("ad") is AD and AD.id_attribute in AD.attributes
    assert profile_named("openldap") is OPENLDAP and OPENLDAP.id_attribute in OPENLDAP.attributes
    assert AD.change_attribute == "uSNChanged" and OPENLDAP.change_attribute == "modifyTimestamp"
    with pytest.raises(ModuleError, match="ad, openldap"):
        profile_named("novell")


def test_dns_compare_without_case_or_spaces_and_keep_escaped_commas() -> None:
    assert normalize_dn("CN=Doe\\, Ann, OU=Staff,DC=Bars") == ("cn=doe, ann", "ou=staff", "dc=bars")
    assert normalize_dn("CN=Ren\\c3\\a9") == normalize_dn("cn=René")
    assert dn_within("cn=Ann,ou=STAFF,dc=bars,dc=example", "OU=Staff, DC=bars,DC=example")
    assert dn_within("OU=Staff,DC=bars,DC=example", "OU=Staff,DC=bars,DC=example")
    assert not dn_within("CN=Ann,OU=Staff2,DC=bars,DC=example", "OU=Staff,DC=bars,DC=example")
    assert not dn_within("DC=example", "OU=Staff,DC=bars,DC=example")
