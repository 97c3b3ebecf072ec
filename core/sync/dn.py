"""Distinguished names as text: split, unescaped and compared the way directories do.

Placement rules (``OU=Leeds,...``), group memberships and the DNs a directory returns are
compared case-insensitively, ignoring the spaces LDAP ignores, with RFC 4514 escapes undone,
so ``CN=Doe\\, Ann`` is one name, not two. No LDAP library is needed for that.
"""

from __future__ import annotations


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
