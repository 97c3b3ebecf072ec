"""The LDAP client: one bound, read-only connection to a directory, and paged searches on it.

With ``ldap_tls`` the only code that imports ``ldap3`` (the ``ldap`` extra): a module imports
it when it runs, so listing modules works without the extra. ldap3's exceptions and result
codes are turned into ``ldap_errors`` here, once, each saying what to do next, never showing
the password.

Two things ldap3 leaves to its caller are done here on purpose:

- **Every page's result code is checked.** A server that caps a search (slapd ``sizelimit``,
  AD ``MaxPageSize``, a time limit) ends it with a non-success code, and ldap3's paged
  generator then simply stops: a capped directory would look like a shrunken one, and a sync
  would deactivate everyone past the cap. :meth:`LdapDirectory.search` drives the paged-results
  control itself and raises :class:`DirectorySearchCappedError` instead.
- **The certificate is verified with the standard library's own checks**: see ``ldap_tls``.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import ldap3
from ldap3.core import exceptions as ldap3_errors

from core.sources.ldap_delta import UsnHighWaterMark
from core.sources.ldap_errors import (
    NO_SUCH_OBJECT,
    DirectoryError,
    DirectoryTlsError,
    DirectoryUnreachableError,
    bind_failure,
    search_failure,
)
from core.sources.ldap_tls import VerifiedTls
from core.sources.ldap_types import (
    BindKind,
    DirectoryEntry,
    DirectorySettings,
    EntryId,
    Scope,
    ServerAddress,
)
from core.sources.ldap_values import AttributeValue, RangedAttributeError, decode_values

PAGED_RESULTS_OID = "1.2.840.113556.1.4.319"
_LDAP3_SCOPES = {Scope.BASE: ldap3.BASE, Scope.ONE_LEVEL: ldap3.LEVEL, Scope.SUBTREE: ldap3.SUBTREE}


def build_connection(settings: DirectorySettings) -> Any:
    """The ldap3 Connection for ``settings``, not yet opened (building one sends nothing).

    The one place that maps settings onto ldap3: TLS with verification whenever the channel
    is encrypted, NTLM for ``DOMAIN\\user``, read-only, no referral chasing (a referral means
    a wrong base DN, and chasing it would bind to another server with our password), no
    schema read (values are decoded by name, see ``ldap_values``).
    """
    address = settings.address
    tls = VerifiedTls(settings.ca_file) if settings.encrypted else None
    server = ldap3.Server(
        address.host,
        port=address.port,
        use_ssl=address.use_ssl,
        tls=tls,
        get_info=ldap3.NONE,
        connect_timeout=settings.connect_timeout_seconds,
    )
    kind = settings.bind_kind
    authentication = {
        BindKind.ANONYMOUS: ldap3.ANONYMOUS,
        BindKind.SIMPLE: ldap3.SIMPLE,
        BindKind.NTLM: ldap3.NTLM,
    }[kind]
    password = settings.bind_password.reveal() if settings.bind_password else None
    return ldap3.Connection(
        server,
        user=settings.bind_dn or None,
        password=password if kind is not BindKind.ANONYMOUS else None,
        authentication=authentication,
        auto_bind=ldap3.AUTO_BIND_NONE,
        read_only=True,
        raise_exceptions=False,
        receive_timeout=int(settings.receive_timeout_seconds),
        auto_referrals=False,
        check_names=False,
        return_empty_attributes=False,
    )


class LdapDirectory:
    """A bound connection; ``with LdapDirectory(settings) as directory:`` binds and unbinds.

    ``requests_sent`` counts the LDAP operations sent (bind, StartTLS, each page), so a run
    and the bench can report what a sync cost on the directory side.
    """

    def __init__(self, settings: DirectorySettings) -> None:
        self.settings = settings
        self.address = settings.address
        self.requests_sent = 0
        self._connection: Any = None

    def __repr__(self) -> str:
        # Never ldap3's repr: it prints the password.
        return f"LdapDirectory({self.settings.server!r}, bind_dn={self.settings.bind_dn!r})"

    def __enter__(self) -> LdapDirectory:
        self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- connecting --------------------------------------------------------------------------

    def connect(self) -> None:
        """Open, StartTLS when asked, bind. Raises a DirectoryError subclass that says why."""
        self._refuse_unsafe_settings()
        connection = build_connection(self.settings)
        started = time.monotonic()
        step = "connect"
        try:
            connection.open()
            if self.settings.start_tls:
                step = "StartTLS"
                self.requests_sent += 1
                connection.start_tls()
            step = "bind"
            self.requests_sent += 1
            bound = connection.bind()
        except ldap3_errors.LDAPException as exc:
            _discard(connection)
            waited = time.monotonic() - started
            raise self._connect_failure(exc, connection, step, waited) from exc
        # Forget the password: ldap3's repr prints it, and nothing binds again.
        connection.password = None
        if not bound:
            _discard(connection)
            raise bind_failure(self.settings.bind_dn, str(self.address), connection.result)
        self._connection = connection

    def close(self) -> None:
        """Unbind; harmless when not connected or already closed."""
        if self._connection is not None:
            # A server that is gone already leaves nothing to close.
            with contextlib.suppress(ldap3_errors.LDAPException):
                self._connection.unbind()
            self._connection = None

    def _refuse_unsafe_settings(self) -> None:
        settings = self.settings
        if settings.bind_kind is BindKind.SIMPLE and not settings.encrypted:
            raise DirectoryError(
                f"a simple bind to {settings.server} would send the password unencrypted.",
                hint="Use ldaps://host:636, or set start_tls.",
            )
        if settings.bind_kind is not BindKind.ANONYMOUS and not settings.bind_password:
            raise DirectoryError(f"bind DN {settings.bind_dn!r} has no bind_password.")
        if settings.bind_kind is BindKind.NTLM and not _md4_available():
            raise DirectoryError(
                "an NTLM bind needs MD4, which this Python's OpenSSL lacks.",
                hint='Install the ldap extra (pip install "halo-integrator[ldap]"), which '
                "brings pycryptodome, or bind with a DN or user@domain over LDAPS.",
            )

    def _connect_failure(
        self, exc: ldap3_errors.LDAPException, connection: Any, step: str, waited_seconds: float
    ) -> DirectoryError:
        """The error for a failed connect, StartTLS or bind (``step``), by what ldap3 raised."""
        tls = connection.server.tls
        if isinstance(tls, VerifiedTls) and tls.failure is not None:
            return tls.describe_failure(str(self.address))
        if isinstance(exc, ldap3_errors.LDAPStartTLSError):
            return DirectoryTlsError(
                f"{self.address} refused StartTLS ({connection.result.get('message') or exc}).",
                hint="Configure TLS on the server, or use ldaps:// if it listens for LDAPS.",
            )
        reason = f"{_reason(exc)}; waited {waited_seconds:.1f} s"
        if step == "connect":
            return DirectoryUnreachableError(
                f"cannot reach the directory at {self.address} ({reason}).",
                hint="Check the server name and port, that the directory runs, and that a "
                "firewall lets this machine through.",
            )
        if step == "bind" and self.settings.bind_kind is BindKind.NTLM:
            return DirectoryError(
                f"{self.address} ended the NTLM bind as {self.settings.bind_dn!r} ({reason}): "
                "it may not offer NTLM binds (Samba does not).",
                hint="Bind with a DN or user@domain over LDAPS or StartTLS instead.",
            )
        return DirectoryUnreachableError(
            f"the directory at {self.address} stopped answering during the {step} ({reason}).",
            hint="Check that this is an LDAP port and that the directory is not overloaded; "
            "receive_timeout_seconds sets how long to wait.",
        )

    # -- reading -----------------------------------------------------------------------------

    def search(
        self,
        base_dn: str,
        search_filter: str,
        attributes: Sequence[str],
        *,
        scope: Scope = Scope.SUBTREE,
        page_size: int | None = None,
    ) -> Iterator[DirectoryEntry]:
        """Every entry under ``base_dn`` matching ``search_filter``, page by page.

        Raises DirectorySearchCappedError when the server stops the search early (some
        entries may have been yielded already: the caller must treat the whole read as
        failed), DirectoryBaseNotFoundError for a base DN the server does not hold, and
        DirectoryUnreachableError when the connection drops.
        """
        size = page_size or self.settings.page_size
        wanted = list(attributes)
        spelling = {name.lower(): name for name in wanted}
        cookie: bytes | None = None
        received = 0
        while True:
            result, response = self._search_page(
                base_dn, search_filter, wanted, scope, size, cookie
            )
            for item in response:
                if item.get("type") == "searchResEntry":
                    received += 1
                    yield self._entry(item, spelling)
            if result["result"] != 0:
                raise search_failure(
                    base_dn, search_filter, str(self.address), result, received, size
                )
            cookie = _paged_cookie(result)
            if not cookie:
                return

    def list_ids(
        self,
        base_dn: str,
        search_filter: str,
        id_attribute: str,
        *,
        scope: Scope = Scope.SUBTREE,
        page_size: int | None = None,
    ) -> Iterator[EntryId]:
        """The id and DN of every entry in a scope: what a delta run compares with what it
        knows to find entries that left (deleted, moved out, no longer matching the filter).

        Reads only the id attribute, so a listing of 100,000 users is a few MB. An entry
        without the id attribute is skipped (it cannot be tracked). Errors as :meth:`search`.
        """
        for entry in self.search(
            base_dn, search_filter, [id_attribute], scope=scope, page_size=page_size
        ):
            value = entry.first(id_attribute)
            if isinstance(value, str):
                yield EntryId(value, entry.dn)

    def read_entry(self, dn: str, attributes: Sequence[str]) -> DirectoryEntry | None:
        """One entry by its DN (a base search), or None when the server has no such entry."""
        try:
            return next(self.search(dn, "(objectClass=*)", attributes, scope=Scope.BASE), None)
        except DirectoryError as exc:
            if _no_such_object(exc):
                return None
            raise

    def root_dse(self, attributes: Sequence[str]) -> DirectoryEntry:
        """The server's root DSE (what it says about itself: naming contexts, AD's USN)."""
        entry = self.read_entry("", attributes)
        return entry if entry is not None else DirectoryEntry("")

    def usn_high_water_mark(self) -> UsnHighWaterMark:
        """AD's ``highestCommittedUSN`` now, bound to this DC (see ``ldap_delta``).

        Raises DirectoryError when the server is not an AD domain controller.
        """
        root = self.root_dse(["highestCommittedUSN", "dsServiceName"])
        usn, service_name = root.first("highestCommittedUSN"), root.first("dsServiceName")
        if not isinstance(usn, int) or not isinstance(service_name, str):
            raise DirectoryError(
                f"{self.address} does not report highestCommittedUSN: not an Active Directory "
                "domain controller.",
                hint="Use the openldap profile for other directories.",
            )
        settings_entry = self.read_entry(service_name, ["invocationId"])
        invocation = settings_entry.first("invocationId") if settings_entry else None
        return UsnHighWaterMark(usn, service_name, str(invocation or ""))

    def _search_page(
        self,
        base_dn: str,
        search_filter: str,
        attributes: list[str],
        scope: Scope,
        page_size: int,
        cookie: bytes | None,
    ) -> tuple[Mapping[str, Any], list[Mapping[str, Any]]]:
        connection = self._require_connection()
        self.requests_sent += 1
        try:
            connection.search(
                base_dn,
                search_filter,
                search_scope=_LDAP3_SCOPES[scope],
                attributes=attributes or [ldap3.NO_ATTRIBUTES],
                paged_size=page_size if scope is not Scope.BASE else None,
                paged_cookie=cookie,
            )
        except ldap3_errors.LDAPInvalidFilterError as exc:
            raise DirectoryError(
                f"the filter {search_filter!r} is not valid LDAP ({exc}).",
                hint="Write it as in RFC 4515, e.g. (&(objectClass=user)(mail=*)).",
            ) from exc
        except ldap3_errors.LDAPException as exc:
            raise DirectoryUnreachableError(
                f"lost the connection to {self.address} while searching under {base_dn!r} "
                f"({_reason(exc)}).",
                hint="Check the directory and the network, then run again.",
            ) from exc
        return connection.result, connection.response or []

    def _require_connection(self) -> Any:
        if self._connection is None:
            raise DirectoryError("not connected to the directory (call connect() first).")
        return self._connection

    @staticmethod
    def _entry(item: Mapping[str, Any], spelling: Mapping[str, str]) -> DirectoryEntry:
        attributes: dict[str, list[AttributeValue]] = {}
        for name, raw_values in item.get("raw_attributes", {}).items():
            try:
                values = decode_values(name, raw_values)
            except RangedAttributeError:
                raise DirectoryError(
                    f"{item['dn']}: the server sent only part of {name.split(';')[0]} "
                    "(ranged retrieval), which this version does not read.",
                    hint="Read fewer values for that attribute, or report it as a bug.",
                ) from None
            if values:
                attributes[spelling.get(name.lower(), name)] = values
        return DirectoryEntry(item["dn"], attributes)


def _discard(connection: Any) -> None:
    """Unbind and close the socket: after a failed open ldap3 marks the connection closed
    but leaves its socket open (a ResourceWarning later, a file descriptor until then)."""
    with contextlib.suppress(ldap3_errors.LDAPException, OSError):
        connection.unbind()
    if connection.socket is not None:
        connection.socket.close()


def _paged_cookie(result: Mapping[str, Any]) -> bytes | None:
    control = (result.get("controls") or {}).get(PAGED_RESULTS_OID) or {}
    cookie = (control.get("value") or {}).get("cookie")
    return cookie or None


def _reason(exc: Exception) -> str:
    """ldap3's message, without the connection repr some of them carry."""
    text = str(exc.args[0] if exc.args else exc)
    return text.split(" for <")[0].strip() or type(exc).__name__


def _no_such_object(exc: DirectoryError) -> bool:
    return exc.result_code == NO_SUCH_OBJECT


def _md4_available() -> bool:
    """Whether ldap3's NTLM can hash the password: OpenSSL 3 dropped MD4, pycryptodome has it."""
    try:
        hashlib.new("md4")  # noqa: S324 - probing for NTLM's MD4, hashing nothing
    except ValueError:
        return importlib.util.find_spec("Crypto") is not None
    return True


__all__ = [
    "BindKind",
    "DirectoryEntry",
    "DirectorySettings",
    "EntryId",
    "LdapDirectory",
    "Scope",
    "ServerAddress",
    "build_connection",
]
