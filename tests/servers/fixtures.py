"""pytest fixtures for real directories, imported by ``tests/integration/conftest.py``.

- ``test_ca``: one certificate authority per session; ``test_ca.ca_file`` is its PEM.
- ``slapd``: one slapd per test module, TLS on (LDAPS ``slapd.ldaps_url``, StartTLS on
  ``slapd.url``), ``sizelimit`` :data:`SLAPD_SIZE_LIMIT`, loaded with :data:`SLAPD_PEOPLE`.
  Tests that change entries should use ``make_slapd`` (their own server, ~0.1 s).
- ``make_slapd(people=..., size_limit=..., tls=...)``: a fresh slapd per call, stopped after
  the test.
- ``samba_ad``: one Samba AD DC per session (a few seconds to provision) loaded with
  :data:`AD_PEOPLE` and the group :data:`AD_GROUP`; skipped with the reason when this machine
  cannot run Samba. Shared by every test: a test that changes the directory adds its own
  users first (``samba_ad.add_user``) and changes only those.
- ``oauth_endpoint``: one local OAuth endpoint per session (``servers.dovecot.OAuthEndpoint``):
  ``token_url`` issues client-credentials tokens to ``OAUTH_CLIENT_ID`` /
  ``OAUTH_CLIENT_SECRET`` for alice's mailbox (``OAUTH_BOB_CLIENT_ID``, same secret: bob's);
  Dovecot checks the tokens at its ``introspection_url``.
- ``dovecot``: one Dovecot per test module, users :data:`servers.dovecot.USERS` (alice, bob),
  STARTTLS on ``dovecot.url``, IMAPS on ``dovecot.imaps_url`` (certificate for 127.0.0.1
  from ``test_ca``), password and XOAUTH2 logins. ``dovecot.deliver(raw, folder)`` APPENDs a
  message and returns its UID; ``dovecot.admin()`` is an imaplib session to look with.
- ``mail_folder``: a new, empty folder of alice's in ``dovecot`` for one test.
- ``make_dovecot(tls=..., oauth=..., capability=..., separator=...)``: a fresh Dovecot per
  call (~1 s to stop), stopped after the test.
- ``postgres``: one PostgreSQL cluster per session (``servers.postgres.Postgres``), with a
  read-only login ``reader``; ``postgres.url(database)`` is its SQLAlchemy URL.
- ``lansweeper_db``: a fresh database in it with Lansweeper's tables, for one test.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Sequence

import pytest

from . import dovecot as imap_server
from . import postgres as pg
from . import samba_ad as samba
from . import slapd as openldap
from .certificates import CertificateAuthority

SLAPD_SIZE_LIMIT = 25
SlapdPerson = tuple[str, str, str, str, str | None]  # (ou, uid, given name, surname, mail)
AdPerson = tuple[str, str, str, str, str | None, bool]  # (ou, sAMAccountName, ..., disabled)


def _numbered_staff(count: int) -> list[SlapdPerson]:
    """user000 ... in ou=people; every tenth (user007, user017, ...) has no mail."""
    return [
        ("people", f"user{n:03d}", "User", f"Number{n}", f"user{n:03d}@example.com")
        if n % 10 != 7
        else ("people", f"user{n:03d}", "User", f"Number{n}", None)
        for n in range(count)
    ]


# More people than the size limit, non-ASCII names, people without mail, two OUs.
SLAPD_PEOPLE: list[SlapdPerson] = [
    *_numbered_staff(40),
    ("people", "zoe", "Zoë", "Ångström", "zoe@example.com"),
    ("people", "juergen", "Jürgen", "Müller", None),
    ("people", "li", "雷", "李", "li@example.com"),
    *[("contractors", f"ext{n}", "Extern", f"C{n}", f"ext{n}@partner.example") for n in range(6)],
]

AD_STAFF_UNIT, AD_CONTRACTOR_UNIT, AD_GROUP_UNIT = "Staff", "Contractors", "Groups"
# staff03 and ext2 are disabled; juergen has no mail.
AD_PEOPLE: list[AdPerson] = [
    *[
        (AD_STAFF_UNIT, f"staff{n:02d}", "Staff", f"M{n:02d}", f"staff{n:02d}@bars.example", n == 3)
        for n in range(12)
    ],
    (AD_STAFF_UNIT, "zoe", "Zoë", "Ångström", "zoe@bars.example", False),
    (AD_STAFF_UNIT, "juergen", "Jürgen", "Müller", None, False),
    *[
        (AD_CONTRACTOR_UNIT, f"ext{n}", "Extern", f"C{n}", f"ext{n}@partner.example", n == 2)
        for n in range(5)
    ],
]
AD_GROUP = "VPN Users"
AD_GROUP_MEMBERS = ("staff00", "ext0")


def slapd_people_ldif(people: Sequence[SlapdPerson]) -> str:
    return openldap.people_ldif(
        [
            (unit, openldap.person(uid, given, surname, mail=mail, password=f"pw-{uid}"))
            for unit, uid, given, surname, mail in people
        ]
    )


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority(tmp_path_factory.mktemp("test-ca"))


@pytest.fixture
def make_slapd(test_ca: CertificateAuthority) -> Iterator[Callable[..., openldap.Slapd]]:
    started: list[openldap.Slapd] = []

    def make(
        people: Sequence[SlapdPerson] = SLAPD_PEOPLE,
        *,
        size_limit: int = SLAPD_SIZE_LIMIT,
        tls: bool = True,
    ) -> openldap.Slapd:
        server = openldap.Slapd(ca=test_ca if tls else None, size_limit=size_limit)
        started.append(server)
        server.load(openldap.base_ldif() + slapd_people_ldif(people))
        return server.start()

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def slapd(test_ca: CertificateAuthority) -> Iterator[openldap.Slapd]:
    server = openldap.Slapd(ca=test_ca, size_limit=SLAPD_SIZE_LIMIT)
    with server.load(openldap.base_ldif() + slapd_people_ldif(SLAPD_PEOPLE)):
        yield server


@pytest.fixture(scope="session")
def samba_ad(test_ca: CertificateAuthority) -> Iterator[samba.SambaAD]:
    if not samba.available():
        pytest.skip(
            "Samba AD DC cannot run here: needs root and the Debian packages samba-ad-dc and "
            "samba-ad-provision (.ci/debian-packages.txt; run-tests.sh installs them)"
        )
    with samba.SambaAD(test_ca) as server:
        _load_ad_people(server)
        yield server


def _load_ad_people(server: samba.SambaAD) -> None:
    for unit in (AD_STAFF_UNIT, AD_CONTRACTOR_UNIT, AD_GROUP_UNIT):
        server.add_organizational_unit(unit)
    dns: dict[str, str] = {}
    for unit, sam, given, surname, mail, disabled in AD_PEOPLE:
        dns[sam] = server.add_user(unit, sam, given, surname, mail=mail, disabled=disabled)
    server.add_group(AD_GROUP_UNIT, AD_GROUP, [dns[sam] for sam in AD_GROUP_MEMBERS])


@pytest.fixture(scope="session")
def oauth_endpoint() -> Iterator[imap_server.OAuthEndpoint]:
    with imap_server.OAuthEndpoint() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def dovecot(
    test_ca: CertificateAuthority, oauth_endpoint: imap_server.OAuthEndpoint
) -> Iterator[imap_server.Dovecot]:
    with imap_server.Dovecot(ca=test_ca, oauth=oauth_endpoint) as server:
        yield server


@pytest.fixture
def mail_folder(dovecot: imap_server.Dovecot) -> str:
    name = f"Test-{secrets.token_hex(4)}"
    dovecot.create_folder(name)
    return name


@pytest.fixture
def make_dovecot(
    test_ca: CertificateAuthority, oauth_endpoint: imap_server.OAuthEndpoint
) -> Iterator[Callable[..., imap_server.Dovecot]]:
    started: list[imap_server.Dovecot] = []

    def make(
        *,
        tls: bool = True,
        oauth: bool = False,
        capability: str | None = None,
        separator: str = "/",
    ) -> imap_server.Dovecot:
        server = imap_server.Dovecot(
            ca=test_ca if tls else None,
            oauth=oauth_endpoint if oauth else None,
            capability=capability,
            separator=separator,
        )
        started.append(server)
        return server.start()

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[pg.Postgres]:
    """One PostgreSQL cluster per session (0.6 s to start); tests make their own databases."""
    reason = pg.available()
    if reason:
        pytest.skip(reason)
    with pg.Postgres() as server:
        yield server


@pytest.fixture
def lansweeper_db(postgres: pg.Postgres) -> str:
    """A new database with Lansweeper's tables (empty but for the asset types); its name."""
    name = f"lansweeper_{secrets.token_hex(4)}"
    postgres.create_database(name, pg.LANSWEEPER_SCHEMA)
    return name
