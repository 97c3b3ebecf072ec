"""The directory client at the ldap3 boundary: what Connection it builds from the settings,
without a server (Samba does not implement ldap3's NTLM bind, so NTLM is checked here)."""

from __future__ import annotations

import ssl

import ldap3
import pytest
from ldap3.utils.ntlm import NtlmClient

from core.settings.secrets import Secret
from core.sources.ldap_directory import (
    BindKind,
    DirectorySettings,
    LdapDirectory,
    ServerAddress,
    build_connection,
)
from core.sources.ldap_errors import DirectoryError, DirectoryTlsError
from core.sources.ldap_tls import VerifiedTls

PASSWORD = "Very-Secret-Bind-Pw"


def settings(**overrides: object) -> DirectorySettings:
    values: dict[str, object] = {
        "server": "ldaps://dc1.corp.example:636",
        "bind_dn": "CORP\\svc-halo",
        "bind_password": Secret(PASSWORD),
    }
    values.update(overrides)
    return DirectorySettings(**values)  # type: ignore[arg-type]


def test_a_down_level_name_builds_an_ntlm_connection_for_that_user() -> None:
    connection = build_connection(settings())
    assert connection.authentication == ldap3.NTLM
    assert connection.user == "CORP\\svc-halo"
    assert connection.server.host == "dc1.corp.example" and connection.server.port == 636
    assert connection.server.ssl is True
    assert connection.closed  # building it sent nothing


def test_ldap3_can_compute_the_ntlm_response_with_the_ldap_extra_installed() -> None:
    # OpenSSL 3 has no MD4; the ldap extra's pycryptodome gives ldap3's NTLM client one.
    client = NtlmClient("CORP", "svc-halo", PASSWORD)
    assert len(client.ntowf_v2()) == 16


@pytest.mark.parametrize(
    ("bind_dn", "kind", "ldap3_kind"),
    [
        ("CN=Halo Sync,OU=Service Accounts,DC=corp,DC=example", BindKind.SIMPLE, ldap3.SIMPLE),
        ("svc-halo@corp.example", BindKind.SIMPLE, ldap3.SIMPLE),
        ("uid=sync,ou=services,dc=example,dc=com", BindKind.SIMPLE, ldap3.SIMPLE),
        ("", BindKind.ANONYMOUS, ldap3.ANONYMOUS),
    ],
)
def test_other_bind_names_are_simple_or_anonymous(
    bind_dn: str, kind: BindKind, ldap3_kind: str
) -> None:
    chosen = settings(bind_dn=bind_dn)
    assert chosen.bind_kind is kind
    assert build_connection(chosen).authentication == ldap3_kind


def test_the_connection_is_read_only_chases_no_referrals_and_verifies_the_certificate() -> None:
    connection = build_connection(settings(receive_timeout_seconds=7))
    assert connection.read_only and not connection.auto_referrals
    assert connection.receive_timeout == 7
    tls = connection.server.tls
    assert isinstance(tls, VerifiedTls)
    assert tls.context.verify_mode == ssl.CERT_REQUIRED and tls.context.check_hostname


def test_start_tls_on_plain_ldap_also_verifies() -> None:
    connection = build_connection(settings(server="ldap://dc1.corp.example", start_tls=True))
    assert connection.server.port == 389 and not connection.server.ssl
    assert isinstance(connection.server.tls, VerifiedTls)


def test_a_ca_file_that_is_no_certificate_is_a_tls_error(tmp_path: object) -> None:
    with pytest.raises(DirectoryTlsError, match="cannot be read as PEM"):
        build_connection(settings(ca_file="/etc/hostname"))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ldap://dc1", ServerAddress("dc1", 389, False)),
        ("ldaps://dc1", ServerAddress("dc1", 636, True)),
        ("LDAPS://10.0.0.5:3269/", ServerAddress("10.0.0.5", 3269, True)),
    ],
)
def test_server_addresses(url: str, expected: ServerAddress) -> None:
    assert ServerAddress.parse(url) == expected


@pytest.mark.parametrize(
    "url", ["dc1:389", "http://dc1", "ldap://", "ldap://dc1:notaport", "ldap://dc1/DC=corp"]
)
def test_anything_else_is_not_a_server_address(url: str) -> None:
    with pytest.raises(DirectoryError):
        ServerAddress.parse(url)


def test_no_repr_shows_the_password() -> None:
    chosen = settings()
    assert PASSWORD not in repr(chosen) and PASSWORD not in repr(LdapDirectory(chosen))


def test_a_simple_bind_over_plain_ldap_is_refused_before_anything_is_sent() -> None:
    unsafe = settings(server="ldap://dc1.corp.example", bind_dn="svc@corp.example")
    with pytest.raises(DirectoryError, match="unencrypted"):
        LdapDirectory(unsafe).connect()


def test_a_bind_name_without_a_password_is_refused() -> None:
    with pytest.raises(DirectoryError, match="no bind_password"):
        LdapDirectory(settings(bind_password=None)).connect()


@pytest.mark.parametrize(
    "name", ["connect_timeout_seconds", "receive_timeout_seconds", "page_size"]
)
def test_timeouts_and_page_size_must_be_positive(name: str) -> None:
    with pytest.raises(DirectoryError, match=f"{name} must be at least 1"):
        settings(**{name: 0})
