"""A throwaway Active Directory domain controller (Samba AD DC) on its own 127.x address.

Adapted from the environment notes' helper (section 8): provision a domain into a temporary
folder (nothing under /etc or /var), write our own smb.conf and a certificate from the test
CA (SAN = the address), start ``samba -i -M single`` as a child process, wait for LDAPS, stop
it with SIGTERM (Samba exits 127 on SIGTERM: normal). Samba's LDAP ports cannot be changed,
so each server gets a free loopback address instead (all of 127.0.0.0/8 is loopback on Linux;
no ``ip addr add`` needed). Provisioning takes a few seconds: share one per test session.
Needs root and the Debian packages samba-ad-dc and samba-ad-provision.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from .certificates import CertificateAuthority

REALM = "BARS.EXAMPLE"
DOMAIN = "BARS"
BASE_DN = "DC=bars,DC=example"
ADMIN_PASSWORD = "Passw0rd!Bars"
ADMIN_UPN = f"Administrator@{REALM}"
SERVICE_SAM = "svc-halo"
SERVICE_DN = f"CN=Halo Sync,OU=Service Accounts,{BASE_DN}"
SERVICE_PASSWORD = "Halo!Sync-2026"
# userAccountControl: NORMAL_ACCOUNT (512) + PASSWD_NOTREQD (32), so adds need no password;
# + ACCOUNTDISABLE (2) for a disabled account.
ENABLED = 544
DISABLED = ENABLED | 2
PORTS = (389, 636, 88)

SMB_CONF = """[global]
\tnetbios name = DC1
\tworkgroup = {domain}
\trealm = {realm}
\tserver role = active directory domain controller
\tserver services = ldap, cldap, kdc
\tinterfaces = {ip}/8
\tbind interfaces only = yes
\tldap server require strong auth = no
\tldb:nosync = true
\ttls enabled = yes
\ttls keyfile = {key}
\ttls certfile = {certificate}
\ttls cafile = {ca}
\tprivate dir = {folder}/private
\tlock directory = {folder}
\tstate directory = {folder}/state
\tcache directory = {folder}/cache
\tbinddns dir = {folder}/bind-dns
\tpid directory = {folder}/run
\tncalrpc dir = {folder}/run/ncalrpc
\twinbindd socket directory = {folder}/run/winbindd
\tntp signd socket directory = {folder}/run/ntp_signd
\tlog file = {folder}/log.%m
\tdns update command = /bin/true
\tspn update command = /bin/true
"""


def available() -> bool:
    """Whether this machine can run a DC: the samba binary and the provisioning data."""
    return (
        shutil.which("samba") is not None
        and shutil.which("samba-tool") is not None
        and os.path.isdir("/usr/share/samba/setup")
        and os.geteuid() == 0
    )


def free_loopback_address() -> str:
    """A 127.x address on which nothing holds the LDAP, LDAPS or Kerberos port.

    Random rather than fixed, so two test runs on one machine (two agents) do not collide.
    """
    for _ in range(50):
        address = f"127.{random.randint(1, 254)}.{random.randint(0, 254)}.{random.randint(2, 254)}"
        if all(_port_free(address, port) for port in PORTS):
            return address
    raise RuntimeError("no free 127.x address for Samba")


def _port_free(address: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


def _run(*command: str) -> None:
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {done.stdout.decode(errors='replace')[-3000:]}")


class SambaAD:
    """``with SambaAD(ca) as dc:`` then ``ldaps://{dc.ip}`` with ``ca_file=dc.ca_file``."""

    realm = REALM
    domain = DOMAIN
    base_dn = BASE_DN
    admin_upn = ADMIN_UPN
    admin_password = ADMIN_PASSWORD
    service_dn = SERVICE_DN
    service_password = SERVICE_PASSWORD

    def __init__(self, ca: CertificateAuthority, ip: str | None = None) -> None:
        self.ip = ip or free_loopback_address()
        self.folder = Path(tempfile.mkdtemp(prefix="samba-ad-"))
        self.certificate = ca.issue(f"dc1-{self.ip}", ip_addresses=(self.ip,))
        self.ca_file = self.certificate.ca_file
        self.ldap_url = f"ldap://{self.ip}:389"
        self.ldaps_url = f"ldaps://{self.ip}:636"
        self.process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    def __enter__(self) -> SambaAD:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self, timeout_seconds: float = 60) -> SambaAD:
        """Provision, start and wait for LDAPS; on any failure stop what was started."""
        try:
            return self._start(timeout_seconds)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout_seconds: float) -> SambaAD:
        self._provision()
        self._log = (self.folder / "samba.out").open("w")
        self.process = subprocess.Popen(
            # --maximum-runtime: a leaked server ends itself
            [
                "samba",
                "-i",
                "-M",
                "single",
                "-s",
                str(self.folder / "etc" / "smb.conf"),
                "--maximum-runtime=1800",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout_seconds
        while True:
            if self.process.poll() is not None:
                log = (self.folder / "samba.out").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"samba exited {self.process.returncode}: {log}")
            try:
                socket.create_connection((self.ip, 636), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._add_service_account()
        return self

    def _provision(self) -> None:
        folder = self.folder
        empty = folder / "empty.conf"
        empty.touch()
        # -s empty.conf: otherwise provision copies /etc/samba/smb.conf (log paths, shares)
        _run(
            "samba-tool", "domain", "provision", "-s", str(empty), f"--targetdir={folder}",
            f"--realm={REALM}", f"--domain={DOMAIN}", "--server-role=dc", "--dns-backend=NONE",
            "--host-name=dc1", f"--host-ip={self.ip}", f"--adminpass={ADMIN_PASSWORD}",
            f"--option=interfaces={self.ip}/8", "--option=bind interfaces only=yes",
        )  # fmt: skip
        for sub in ("cache", "run"):
            (folder / sub).mkdir(exist_ok=True)
        # our own smb.conf: provision silently drops "ldap server require strong auth = no"
        (folder / "etc" / "smb.conf").write_text(
            SMB_CONF.format(
                folder=folder,
                ip=self.ip,
                realm=REALM,
                domain=DOMAIN,
                key=self.certificate.key_file,
                certificate=self.certificate.certificate_file,
                ca=self.certificate.ca_file,
            )
        )

    def _add_service_account(self) -> None:
        """A plain user with a password to bind as, the read-only account an admin would make."""
        self.add_organizational_unit("Service Accounts")
        self.add_user("Service Accounts", SERVICE_SAM, "Halo", "Sync", password=SERVICE_PASSWORD)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- changing the directory from a test ------------------------------------------------

    def admin(self) -> Any:
        """An ldap3 connection as the domain administrator over LDAPS, verified against the CA.

        Use it as ``with dc.admin() as connection:``: that binds, and unbinds at the end.
        """
        import ldap3

        from core.sources.ldap_tls import VerifiedTls

        # The product's verification (ldap3's own calls a deprecated check: a warning here)
        tls = VerifiedTls(str(self.ca_file))
        server = ldap3.Server(self.ip, port=636, use_ssl=True, tls=tls)
        return ldap3.Connection(server, ADMIN_UPN, ADMIN_PASSWORD, raise_exceptions=True)

    def add_organizational_unit(self, name: str) -> str:
        dn = f"OU={name},{BASE_DN}"
        with self.admin() as connection:
            connection.add(dn, ["top", "organizationalUnit"])
        return dn

    def add_user(
        self,
        unit: str,
        sam_account_name: str,
        given_name: str,
        surname: str,
        *,
        mail: str | None = None,
        disabled: bool = False,
        password: str | None = None,
        **extra: Any,
    ) -> str:
        """Add a user under ``OU=unit``; returns its DN (``CN=given surname,OU=unit,...``).

        With ``password`` the account gets it (over LDAPS, as AD requires) and is a normal,
        enabled account one can bind as; ``extra`` are further attributes (``title="CTO"``).
        """
        dn = f"CN={given_name} {surname},OU={unit},{BASE_DN}"
        attributes: dict[str, Any] = {
            "sAMAccountName": sam_account_name,
            "userPrincipalName": f"{sam_account_name}@bars.example",
            "givenName": given_name,
            "sn": surname,
            "displayName": f"{given_name} {surname}",
            "userAccountControl": DISABLED if disabled else ENABLED,
            **extra,
        }
        if mail:
            attributes["mail"] = mail
        if password:
            attributes["unicodePwd"] = f'"{password}"'.encode("utf-16-le")
            attributes["userAccountControl"] = 512 | (2 if disabled else 0)
        with self.admin() as connection:
            connection.add(dn, ["top", "person", "organizationalPerson", "user"], attributes)
        return dn

    def add_group(self, unit: str, name: str, member_dns: list[str]) -> str:
        """A global security group under ``OU=unit`` with these members; returns its DN.

        AD fills each member's ``memberOf`` from the group's ``member`` by itself.
        """
        dn = f"CN={name},OU={unit},{BASE_DN}"
        with self.admin() as connection:
            connection.add(
                dn,
                ["top", "group"],
                {"sAMAccountName": name.replace(" ", "-"), "member": member_dns},
            )
        return dn

    def modify(self, dn: str, **values: Any) -> None:
        """Replace attributes of one entry (``title="CTO"``); AD moves its uSNChanged."""
        import ldap3

        changes = {
            name: [(ldap3.MODIFY_REPLACE, value if isinstance(value, list) else [value])]
            for name, value in values.items()
        }
        with self.admin() as connection:
            connection.modify(dn, changes)

    def delete(self, dn: str) -> None:
        """Delete an entry: AD moves it to CN=Deleted Objects (a tombstone)."""
        with self.admin() as connection:
            connection.delete(dn)
