"""The directory client against real directories: OpenLDAP slapd and a Samba AD domain
controller, both started by the fixtures on loopback with certificates from a test CA."""

from __future__ import annotations

import datetime
import logging
import math
import re
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from servers.fixtures import (
    AD_CONTRACTOR_UNIT,
    AD_GROUP,
    AD_GROUP_UNIT,
    AD_PEOPLE,
    AD_STAFF_UNIT,
    SLAPD_PEOPLE,
    SLAPD_SIZE_LIMIT,
)
from servers.samba_ad import SambaAD
from servers.slapd import Slapd, person, person_dn

from core.settings.secrets import Secret
from core.sources.ldap_delta import UsnHighWaterMark, timestamp_delta_filter, usn_delta_filter
from core.sources.ldap_directory import DirectorySettings, LdapDirectory, Scope
from core.sources.ldap_errors import (
    DirectoryBaseNotFoundError,
    DirectoryCredentialsError,
    DirectoryError,
    DirectorySearchCappedError,
    DirectoryTlsError,
    DirectoryUnreachableError,
)
from core.sources.ldap_profiles import AD, OPENLDAP
from core.sync.field_map import FieldMap
from core.sync.placement import PlacementRule

WRONG_PASSWORD = "Wr0ng-Secret-Pass!"
UUID_TEXT = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
PEOPLE = "(objectClass=inetOrgPerson)"


def slapd_settings(target: Slapd, **overrides: Any) -> DirectorySettings:
    """The sync account over LDAPS, verified against the test CA."""
    values: dict[str, Any] = {
        "server": target.ldaps_url,
        "bind_dn": target.service_dn,
        "bind_password": Secret(target.service_password),
        "ca_file": str(target.ca_file),
    }
    values.update(overrides)
    return DirectorySettings(**values)


def ad_settings(dc: SambaAD, **overrides: Any) -> DirectorySettings:
    values: dict[str, Any] = {
        "server": dc.ldaps_url,
        "bind_dn": dc.service_dn,
        "bind_password": Secret(dc.service_password),
        "ca_file": str(dc.ca_file),
    }
    values.update(overrides)
    return DirectorySettings(**values)


def connect_error(settings: DirectorySettings) -> DirectoryError:
    with pytest.raises(DirectoryError) as caught, LdapDirectory(settings):
        pass
    return caught.value


# -- OpenLDAP: paging and caps --------------------------------------------------------------


def test_a_paged_search_returns_every_entry_across_pages(slapd: Slapd) -> None:
    page_size = 7
    with LdapDirectory(slapd_settings(slapd, page_size=page_size)) as directory:
        before = directory.requests_sent
        entries = list(directory.search(slapd.suffix, PEOPLE, ["uid"]))
        pages = directory.requests_sent - before
    assert sorted(e.first("uid") for e in entries) == sorted(p[1] for p in SLAPD_PEOPLE)
    assert len(entries) > SLAPD_SIZE_LIMIT  # the sync account's limits line lifts the cap
    assert pages >= math.ceil(len(SLAPD_PEOPLE) / page_size)


def test_a_search_the_size_limit_caps_raises_instead_of_returning_a_short_list(
    slapd: Slapd,
) -> None:
    settings = slapd_settings(
        slapd, bind_dn=slapd.capped_dn, bind_password=Secret(slapd.capped_password)
    )
    received = []
    with LdapDirectory(settings) as directory:
        with pytest.raises(DirectorySearchCappedError) as caught:
            for entry in directory.search(slapd.suffix, PEOPLE, ["uid"], page_size=10):
                received.append(entry)
    message = str(caught.value)
    assert len(received) == SLAPD_SIZE_LIMIT  # what the server sent before it stopped
    assert f"after {SLAPD_SIZE_LIMIT} entries (sizeLimitExceeded" in message
    assert "incomplete" in message and "page_size" in message and "size.prtotal" in message
    assert caught.value.result_code == 4


def test_the_ids_only_listing_is_capped_the_same_way(slapd: Slapd) -> None:
    settings = slapd_settings(
        slapd, bind_dn=slapd.capped_dn, bind_password=Secret(slapd.capped_password)
    )
    with LdapDirectory(settings) as directory, pytest.raises(DirectorySearchCappedError):
        list(directory.list_ids(slapd.suffix, PEOPLE, "entryUUID"))


def test_several_base_dns_each_with_its_own_filter(slapd: Slapd) -> None:
    with LdapDirectory(slapd_settings(slapd)) as directory:
        staff = list(directory.search(f"ou=people,{slapd.suffix}", "(mail=*)", ["uid"]))
        partners = list(directory.search(f"ou=contractors,{slapd.suffix}", "(uid=ext*)", ["uid"]))
        one_level = list(directory.search(slapd.suffix, PEOPLE, ["uid"], scope=Scope.ONE_LEVEL))
    with_mail = [p for p in SLAPD_PEOPLE if p[0] == "people" and p[4]]
    assert len(staff) == len(with_mail)
    assert sorted(e.first("uid") for e in partners) == [f"ext{n}" for n in range(6)]
    assert one_level == []  # people live in OUs, not directly under the suffix


def test_openldap_profile_entries_have_uuids_timestamps_and_non_ascii_names(slapd: Slapd) -> None:
    with LdapDirectory(slapd_settings(slapd)) as directory:
        entries = {
            e.first("uid"): e
            for e in directory.search(slapd.suffix, OPENLDAP.user_filter, OPENLDAP.attributes)
        }
    zoe, li, juergen = entries["zoe"], entries["li"], entries["juergen"]
    assert zoe.first("cn") == "Zoë Ångström" and zoe.first("sn") == "Ångström"
    assert li.first("cn") == "雷 李"
    assert "mail" not in juergen.attributes and juergen.values("mail") == []
    assert "memberOf" not in zoe.attributes  # no memberof overlay here: simply absent
    assert UUID_TEXT.match(str(zoe.first("entryUUID")))
    assert zoe.first("modifyTimestamp") == "20200101000000Z"
    assert zoe.dn == person_dn("zoe") and zoe.record()["dn"] == zoe.dn
    assert zoe.record()["mail"] == ["zoe@example.com"]


def test_the_ids_only_listing_shows_a_deletion(make_slapd: Callable[..., Slapd]) -> None:
    server = make_slapd()
    with LdapDirectory(slapd_settings(server)) as directory:
        before = {i.dn: i.id for i in directory.list_ids(server.suffix, PEOPLE, "entryUUID")}
        server.delete(person_dn("user011"))
        after = {i.dn: i.id for i in directory.list_ids(server.suffix, PEOPLE, "entryUUID")}
    assert len(before) == len(SLAPD_PEOPLE) and all(UUID_TEXT.match(i) for i in before.values())
    assert set(before) - set(after) == {person_dn("user011")}
    assert {dn: before[dn] for dn in after} == after  # ids do not move


def test_a_timestamp_delta_finds_only_what_changed(make_slapd: Callable[..., Slapd]) -> None:
    server = make_slapd()
    last_run = datetime.datetime.now(datetime.UTC)
    server.modify(person_dn("user005"), mail="user005@new.example.com")
    server.add_person("contractors", person("newbie", "New", "Bie", mail="new@partner.example"))
    with LdapDirectory(slapd_settings(server)) as directory:
        changed = list(
            directory.search(
                server.suffix, timestamp_delta_filter(PEOPLE, last_run), OPENLDAP.attributes
            )
        )
        unchanged = list(
            directory.search(
                server.suffix,
                timestamp_delta_filter(PEOPLE, last_run + datetime.timedelta(hours=1)),
                ["uid"],
            )
        )
    assert sorted(e.first("uid") for e in changed) == ["newbie", "user005"]
    assert unchanged == []


def test_usn_high_water_mark_on_openldap_says_it_is_not_ad(slapd: Slapd) -> None:
    with LdapDirectory(slapd_settings(slapd)) as directory, pytest.raises(DirectoryError) as caught:
        directory.usn_high_water_mark()
    assert "not an Active Directory" in str(caught.value)


# -- OpenLDAP: TLS, credentials, reachability ------------------------------------------------


def test_starttls_verifies_the_certificate_with_ca_file(slapd: Slapd) -> None:
    with LdapDirectory(slapd_settings(slapd, server=slapd.url, start_tls=True)) as directory:
        assert directory.read_entry(person_dn("zoe"), ["uid"]) is not None
    error = connect_error(slapd_settings(slapd, server=slapd.url, start_tls=True, ca_file=""))
    assert isinstance(error, DirectoryTlsError) and "Set ca_file" in str(error)


def test_an_untrusted_ldaps_certificate_says_set_ca_file(slapd: Slapd) -> None:
    error = connect_error(slapd_settings(slapd, ca_file=""))
    assert isinstance(error, DirectoryTlsError)
    assert "not trusted" in str(error) and "Set ca_file" in str(error)
    assert str(slapd.ldaps_port) in str(error)


def test_a_certificate_for_another_name_is_refused(slapd: Slapd) -> None:
    assert slapd.ldaps_url is not None
    by_other_name = slapd.ldaps_url.replace("127.0.0.1", "localhost")
    error = connect_error(slapd_settings(slapd, server=by_other_name))
    assert isinstance(error, DirectoryTlsError) and "not valid for that name" in str(error)


def test_starttls_refused_by_a_server_without_tls(make_slapd: Callable[..., Slapd]) -> None:
    server = make_slapd(tls=False)
    error = connect_error(slapd_settings(server, server=server.url, start_tls=True, ca_file=""))
    assert isinstance(error, DirectoryTlsError) and "refused StartTLS" in str(error)


def test_ldaps_to_a_plain_ldap_port_is_a_tls_handshake_error(slapd: Slapd) -> None:
    error = connect_error(slapd_settings(slapd, server=slapd.url.replace("ldap:", "ldaps:")))
    assert isinstance(error, DirectoryTlsError) and "handshake" in str(error)


def test_a_wrong_password_is_a_clear_error_that_never_shows_the_password(
    slapd: Slapd, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = slapd_settings(slapd, bind_password=Secret(WRONG_PASSWORD))
    directory = LdapDirectory(settings)
    with pytest.raises(DirectoryCredentialsError) as caught:
        directory.connect()
    message = str(caught.value)
    assert f"invalid credentials for bind DN '{slapd.service_dn}'" in message
    for shown in (message, repr(caught.value), repr(directory), repr(settings), caplog.text):
        assert WRONG_PASSWORD not in shown


def test_the_password_is_forgotten_by_ldap3_after_the_bind(slapd: Slapd) -> None:
    with LdapDirectory(slapd_settings(slapd)) as directory:
        assert slapd.service_password not in repr(directory._connection)


def test_a_missing_base_dn_is_reported_as_such(slapd: Slapd) -> None:
    with LdapDirectory(slapd_settings(slapd)) as directory:
        with pytest.raises(DirectoryBaseNotFoundError) as caught:
            list(directory.search(f"ou=nowhere,{slapd.suffix}", PEOPLE, ["uid"]))
        assert directory.read_entry(f"uid=nobody,ou=people,{slapd.suffix}", ["uid"]) is None
    assert "ou=nowhere" in str(caught.value) and "does not exist" in str(caught.value)


def test_a_simple_bind_without_tls_is_refused_before_connecting(slapd: Slapd) -> None:
    error = connect_error(slapd_settings(slapd, server=slapd.url, ca_file=""))
    assert "unencrypted" in str(error) and "start_tls" in str(error)


def test_an_unreachable_server_names_host_port_and_the_time_waited() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
        error = connect_error(
            DirectorySettings(server=f"ldaps://127.0.0.1:{port}", connect_timeout_seconds=2)
        )
    assert isinstance(error, DirectoryUnreachableError)
    assert f"127.0.0.1:{port}" in str(error) and re.search(r"waited \d+\.\d s", str(error))


def test_a_connection_lost_during_a_search_fails_the_search(
    make_slapd: Callable[..., Slapd],
) -> None:
    server = make_slapd()
    received = []
    with LdapDirectory(slapd_settings(server, page_size=5)) as directory:
        with pytest.raises(DirectoryUnreachableError) as caught:
            for entry in directory.search(server.suffix, PEOPLE, ["uid"]):
                received.append(entry)
                if len(received) == 1:
                    server.stop()
    assert len(received) == 5  # the first page, then nothing more
    assert "lost the connection" in str(caught.value)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never answers (a hung directory)."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def test_a_server_that_never_answers_times_out(silent_server: int) -> None:
    settings = DirectorySettings(
        server=f"ldap://127.0.0.1:{silent_server}", receive_timeout_seconds=1
    )
    error = connect_error(settings)
    assert isinstance(error, DirectoryUnreachableError)
    assert f"127.0.0.1:{silent_server}" in str(error) and "during the bind" in str(error)
    waited = float(re.findall(r"waited (\d+\.\d) s", str(error))[0])
    assert 0.9 <= waited < 10


# -- Active Directory (Samba AD DC) -----------------------------------------------------------


@pytest.mark.slow
class TestActiveDirectory:
    """One DC for the session; tests that change it add their own users first."""

    def test_users_in_several_ous_with_guids_flags_and_groups(self, samba_ad: SambaAD) -> None:
        with LdapDirectory(ad_settings(samba_ad)) as directory:
            staff = list(
                directory.search(
                    f"OU={AD_STAFF_UNIT},{samba_ad.base_dn}", AD.user_filter, AD.attributes
                )
            )
            contractors = list(
                directory.search(
                    f"OU={AD_CONTRACTOR_UNIT},{samba_ad.base_dn}",
                    "(&(objectClass=user)(sAMAccountName=ext*))",
                    AD.attributes,
                )
            )
        by_name = {e.first("sAMAccountName"): e for e in staff + contractors}
        expected = {p[1] for p in AD_PEOPLE}
        assert expected <= set(by_name)
        assert {p[1] for p in AD_PEOPLE if p[0] == AD_CONTRACTOR_UNIT} == {
            e.first("sAMAccountName") for e in contractors
        }
        # The ldap module's own rule for disabled accounts, over real entries.
        disabled = FieldMap.parse({"inactive": "userAccountControl|bit:2"})
        inactive = {name for name, e in by_name.items() if disabled.apply(e.record())["inactive"]}
        assert inactive >= {"staff03", "ext2"} and "staff00" not in inactive
        zoe = by_name["zoe"]
        assert zoe.first("displayName") == "Zoë Ångström"
        assert UUID_TEXT.match(str(zoe.first("objectGUID")))
        assert isinstance(zoe.first("uSNChanged"), int)
        assert isinstance(zoe.first("userAccountControl"), int)
        assert str(zoe.first("whenChanged")).endswith("Z")
        assert zoe.first("distinguishedName") == zoe.dn
        assert by_name["juergen"].values("mail") == []
        group_dn = f"CN={AD_GROUP},OU={AD_GROUP_UNIT},{samba_ad.base_dn}"
        # A placement rule by group, over real memberOf values.
        rule = PlacementRule(group=group_dn.upper(), site_id=5)
        assert rule.matches(by_name["staff00"].record()) and not rule.matches(zoe.record())

    def test_a_paged_search_returns_every_user_across_pages(self, samba_ad: SambaAD) -> None:
        base = f"OU={AD_STAFF_UNIT},{samba_ad.base_dn}"
        with LdapDirectory(ad_settings(samba_ad, page_size=3)) as directory:
            before = directory.requests_sent
            names = [
                e.first("sAMAccountName")
                for e in directory.search(base, AD.user_filter, ["sAMAccountName"])
            ]
            pages = directory.requests_sent - before
        staff = [p[1] for p in AD_PEOPLE if p[0] == AD_STAFF_UNIT]
        assert set(staff) <= set(names) and len(names) == len(set(names))
        assert pages >= math.ceil(len(staff) / 3)

    def test_starttls_on_the_ldap_port(self, samba_ad: SambaAD) -> None:
        settings = ad_settings(samba_ad, server=samba_ad.ldap_url, start_tls=True)
        with LdapDirectory(settings) as directory:
            assert directory.root_dse(["defaultNamingContext"]).first("defaultNamingContext") == (
                samba_ad.base_dn
            )

    def test_an_untrusted_certificate_says_set_ca_file(self, samba_ad: SambaAD) -> None:
        error = connect_error(ad_settings(samba_ad, ca_file=""))
        assert isinstance(error, DirectoryTlsError) and "Set ca_file" in str(error)

    def test_a_wrong_password_says_so_without_showing_it(self, samba_ad: SambaAD) -> None:
        error = connect_error(ad_settings(samba_ad, bind_password=Secret(WRONG_PASSWORD)))
        assert isinstance(error, DirectoryCredentialsError)
        assert f"invalid credentials for bind DN '{samba_ad.service_dn}'" in str(error)
        assert "(wrong password)" in str(error)  # AD's data code 52e
        assert WRONG_PASSWORD not in str(error)

    def test_a_bind_by_user_principal_name(self, samba_ad: SambaAD) -> None:
        settings = ad_settings(
            samba_ad, bind_dn=samba_ad.admin_upn, bind_password=Secret(samba_ad.admin_password)
        )
        with LdapDirectory(settings) as directory:
            assert directory.root_dse(["dsServiceName"]).first("dsServiceName")

    def test_an_ntlm_bind_samba_does_not_offer_is_a_clear_error(self, samba_ad: SambaAD) -> None:
        # Samba lacks the NTLM ("Sicily") bind ldap3 speaks; the boundary test covers the rest.
        settings = ad_settings(samba_ad, bind_dn=f"{samba_ad.domain}\\svc-halo")
        error = connect_error(settings)
        assert "NTLM bind" in str(error) and "user@domain" in str(error)
        assert samba_ad.service_password not in str(error)

    def test_missing_base_dns_are_reported(self, samba_ad: SambaAD) -> None:
        with LdapDirectory(ad_settings(samba_ad)) as directory:
            for base in (f"OU=Nowhere,{samba_ad.base_dn}", "DC=elsewhere,DC=example"):
                with pytest.raises(DirectoryBaseNotFoundError) as caught:
                    list(directory.search(base, AD.user_filter, ["sAMAccountName"]))
                assert base in str(caught.value)

    def test_the_high_water_mark_names_the_dc(self, samba_ad: SambaAD) -> None:
        with LdapDirectory(ad_settings(samba_ad)) as directory:
            mark = directory.usn_high_water_mark()
        assert mark.usn > 0
        assert mark.dc_service_name.startswith("CN=NTDS Settings,CN=DC1,")
        assert uuid.UUID(mark.invocation_id)
        assert UsnHighWaterMark.from_json(mark.to_json()) == mark

    def test_a_delta_after_the_stored_usn_returns_only_the_changed_user(
        self, samba_ad: SambaAD
    ) -> None:
        dn = samba_ad.add_user(AD_STAFF_UNIT, "delta1", "Delta", "One", mail="delta1@bars.example")
        base = f"OU={AD_STAFF_UNIT},{samba_ad.base_dn}"
        with LdapDirectory(ad_settings(samba_ad)) as directory:
            stored = directory.usn_high_water_mark()
            nothing = list(
                directory.search(base, usn_delta_filter(AD.user_filter, stored), ["sAMAccountName"])
            )
            samba_ad.modify(dn, title="Chief Delta Officer")
            changed = list(
                directory.search(base, usn_delta_filter(AD.user_filter, stored), AD.attributes)
            )
            now = directory.usn_high_water_mark()
        assert nothing == []
        assert [e.first("sAMAccountName") for e in changed] == ["delta1"]
        assert changed[0].first("title") == "Chief Delta Officer"
        assert int(changed[0].first("uSNChanged") or 0) > stored.usn
        assert now.usn > stored.usn and stored.same_counter(now)

    def test_a_deleted_user_leaves_the_ids_only_listing(self, samba_ad: SambaAD) -> None:
        dn = samba_ad.add_user(AD_CONTRACTOR_UNIT, "leaver1", "Leaving", "Soon")
        base = f"OU={AD_CONTRACTOR_UNIT},{samba_ad.base_dn}"
        with LdapDirectory(ad_settings(samba_ad)) as directory:
            before = {i.dn: i.id for i in directory.list_ids(base, AD.user_filter, AD.id_attribute)}
            samba_ad.delete(dn)
            after = {i.dn: i.id for i in directory.list_ids(base, AD.user_filter, AD.id_attribute)}
        assert dn in before and UUID_TEXT.match(before[dn])
        assert set(before) - set(after) == {dn}
        assert before[dn] not in after.values()
