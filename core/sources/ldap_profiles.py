"""Directory profiles (which attributes a kind of directory has) and helpers on entries.

A profile names the attribute that identifies an entry for ever (AD ``objectGUID``, OpenLDAP
``entryUUID``: both survive renames and moves, unlike a DN), the attributes worth reading, a
default filter for people, and the attribute a delta run compares. The sync module picks one
by its ``profile`` option; the admin can read more attributes on top. No LDAP library here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from core.errors import ModuleError
from core.sources.ldap_values import ACCOUNT_DISABLED_FLAG, AttributeValue


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


def is_disabled(entry: HasValues, attribute: str = "userAccountControl") -> bool:
    """Whether AD's userAccountControl has ACCOUNTDISABLE (bit 2) set; False without it."""
    flags = entry.values(attribute)
    return bool(flags) and isinstance(flags[0], int) and bool(flags[0] & ACCOUNT_DISABLED_FLAG)


def split_dn(dn: str) -> list[tuple[str, str]]:
    """A DN as (attribute, value) pairs, values unescaped (``CN=Doe\\, Ann`` → ``Doe, Ann``).

    Splits only at unescaped commas; multi-valued RDNs (``+``) stay one value.
    """
    parts: list[str] = []
    current = ""
    escaped = False
    for character in dn:
        if escaped:
            current += character
            escaped = False
        elif character == "\\":
            current += character
            escaped = True
        elif character == ",":
            parts.append(current)
            current = ""
        else:
            current += character
    parts.append(current)
    pairs = []
    for part in parts:
        attribute, _, value = part.partition("=")
        pairs.append((attribute.strip(), _unescape(value.strip())))
    return pairs if dn.strip() else []


def _unescape(value: str) -> str:
    """RFC 4514 escapes undone: ``\\,`` → ``,`` and ``\\c3\\a9`` → ``é``."""
    if "\\" not in value:
        return value
    out = bytearray()
    index = 0
    while index < len(value):
        character = value[index]
        pair = value[index + 1 : index + 3]
        if (
            character == "\\"
            and len(pair) == 2
            and all(c in "0123456789abcdefABCDEF" for c in pair)
        ):
            out += bytes.fromhex(pair)
            index += 3
        elif character == "\\" and index + 1 < len(value):
            out += value[index + 1].encode()
            index += 2
        else:
            out += character.encode()
            index += 1
    return out.decode("utf-8", errors="replace")


def normalize_dn(dn: str) -> tuple[str, ...]:
    """A DN as its RDNs, lowercased and without the spaces LDAP ignores, for comparing.

    ``CN=Ann,OU=Staff, DC=bars`` and ``cn=ann,ou=staff,dc=bars`` normalize alike: the naming
    attributes of users, OUs and domains compare case-insensitively in AD and OpenLDAP.
    """
    return tuple(f"{attribute.lower()}={value.lower()}" for attribute, value in split_dn(dn))


def dn_within(dn: str, base_dn: str) -> bool:
    """Whether ``dn`` is ``base_dn`` itself or lies below it (an OU placement rule)."""
    entry, base = normalize_dn(dn), normalize_dn(base_dn)
    return len(entry) >= len(base) and entry[len(entry) - len(base) :] == base


def is_member_of(entry: HasValues, group_dn: str, attribute: str = "memberOf") -> bool:
    """Whether the entry's memberOf lists ``group_dn`` (direct membership, DNs compared
    normalized); nested groups need the caller's filter (AD: LDAP_MATCHING_RULE_IN_CHAIN)."""
    wanted = normalize_dn(group_dn)
    return any(
        isinstance(value, str) and normalize_dn(value) == wanted
        for value in entry.values(attribute)
    )


def group_names(member_of: Iterable[AttributeValue]) -> list[str]:
    """The first RDN's value of each group DN (``CN=VPN Users,OU=Groups,...`` → ``VPN Users``),
    for a Halo field that shows groups by name."""
    names = []
    for value in member_of:
        if isinstance(value, str) and (rdns := split_dn(value)):
            names.append(rdns[0][1])
    return names
