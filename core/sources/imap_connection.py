"""Opening an IMAP session: TCP, TLS (IMAPS or STARTTLS) and the login, password or XOAUTH2.

With ``imap_mailbox`` the only code that imports ``imaplib``. TLS is always verified: the
certificate chain (``ca_file`` as the only trust anchor when given, the system's CAs
otherwise) and the host name. Failures become ``imap_errors`` here, naming the server and
the user and never a password or token; imaplib's own record of the lines it sent (the
LOGIN line among them) is cleared once logged in.
"""

from __future__ import annotations

import contextlib
import imaplib
import json
import re
import ssl
import time
from collections.abc import Callable

from core.sources.imap_errors import (
    MailboxCredentialsError,
    MailboxError,
    MailboxTlsError,
    MailboxUnreachableError,
    connection_lost,
    login_failure,
    starttls_not_offered,
    tls_failure,
    unreachable,
)
from core.sources.imap_oauth import ClientCredentialsTokens
from core.sources.imap_responses import quoted
from core.sources.imap_types import AuthKind, MailboxSettings

_BYTES_REPR = re.compile(r"""^b(['"])(.*)\1$""")


class SessionOpener:
    """Opens one logged-in session for ``settings``; ``tokens`` is the XOAUTH2 token cache."""

    def __init__(
        self, settings: MailboxSettings, tokens: ClientCredentialsTokens | None = None
    ) -> None:
        self.settings = settings
        self.address = settings.address
        self.tokens = tokens

    def open(self) -> imaplib.IMAP4:
        """A connected, logged-in imaplib session, the socket timing out after
        ``read_timeout_seconds``. Raises MailboxUnreachableError, MailboxTlsError,
        MailboxCredentialsError or OAuthTokenError, saying why."""
        imap = self._connect()
        try:
            if self.settings.starttls:
                self._starttls(imap)
            self._log_in(imap)
        except BaseException:
            shut(imap)
            raise
        return imap

    def _connect(self) -> imaplib.IMAP4:
        address, settings = self.address, self.settings
        started = time.monotonic()
        try:
            if address.use_ssl:
                imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                    address.host,
                    address.port,
                    ssl_context=self._tls_context(),
                    timeout=settings.connect_timeout_seconds,
                )
            else:
                imap = imaplib.IMAP4(
                    address.host, address.port, timeout=settings.connect_timeout_seconds
                )
        except ssl.SSLError as exc:
            raise tls_failure(str(address), exc, settings.ca_file) from exc
        except OSError as exc:
            waited = time.monotonic() - started
            raise unreachable(str(address), reason_of(exc), waited) from exc
        except imaplib.IMAP4.error as exc:
            raise MailboxUnreachableError(
                f"{address} did not greet as an IMAP server ({text_of(exc)}).",
                hint="Check the port: IMAP is usually 143, IMAPS 993.",
            ) from exc
        imap.sock.settimeout(settings.read_timeout_seconds)
        return imap

    def _tls_context(self) -> ssl.SSLContext:
        ca_file = self.settings.ca_file
        try:
            return ssl.create_default_context(cafile=ca_file or None)
        except (OSError, ssl.SSLError) as exc:
            raise MailboxTlsError(
                f"ca_file {ca_file!r} cannot be read as PEM certificates ({exc}).",
                hint="Point ca_file at the PEM file of the CA that issued the mail server's "
                "certificate.",
            ) from exc

    def _starttls(self, imap: imaplib.IMAP4) -> None:
        address = str(self.address)
        if "STARTTLS" not in imap.capabilities:
            raise starttls_not_offered(address)
        try:
            imap.starttls(ssl_context=self._tls_context())
        except ssl.SSLError as exc:
            raise tls_failure(address, exc, self.settings.ca_file) from exc
        except (imaplib.IMAP4.error, OSError) as exc:
            raise connection_lost(address, "starting TLS", text_of(exc)) from exc

    # -- logging in --------------------------------------------------------------------------

    def _log_in(self, imap: imaplib.IMAP4) -> None:
        if self.settings.auth_kind is AuthKind.XOAUTH2:
            self._log_in_xoauth2(imap)
        else:
            self._log_in_password(imap)
        with contextlib.suppress(AttributeError):
            imap._cmd_log.clear()  # type: ignore[attr-defined]

    def _log_in_password(self, imap: imaplib.IMAP4) -> None:
        username = self.settings.username
        password = self.settings.password.reveal() if self.settings.password else ""
        if "AUTH=PLAIN" in imap.capabilities:  # SASL PLAIN is UTF-8; LOGIN is ASCII only
            response = f"\0{username}\0{password}".encode()
            self._authenticate(imap, "PLAIN", lambda: imap.authenticate("PLAIN", _once(response)))
            return
        if not (username + password).isascii():
            raise MailboxCredentialsError(
                f"{self.address} offers only LOGIN, which cannot carry the non-ASCII "
                f"characters in the username or password of {username}.",
                hint="Use an ASCII password, or enable AUTH=PLAIN on the server.",
            )
        self._authenticate(imap, "LOGIN", lambda: imap.login(quoted(username), password))

    def _log_in_xoauth2(self, imap: imaplib.IMAP4) -> None:
        if "AUTH=XOAUTH2" not in imap.capabilities:
            raise MailboxCredentialsError(
                f"{self.address} does not offer XOAUTH2 logins.",
                hint="Use a password for this server, or enable OAuth (XOAUTH2) on it.",
            )
        if self.tokens is None:
            self.tokens = ClientCredentialsTokens.for_settings(self.settings)
        had_cached = self.tokens.cached
        try:
            self._xoauth2(imap, self.tokens.token())
        except MailboxCredentialsError:
            if not had_cached:
                raise
            # A cached token may have been revoked early: one more try with a new one.
            self._xoauth2(imap, self.tokens.token(fresh=True))

    def _xoauth2(self, imap: imaplib.IMAP4, token: str) -> None:
        initial = f"user={self.settings.username}\x01auth=Bearer {token}\x01\x01".encode()
        challenges: list[bytes] = []

        def respond(challenge: bytes) -> bytes:
            # After a refusal the server sends its reason as JSON; an empty answer ends it.
            challenges.append(challenge)
            return initial if len(challenges) == 1 else b""

        self._authenticate(
            imap,
            "XOAUTH2",
            lambda: imap.authenticate("XOAUTH2", respond),
            detail=lambda: _oauth_status(challenges[1:]),
            secret=token,
        )

    def _authenticate(
        self,
        imap: imaplib.IMAP4,
        mechanism: str,
        call: Callable[[], object],
        *,
        detail: Callable[[], str] = str,
        secret: str = "",
    ) -> None:
        address = str(self.address)
        hidden = [secret, self.settings.password.reveal() if self.settings.password else ""]
        try:
            call()
        except imaplib.IMAP4.abort as exc:
            raise connection_lost(address, "logging in", _scrub(text_of(exc), hidden)) from None
        except imaplib.IMAP4.error as exc:
            said = " ".join(part for part in (_scrub(text_of(exc), hidden), detail()) if part)
            raise login_failure(self.settings.username, address, mechanism, said) from None
        except OSError as exc:
            raise connection_lost(address, "logging in", reason_of(exc)) from exc


def text_of(exc: BaseException) -> str:
    """imaplib's message, without the ``b'...'`` it wraps a server's bytes in."""
    value = exc.args[0] if exc.args else exc
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    match = _BYTES_REPR.match(text)
    return (match.group(2) if match else text).strip() or type(exc).__name__


def reason_of(exc: OSError) -> str:
    """What went wrong with a socket, in a few words."""
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return exc.strerror or str(exc) or type(exc).__name__


def shut(imap: imaplib.IMAP4) -> None:
    """Close the socket for good (after a failed login, a logout or a dropped connection)."""
    with contextlib.suppress(OSError):
        imap.shutdown()


def settings_failure(settings: MailboxSettings, problems: list[str]) -> MailboxError:
    """The error for settings that cannot work, one problem a line."""
    return MailboxError(
        f"the mailbox settings for {settings.username or '?'} cannot work:\n- "
        + "\n- ".join(problems)
    )


def _once(response: bytes) -> Callable[[bytes], bytes | None]:
    """A SASL callback that answers the first challenge and aborts any further one."""
    answered: list[bool] = []

    def respond(challenge: bytes) -> bytes | None:
        if answered:
            return None
        answered.append(True)
        return response

    return respond


def _oauth_status(challenges: list[bytes]) -> str:
    """The status in the JSON a server sends after refusing a token (``{"status":"401"}``)."""
    for challenge in challenges:
        try:
            status = json.loads(challenge).get("status")
        except (ValueError, AttributeError):
            continue
        if status:
            return f"(status {status})"
    return ""


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return text
