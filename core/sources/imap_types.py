"""The mailbox client's plain types: where the server is, how to log in, what comes back.

Apart from the client so that a module's options check and the tests can build and inspect
them without opening a connection; nothing here imports an IMAP library.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from core.settings.secrets import Secret
from core.sources.imap_errors import MailboxError
from core.sources.server_address import ServerAddress as BaseAddress

DEFAULT_PORTS = {"imap": 143, "imaps": 993}
CONNECT_TIMEOUT_SECONDS = 15.0
READ_TIMEOUT_SECONDS = 60.0
# Exchange Online accepts messages up to 150 MB; a cap keeps a run's memory bounded, and a
# message above it is handed over as its header only (MailMessage.complete is False).
DEFAULT_MAX_MESSAGE_BYTES = 50 * 1024 * 1024
MICROSOFT_TOKEN_URL = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"  # noqa: S105
DEFAULT_OAUTH_SCOPE = "https://outlook.office365.com/.default"


class AuthKind(StrEnum):
    PASSWORD = "password"  # noqa: S105 - a kind of login
    XOAUTH2 = "xoauth2"


@dataclass(frozen=True)
class ServerAddress(BaseAddress):
    """``imap://host:port`` or ``imaps://host:port`` taken apart (the port defaults 143/993)."""

    protocol = "IMAP"
    schemes = DEFAULT_PORTS
    error = MailboxError
    usage = "Write imaps://host:993, or imap://host:143 with starttls."
    options = "the folder and username are options"


@dataclass(frozen=True)
class MailboxSettings:
    """How to reach and log in to one mailbox; the module builds it from its options.

    Password login with ``password``; XOAUTH2 with ``oauth_client_id`` (a client-credentials
    token from ``oauth_token_url``, or Microsoft's endpoint for ``oauth_tenant_id``).
    ``max_message_bytes`` None reads every message whole, however large.
    """

    server: str
    username: str
    password: Secret | None = None
    starttls: bool = False
    ca_file: str = ""  # PEM of the CA that issued the server's certificate; "" = system CAs
    oauth_client_id: str = ""
    oauth_client_secret: Secret | None = None
    oauth_tenant_id: str = ""
    oauth_token_url: str = ""
    oauth_scope: str = DEFAULT_OAUTH_SCOPE
    connect_timeout_seconds: float = CONNECT_TIMEOUT_SECONDS
    read_timeout_seconds: float = READ_TIMEOUT_SECONDS
    max_message_bytes: int | None = DEFAULT_MAX_MESSAGE_BYTES

    def __repr__(self) -> str:
        return (
            f"MailboxSettings(server={self.server!r}, username={self.username!r}, "
            f"auth={self.auth_kind.value})"
        )

    @property
    def address(self) -> ServerAddress:
        return ServerAddress.parse(self.server)

    @property
    def auth_kind(self) -> AuthKind:
        return AuthKind.XOAUTH2 if self.oauth_client_id else AuthKind.PASSWORD

    @property
    def encrypted(self) -> bool:
        return self.starttls or self.address.use_ssl

    @property
    def token_url(self) -> str:
        """Where client-credentials tokens come from: ``oauth_token_url``, else Microsoft's
        endpoint for ``oauth_tenant_id``; "" when neither is set."""
        if self.oauth_token_url:
            return self.oauth_token_url
        if self.oauth_tenant_id:
            return MICROSOFT_TOKEN_URL.format(tenant=self.oauth_tenant_id)
        return ""

    def problems(self) -> list[str]:
        """Every reason these settings cannot work, each naming its option; [] when fine.

        Refuses a password or token over an unencrypted connection to another machine.
        """
        try:
            address: ServerAddress | None = self.address
        except MailboxError as exc:
            address = None
            found = [f"server: {exc.message}"]
        else:
            found = []
        if not self.username:
            found.append("username: required (the mailbox's login name or address).")
        found += self._auth_problems()
        for name in ("connect_timeout_seconds", "read_timeout_seconds"):
            if getattr(self, name) <= 0:
                found.append(f"{name}: must be more than 0, not {getattr(self, name)}.")
        if self.max_message_bytes is not None and self.max_message_bytes < 1:
            found.append(f"max_message_bytes: must be at least 1, not {self.max_message_bytes}.")
        if address is not None:
            found += self._transport_problems(address)
        return found

    def _auth_problems(self) -> list[str]:
        if self.auth_kind is AuthKind.PASSWORD:
            return [] if self.password else ["password: required (or set oauth_client_id)."]
        found = []
        if self.password:
            found.append("password: set either password or oauth_client_id, not both.")
        if not self.oauth_client_secret:
            found.append("oauth_client_secret: required with oauth_client_id.")
        if not self.token_url:
            found.append("oauth_tenant_id: required with oauth_client_id (or oauth_token_url).")
        elif not self.token_url.lower().startswith("https://") and not _loopback_url(
            self.token_url
        ):
            found.append("oauth_token_url: must be https:// (the client secret goes there).")
        if not self.oauth_scope:
            found.append(f"oauth_scope: required (Microsoft 365: {DEFAULT_OAUTH_SCOPE}).")
        return found

    def _transport_problems(self, address: ServerAddress) -> list[str]:
        if self.starttls and address.use_ssl:
            return ["starttls: applies to imap:// only; imaps:// is TLS from the start."]
        if not self.encrypted and not address.loopback:
            return [
                f"server: {self.server} would send the credentials unencrypted; use "
                "imaps://host:993, or set starttls."
            ]
        return []


@dataclass(frozen=True)
class FolderState:
    """A selected folder: its UIDVALIDITY (UIDs mean nothing across a change of it), the UID
    the next message will get (None when the server does not say) and its message count."""

    name: str
    uidvalidity: int
    uid_next: int | None
    exists: int


@dataclass(frozen=True)
class MailMessage:
    """One message by UID: its size on the server and its raw RFC 822 bytes.

    ``complete`` is False when the message was larger than the cap: ``raw`` is then its
    header only, so a caller can still say who sent what before refusing it.
    """

    uid: int
    size: int
    raw: bytes
    complete: bool = True

    def __repr__(self) -> str:
        state = "" if self.complete else ", header only"
        return f"MailMessage(uid={self.uid}, size={self.size}{state})"


def _loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return ServerAddress(host, 0, False).loopback
