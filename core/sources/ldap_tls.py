"""TLS for the directory client: ldap3's Tls with the standard library's verification.

ldap3 2.9 turns the SSL context's hostname check off and, after the handshake, calls the
deprecated ``ssl.match_hostname`` (gone in Python 3.12; an error under this project's
warnings-as-errors tests). :class:`VerifiedTls` keeps ``CERT_REQUIRED`` and
``check_hostname`` on, with ``ca_file`` as the only trust anchor when given and the system's
CAs otherwise: never unverified.
"""

from __future__ import annotations

import ssl
from typing import Any

import ldap3

from core.sources.ldap_errors import DirectoryTlsError


class VerifiedTls(ldap3.Tls):
    """ldap3's Tls with the standard library's verification (see the module docstring).

    Remembers the verification failure, which ldap3 wraps beyond recognition, so the error
    can say "set ca_file" or "the name does not match" rather than "socket error".
    """

    def __init__(self, ca_file: str) -> None:
        if ca_file:
            try:
                self.context = ssl.create_default_context(cafile=ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise DirectoryTlsError(
                    f"ca_file {ca_file!r} cannot be read as PEM certificates ({exc}).",
                    hint="Point ca_file at the PEM file of the CA that issued the server's "
                    "certificate.",
                ) from exc
        else:
            self.context = ssl.create_default_context()
        super().__init__(validate=ssl.CERT_REQUIRED)
        self.ca_file = ca_file
        self.failure: ssl.SSLError | None = None

    def wrap_socket(self, connection: Any, do_handshake: bool = False) -> None:
        try:
            connection.socket = self.context.wrap_socket(
                connection.socket,
                server_side=False,
                do_handshake_on_connect=do_handshake,
                server_hostname=connection.server.host,
            )
        except ssl.SSLError as exc:
            self.failure = exc
            raise

    def describe_failure(self, address: str) -> DirectoryTlsError:
        failure = self.failure
        if isinstance(failure, ssl.SSLCertVerificationError):
            reason = failure.verify_message or str(failure)
            if "mismatch" in reason.lower():
                return DirectoryTlsError(
                    f"the certificate of {address} is not valid for that name ({reason}).",
                    hint="Connect by a name or address the certificate holds.",
                )
            trust = f"the CA in ca_file {self.ca_file!r}" if self.ca_file else "the system CAs"
            return DirectoryTlsError(
                f"the certificate of {address} is not trusted by {trust} ({reason}).",
                hint="Set ca_file to the PEM file of the CA that issued the directory's "
                "certificate.",
            )
        return DirectoryTlsError(
            f"the TLS handshake with {address} failed ({failure}).",
            hint="Check that the port speaks LDAPS (636), or use ldap:// with start_tls.",
        )
