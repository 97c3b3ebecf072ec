"""A throwaway OpenLDAP slapd on loopback, in a temporary folder, optionally with TLS.

Adapted from the environment notes' helper (section 5): generate a ``slapd.conf``, bulk-load
LDIF offline with ``slapadd -q`` (10,000 entries in under half a second, where adds over the
protocol take seconds), start ``slapd -d 0`` in the foreground so the test owns its PID, and
stop it with SIGTERM. With a :class:`CertificateAuthority` it also listens for LDAPS and
offers StartTLS with a certificate for 127.0.0.1 only.

Accounts: the root DN (writes), a service account under ``ou=services`` whose ``limits`` line
lifts the size limit for paged searches (what a real sync account gets), and a ``capped``
account under ``ou=apps`` that the configured ``sizelimit`` applies to (paged or not).
"""

from __future__ import annotations

import base64
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .certificates import CertificateAuthority
from .ports import free_port

SUFFIX = "dc=example,dc=com"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "admin-pw-0815"
SERVICE_DN = f"cn=syncsvc,ou=services,{SUFFIX}"
SERVICE_PASSWORD = "sync-pw-4711"
CAPPED_DN = f"cn=capped,ou=apps,{SUFFIX}"
CAPPED_PASSWORD = "capped-pw-1234"
# What slapadd stamps every loaded entry with, so a delta filter "since a minute ago" finds
# only what a test changed over the protocol.
LOADED_TIMESTAMP = "20200101000000Z"
HOST = "127.0.0.1"

CONFIG = """\
include         /etc/ldap/schema/core.schema
include         /etc/ldap/schema/cosine.schema
include         /etc/ldap/schema/nis.schema
include         /etc/ldap/schema/inetorgperson.schema
modulepath      /usr/lib/ldap
moduleload      back_mdb
pidfile         {folder}/slapd.pid
argsfile        {folder}/slapd.args
loglevel        none
sizelimit       {size_limit}
{tls}
database        mdb
maxsize         1073741824
dbnosync
suffix          "{suffix}"
rootdn          "{root_dn}"
rootpw          {root_password}
directory       {folder}/db
index           objectClass eq
index           uid,cn,mail eq,sub
index           entryCSN,entryUUID eq
limits dn.children="ou=services,{suffix}" size=unlimited size.prtotal=unlimited
access to attrs=userPassword by self write by anonymous auth by * none
access to * by * read
"""
TLS_CONFIG = """\
TLSCACertificateFile    {ca}
TLSCertificateFile      {certificate}
TLSCertificateKeyFile   {key}"""


class _ExitedAtStart(RuntimeError):
    """slapd ended before its ports answered."""


def ldif(dn: str, attributes: Mapping[str, Any]) -> str:
    """One LDIF record; values that are not plain ASCII go base64-encoded (``attr::``)."""
    lines = [_ldif_line("dn", dn)]
    for name, value in attributes.items():
        for item in value if isinstance(value, list | tuple) else [value]:
            lines.append(_ldif_line(name, str(item)))
    return "\n".join(lines) + "\n\n"


def _ldif_line(name: str, value: str) -> str:
    if value.isascii() and value.isprintable() and not value.startswith((" ", ":", "<")):
        return f"{name}: {value}"
    return f"{name}:: {base64.b64encode(value.encode()).decode()}"


def base_ldif(organizational_units: Iterable[str] = ("people", "contractors")) -> str:
    """The suffix, the given OUs, and the service and capped accounts with their OUs."""
    records = [
        ldif(SUFFIX, {"objectClass": ["dcObject", "organization"], "dc": "example", "o": "Example"})
    ]
    for unit in (*organizational_units, "services", "apps"):
        records.append(
            ldif(f"ou={unit},{SUFFIX}", {"objectClass": "organizationalUnit", "ou": unit})
        )
    for dn, password in ((SERVICE_DN, SERVICE_PASSWORD), (CAPPED_DN, CAPPED_PASSWORD)):
        name = dn.split(",")[0].split("=")[1]
        records.append(
            ldif(
                dn,
                {
                    "objectClass": ["person", "simpleSecurityObject"],
                    "cn": name,
                    "sn": name,
                    "userPassword": password,
                },
            )
        )
    return "".join(records)


def person(
    uid: str,
    given_name: str,
    surname: str,
    *,
    mail: str | None = None,
    phone: str | None = None,
    password: str | None = None,
) -> dict[str, Any]:
    """The attributes of one inetOrgPerson; ``mail`` and ``phone`` only when given."""
    attributes: dict[str, Any] = {
        "objectClass": "inetOrgPerson",
        "uid": uid,
        "cn": f"{given_name} {surname}",
        "givenName": given_name,
        "sn": surname,
    }
    if mail:
        attributes["mail"] = mail
    if phone:
        attributes["telephoneNumber"] = phone
    if password:
        attributes["userPassword"] = password
    return attributes


def person_dn(uid: str, unit: str = "people") -> str:
    return f"uid={uid},ou={unit},{SUFFIX}"


def people_ldif(people: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """LDIF for (ou, attributes) pairs, stamped as loaded long ago (:data:`LOADED_TIMESTAMP`)."""
    stamps = {"modifyTimestamp": LOADED_TIMESTAMP, "createTimestamp": LOADED_TIMESTAMP}
    return "".join(
        ldif(person_dn(attributes["uid"], unit), {**attributes, **stamps})
        for unit, attributes in people
    )


class Slapd:
    """``with Slapd(ca=ca, size_limit=20).load(text) as server:`` then connect to server.url.

    ``url`` is plain LDAP (StartTLS offered when TLS is on), ``ldaps_url`` LDAPS; both on
    127.0.0.1, each on a free port.
    """

    host = HOST
    suffix = SUFFIX
    root_dn = ROOT_DN
    root_password = ROOT_PASSWORD
    service_dn = SERVICE_DN
    service_password = SERVICE_PASSWORD
    capped_dn = CAPPED_DN
    capped_password = CAPPED_PASSWORD

    def __init__(self, *, ca: CertificateAuthority | None = None, size_limit: int = 500) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="slapd-"))
        (self.folder / "db").mkdir()
        self.size_limit = size_limit
        self.port = free_port()
        self.url = f"ldap://{HOST}:{self.port}"
        self.ldaps_port: int | None = None
        self.ldaps_url: str | None = None
        self.ca_file: Path | None = None
        tls = ""
        if ca is not None:
            certificate = ca.issue(f"slapd-{self.port}", ip_addresses=(HOST,))
            self.ca_file = certificate.ca_file
            self.ldaps_port = free_port()
            self.ldaps_url = f"ldaps://{HOST}:{self.ldaps_port}"
            tls = TLS_CONFIG.format(
                ca=certificate.ca_file,
                certificate=certificate.certificate_file,
                key=certificate.key_file,
            )
        self.config = self.folder / "slapd.conf"
        self.config.write_text(
            CONFIG.format(
                folder=self.folder,
                size_limit=size_limit,
                tls=tls,
                suffix=SUFFIX,
                root_dn=ROOT_DN,
                root_password=ROOT_PASSWORD,
            )
        )
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Slapd:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def load(self, ldif_text: str) -> Slapd:
        """Bulk-load entries offline (slapadd must run while slapd is stopped)."""
        path = self.folder / "load.ldif"
        path.write_text(ldif_text, encoding="utf-8")
        subprocess.run(
            ["slapadd", "-q", "-f", str(self.config), "-l", str(path)],
            check=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        return self

    def start(self, timeout_seconds: float = 10, attempts: int = 3) -> Slapd:
        """Start slapd and wait for its ports; on any failure stop what was started.

        slapd that ends before its ports answer (once in a fresh-clone CI run, exit status
        unknown, nothing on stderr at debug level 0) is started again on new ports, so one
        bad start does not fail every test of a module; the error names its exit status.
        """
        for attempt in range(attempts):
            try:
                return self._start(timeout_seconds)
            except _ExitedAtStart:
                self._stop_process()
                if attempt == attempts - 1:
                    self.stop()
                    raise
                self._new_ports()
            except BaseException:
                self.stop()
                raise
        raise AssertionError("unreachable")

    def _new_ports(self) -> None:
        self.port = free_port()
        self.url = f"ldap://{HOST}:{self.port}"
        if self.ldaps_port is not None:
            self.ldaps_port = free_port()
            self.ldaps_url = f"ldaps://{HOST}:{self.ldaps_port}"

    def _start(self, timeout_seconds: float) -> Slapd:
        listeners = " ".join(url + "/" for url in (self.url, self.ldaps_url) if url)
        self.process = subprocess.Popen(
            ["slapd", "-f", str(self.config), "-h", listeners, "-d", "0"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout_seconds
        for port in (self.port, self.ldaps_port):
            while port is not None:
                if self.process.poll() is not None:
                    assert self.process.stderr is not None
                    raise _ExitedAtStart(
                        f"slapd exited with status {self.process.returncode}: "
                        + self.process.stderr.read().decode()
                    )
                try:
                    socket.create_connection((HOST, port), 0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        return self

    def stop(self) -> None:
        self._stop_process()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _stop_process(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()

    # -- changing the directory from a test ------------------------------------------------

    def admin(self) -> Any:
        """An ldap3 connection as the root DN, for a test to add, modify and delete.

        Use it as ``with server.admin() as connection:``: that binds, and unbinds at the end
        (ldap3 leaves a connection open after ``with`` when it was bound before).
        """
        import ldap3

        return ldap3.Connection(self.url, self.root_dn, self.root_password, raise_exceptions=True)

    def add_person(self, unit: str, attributes: Mapping[str, Any]) -> str:
        """Add one person (see :func:`person`) over the protocol; returns its DN."""
        dn = person_dn(attributes["uid"], unit)
        values = dict(attributes)
        object_class = values.pop("objectClass")
        with self.admin() as connection:
            connection.add(dn, object_class, values)
        return dn

    def modify(self, dn: str, **values: Any) -> None:
        """Replace attributes of one entry (``mail="x@y"``); slapd moves modifyTimestamp."""
        import ldap3

        changes = {
            name: [(ldap3.MODIFY_REPLACE, value if isinstance(value, list) else [value])]
            for name, value in values.items()
        }
        with self.admin() as connection:
            connection.modify(dn, changes)

    def delete(self, dn: str) -> None:
        with self.admin() as connection:
            connection.delete(dn)
