"""The directory client's plain types: where the server is, how to bind, what an entry is.

Apart from the client so that a module's options check and the tests can build and inspect
them without the ``ldap`` extra installed; nothing here imports an LDAP library.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.settings.secrets import Secret
from core.sources.ldap_errors import DirectoryError
from core.sources.ldap_values import AttributeValue
from core.sources.server_address import ServerAddress as BaseAddress

DEFAULT_PAGE_SIZE = 500
CONNECT_TIMEOUT_SECONDS = 10.0
RECEIVE_TIMEOUT_SECONDS = 60
DEFAULT_PORTS = {"ldap": 389, "ldaps": 636}
# DOMAIN\user (no "=", so not a DN): Windows' down-level logon name, bound with NTLM.
_DOWN_LEVEL_NAME = re.compile(r"^[^\\=,]+\\[^\\=,]+$")


class Scope(StrEnum):
    BASE = "base"
    ONE_LEVEL = "one"
    SUBTREE = "subtree"


class BindKind(StrEnum):
    ANONYMOUS = "anonymous"
    SIMPLE = "simple"
    NTLM = "ntlm"


@dataclass(frozen=True)
class ServerAddress(BaseAddress):
    """``ldap://host:port`` or ``ldaps://host:port`` taken apart (the port defaults 389/636)."""

    protocol = "LDAP"
    schemes = DEFAULT_PORTS
    error = DirectoryError
    usage = "Write ldap://host:port (with start_tls) or ldaps://host:port."
    options = "the base DN and the bind DN are options"


@dataclass(frozen=True)
class DirectorySettings:
    """How to reach and bind to a directory; the module builds it from its options."""

    server: str
    bind_dn: str = ""
    bind_password: Secret | None = None
    start_tls: bool = False
    ca_file: str = ""  # PEM of the CA that issued the server's certificate; "" = system CAs
    connect_timeout_seconds: float = CONNECT_TIMEOUT_SECONDS
    receive_timeout_seconds: int = RECEIVE_TIMEOUT_SECONDS  # ldap3 needs whole seconds
    page_size: int = DEFAULT_PAGE_SIZE

    def __post_init__(self) -> None:
        # A zero receive timeout would make ldap3's socket non-blocking, not patient.
        for name in ("connect_timeout_seconds", "receive_timeout_seconds", "page_size"):
            if getattr(self, name) < 1:
                raise DirectoryError(f"{name} must be at least 1, not {getattr(self, name)}.")

    @property
    def address(self) -> ServerAddress:
        return ServerAddress.parse(self.server)

    @property
    def bind_kind(self) -> BindKind:
        """NTLM for ``DOMAIN\\user``, anonymous without a bind name, simple otherwise
        (a DN, or AD's ``user@domain``)."""
        if not self.bind_dn:
            return BindKind.ANONYMOUS
        if _DOWN_LEVEL_NAME.match(self.bind_dn):
            return BindKind.NTLM
        return BindKind.SIMPLE

    @property
    def encrypted(self) -> bool:
        return self.start_tls or self.address.use_ssl


@dataclass(frozen=True)
class DirectoryEntry:
    """One entry: its DN and the values of the attributes asked for, by the asked names.

    The server may spell a name differently (``samaccountname`` asked, ``sAMAccountName``
    sent); entries use the caller's spelling, and :meth:`values` looks up case-insensitively.
    An attribute the entry does not have is absent (not an empty list).
    """

    dn: str
    attributes: dict[str, list[AttributeValue]] = field(default_factory=dict)

    def values(self, attribute: str) -> list[AttributeValue]:
        """Every value of ``attribute``; [] when the entry has none."""
        if attribute in self.attributes:
            return self.attributes[attribute]
        wanted = attribute.lower()
        for name, values in self.attributes.items():
            if name.lower() == wanted:
                return values
        return []

    def first(self, attribute: str) -> AttributeValue | None:
        """The first value of ``attribute``, or None."""
        found = self.values(attribute)
        return found[0] if found else None

    def record(self) -> dict[str, Any]:
        """A plain dict, attribute → list of values, plus ``dn`` (a str), for a field map."""
        return {"dn": self.dn, **self.attributes}


@dataclass(frozen=True)
class EntryId:
    """An entry's permanent id (the profile's id attribute, decoded) and its current DN."""

    id: str
    dn: str
