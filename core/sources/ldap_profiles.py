"""Directory profiles (which attributes a kind of directory has) and helpers on entries.

A profile names the attribute that identifies an entry for ever (AD ``objectGUID``, OpenLDAP
``entryUUID``: both survive renames and moves, unlike a DN), the attributes worth reading, a
default filter for people, and the attribute a delta run compares. The sync module picks one
by its ``profile`` option; the admin can read more attributes on top. No LDAP library here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from core.errors import ModuleError
from core.sources.ldap_values import AttributeValue
from core.sync.dn import dn_within, normalize_dn, split_dn


@dataclass(frozen=True)
class DirectoryProfile:
    """What one kind of directory calls things; see the module docstring."""

    name: str
    id_attribute: str
    attributes: tuple[str, ...]
    user_filter: str
    change_attribute: str  # the delta: AD uSNChanged, OpenLDAP modifyTimestamp


AD = DirectoryProfile(
    name="ad",
    id_attribute="objectGUID",
    attributes=(
        "objectGUID",
        "sAMAccountName",
        "userPrincipalName",
        "mail",
        "displayName",
        "givenName",
        "sn",
        "telephoneNumber",
        "mobile",
        "title",
        "department",
        "company",
        "manager",
        "userAccountControl",
        "uSNChanged",
        "whenChanged",
        "memberOf",
        "distinguishedName",
    ),
    # objectCategory=person leaves out computer accounts, which are objectClass=user too.
    user_filter="(&(objectCategory=person)(objectClass=user))",
    change_attribute="uSNChanged",
)
OPENLDAP = DirectoryProfile(
    name="openldap",
    id_attribute="entryUUID",
    attributes=(
        "entryUUID",
        "uid",
        "cn",
        "mail",
        "givenName",
        "sn",
        "telephoneNumber",
        "modifyTimestamp",
        "memberOf",  # memberOf only where the memberof overlay runs
    ),
    user_filter="(objectClass=inetOrgPerson)",
    change_attribute="modifyTimestamp",
)
PROFILES: dict[str, DirectoryProfile] = {profile.name: profile for profile in (AD, OPENLDAP)}


def profile_named(name: str) -> DirectoryProfile:
    """The profile called ``name``; ModuleError naming the known ones otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise ModuleError(
            f"Unknown directory profile {name!r}.", hint=f"Use one of: {known}."
        ) from None


class HasValues(Protocol):
    """Anything with the values of an attribute by name (a directory entry)."""

    def values(self, attribute: str) -> list[AttributeValue]: ...


__all__ = [
    "AD",
    "OPENLDAP",
    "PROFILES",
    "DirectoryProfile",
    "dn_within",
    "normalize_dn",
    "profile_named",
    "split_dn",
]
