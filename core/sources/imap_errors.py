"""The mailbox client's errors, each saying what happened on which server and what to do.

    ModuleError
    └── MailboxError                    anything the mailbox client cannot do
        ├── MailboxUnreachableError     refused, timed out, no IMAP greeting, connection lost
        ├── MailboxTlsError             certificate not trusted / wrong name, no STARTTLS
        ├── MailboxCredentialsError     login refused (password or XOAUTH2, the server's reason)
        ├── OAuthTokenError             the token endpoint refused or failed a token request
        └── MailboxFolderNotFoundError  the folder does not exist (or a move's target)

Messages name the server, the user and the folder but never a password, client secret or
token; ``server_response`` is the server's own text when it sent one. No IMAP library is
imported here.
"""

from __future__ import annotations

import ssl

from core.errors import ModuleError

LOGIN_HINT = (
    "Check username and password. Microsoft 365 and Google no longer accept passwords over "
    "IMAP: use XOAUTH2 (oauth_client_id, oauth_client_secret, oauth_tenant_id) there."
)
XOAUTH2_HINT = (
    "The token was issued but the mail server refused it. Microsoft 365: give the app the "
    "IMAP.AccessAsApp application permission (admin consent), register its service "
    "principal in Exchange (New-ServicePrincipal) and grant it FullAccess to this mailbox "
    "(Add-MailboxPermission); username must be the mailbox's address."
)


class MailboxError(ModuleError):
    """The mailbox could not be read or changed; ``server_response`` is the server's text."""

    title = "Mailbox error"

    def __init__(self, message: str, *, hint: str = "", server_response: str = "") -> None:
        super().__init__(message, hint=hint)
        self.server_response = server_response


class MailboxUnreachableError(MailboxError):
    title = "Cannot reach the mail server"


class MailboxTlsError(MailboxError):
    title = "Mail server TLS problem"


class MailboxCredentialsError(MailboxError):
    title = "The mail server refused the login"


class OAuthTokenError(MailboxError):
    """The OAuth token endpoint refused or failed; ``status`` is its HTTP status, if any."""

    title = "Cannot get an OAuth token"

    def __init__(self, message: str, *, hint: str = "", status: int | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class MailboxFolderNotFoundError(MailboxError):
    title = "Mail folder not found"


def login_failure(
    username: str, address: str, mechanism: str, server_response: str
) -> MailboxCredentialsError:
    """The error for a login (``LOGIN``/``PLAIN``) or ``XOAUTH2`` the server answered NO."""
    said = f" (server said: {server_response})" if server_response else ""
    oauth = mechanism.upper() == "XOAUTH2"
    return MailboxCredentialsError(
        f"authentication failed for {username} on {address}"
        + (" with XOAUTH2" if oauth else "")
        + f"{said}.",
        hint=XOAUTH2_HINT if oauth else LOGIN_HINT,
        server_response=server_response,
    )


def unreachable(address: str, reason: str, waited_seconds: float) -> MailboxUnreachableError:
    """The error for a connection that could not be made or was not answered in time."""
    return MailboxUnreachableError(
        f"cannot reach the mail server at {address} ({reason}; waited {waited_seconds:.1f} s).",
        hint="Check the server name and port, that the server runs, and that a firewall lets "
        "this machine through; connect_timeout_seconds sets how long to wait.",
    )


def connection_lost(address: str, action: str, reason: str) -> MailboxUnreachableError:
    """The error for a connection that dropped or timed out in the middle of ``action``."""
    return MailboxUnreachableError(
        f"lost the connection to {address} while {action} ({reason}).",
        hint="Check the server and the network, then run again; read_timeout_seconds sets "
        "how long to wait for an answer.",
    )


def tls_failure(address: str, exc: ssl.SSLError, ca_file: str) -> MailboxTlsError:
    """The error for a failed TLS handshake: untrusted certificate, wrong name, or not TLS."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or str(exc)
        if "mismatch" in reason.lower():
            return MailboxTlsError(
                f"the certificate of {address} is not valid for that name ({reason}).",
                hint="Connect by a name or address the certificate holds.",
            )
        trust = f"the CA in ca_file {ca_file!r}" if ca_file else "the system CAs"
        return MailboxTlsError(
            f"the certificate of {address} is not trusted by {trust} ({reason}).",
            hint="Set ca_file to the PEM file of the CA that issued the mail server's certificate.",
        )
    return MailboxTlsError(
        f"the TLS handshake with {address} failed ({exc.reason or exc}).",
        hint="Check that the port speaks IMAPS (usually 993), or use imap:// (143) with starttls.",
    )


def starttls_not_offered(address: str) -> MailboxTlsError:
    return MailboxTlsError(
        f"{address} does not offer STARTTLS.",
        hint="Use imaps://host:993 if the server listens for IMAPS, or enable TLS on the server.",
    )


def folder_not_found(folder: str, address: str, existing: list[str]) -> MailboxFolderNotFoundError:
    """The error for a folder the server does not have; ``existing`` names a few it has."""
    shown = ", ".join(existing[:12]) + (", ..." if len(existing) > 12 else "")
    return MailboxFolderNotFoundError(
        f"the folder {folder!r} does not exist on {address}.",
        hint=f"Folders there: {shown}." if existing else "Check the folder name.",
    )
