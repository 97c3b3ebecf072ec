"""``scheme://host:port`` of a source server (LDAP, IMAP), taken apart and checked once.

Every source client is configured with one URL whose scheme says plain or TLS; what differs
between protocols is only the schemes, their default ports and the words of the error. A
path or a user name in the URL is refused: base DNs, folders and user names are options of
their own, and a password in a URL would end up in logs.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import ClassVar, Self
from urllib.parse import urlsplit

from core.errors import ModuleError

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


@dataclass(frozen=True)
class ServerAddress:
    """A server's host, port and whether the connection starts with TLS.

    Subclasses name their protocol: ``schemes`` maps each scheme to its default port (the
    first plain, the second TLS), ``error`` is the protocol's error class, ``usage`` the
    hint for a wrong URL and ``options`` what the URL must not carry instead.
    """

    host: str
    port: int
    use_ssl: bool

    protocol: ClassVar[str] = ""
    schemes: ClassVar[dict[str, int]] = {}
    error: ClassVar[type[ModuleError]] = ModuleError
    usage: ClassVar[str] = ""
    options: ClassVar[str] = ""

    @classmethod
    def parse(cls, url: str) -> Self:
        """The address in ``url``; the protocol's error for another scheme, a path or no host."""
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        try:
            port = parts.port
        except ValueError:
            port = -1
        if scheme not in cls.schemes or not parts.hostname or port == -1:
            raise cls.error(f"server {url!r} is not an {cls.protocol} address.", hint=cls.usage)
        plain, secure = list(cls.schemes)
        if parts.path.strip("/") or parts.query or parts.username:
            raise cls.error(
                f"server {url!r} has a path or a user name; {cls.options}.",
                hint=f"Write only {secure}://host:port or {plain}://host:port.",
            )
        return cls(parts.hostname, port or cls.schemes[scheme], scheme == secure)

    @property
    def loopback(self) -> bool:
        """Whether the server is this machine, where nothing travels over a network."""
        if self.host.lower() in _LOOPBACK_NAMES:
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"
