"""The ``ldap`` module against a real OpenLDAP slapd and the emulator: full and delta runs,
leavers found by the ids-only listing, sites, placement, a capped search, the guard, TLS and
a configuration kept in Halo's LDAPConnection record."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from servers import slapd as openldap
from servers.fixtures import SLAPD_PEOPLE

from core.halo.client import HaloClient
from core.outcomes import Outcome
from core.run.request import RunRequest
from core.run.runner import ModuleRunResult, Runner
from core.settings.model import ModuleSettings, Settings
from core.settings.reader import load_settings
from core.settings.secrets import Secret
from core.settings.writer import save_settings
from core.state.store import StateStore
from halo_emulator import Emulator

from .conftest import FAST_RETRY, connection_for, halo_users

PEOPLE_OU = f"ou=people,{openldap.SUFFIX}"
CONTRACTORS_OU = f"ou=contractors,{openldap.SUFFIX}"
WITH_MAIL = [p for p in SLAPD_PEOPLE if p[4]]


@pytest.fixture
def directory(make_slapd: Callable[..., openldap.Slapd]) -> openldap.Slapd:
    return make_slapd()


@pytest.fixture
def ldap_folder(
    tmp_path: Path, emulator: Emulator, directory: openldap.Slapd
) -> Callable[..., Settings]:
    def make(**options: Any) -> Settings:
        settings = Settings.new(tmp_path / "Halo" / "appsettings.json", connection_for(emulator))
        merged = {
            "server": directory.url,
            "start_tls": True,
            "ca_file": str(directory.ca_file),
            "bind_dn": directory.service_dn,
            "bind_password": Secret(directory.service_password),
            "profile": "openldap",
            "base_dns": f"{PEOPLE_OU};{CONTRACTORS_OU}",
            "placement": [{"ou": CONTRACTORS_OU, "site_name": "Contractors"}],
            "create_sites": True,
            **options,
        }
        settings.modules[:] = [ModuleSettings(name="ldap", type="ldap", options=merged)]
        save_settings(settings)
        return load_settings(settings.folder)

    return make


def run(settings: Settings, **flags: bool) -> ModuleRunResult:
    runner = Runner(settings, client_factory=lambda: HaloClient(settings.halo, retry=FAST_RETRY))
    [result] = runner.run(RunRequest(**flags))
    return result


def directory_users(emulator: Emulator) -> dict[str, dict[str, Any]]:
    """Halo users made by the ldap module, by their login (the uid)."""
    return {u["login"]: u for u in halo_users(emulator) if u.get("third_party_guid")}


def sites(emulator: Emulator) -> dict[str, int]:
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        return {s["name"]: s["id"] for s in halo.iter_records("Site", {})}


def test_a_full_sync_places_users_creates_their_site_and_fills_halo_directory_fields(
    emulator: Emulator, ldap_folder: Callable[..., Settings], directory: openldap.Slapd
) -> None:
    result = run(ldap_folder())
    assert result.outcome is Outcome.SUCCEEDED, result.error
    assert [(p.entity, p.counts.created) for p in result.parts] == [
        ("Site", 1),
        ("Users", len(SLAPD_PEOPLE)),
    ]
    users = directory_users(emulator)
    assert len(users) == len(SLAPD_PEOPLE)
    contractors = sites(emulator)["Contractors"]
    assert {users[f"ext{n}"]["site_id"] for n in range(6)} == {contractors}
    assert users["user000"]["site_id"] == 1
    zoe = users["zoe"]
    assert (zoe["name"], zoe["emailaddress"]) == ("Zoë Ångström", "zoe@example.com")
    assert zoe["activedirectory_dn"] == openldap.person_dn("zoe")
    assert len(zoe["third_party_guid"]) == 36  # entryUUID, the match key that survives renames
    # Users without an e-mail address are users too (matched by GUID and login).
    assert users["juergen"]["emailaddress"] == "" and users["juergen"]["name"] == "Jürgen Müller"


def test_a_delta_run_with_nothing_changed_sends_no_write(
    emulator: Emulator, ldap_folder: Callable[..., Settings]
) -> None:
    settings = ldap_folder()
    run(settings)
    emulator.reset_stats()
    again = run(settings)
    assert again.outcome is Outcome.SUCCEEDED
    assert (again.counts.created, again.counts.updated, again.counts.deactivated) == (0, 0, 0)
    posts = {k: v for k, v in emulator.stats()["by_endpoint"].items() if k.startswith("POST /api/")}
    assert set(posts) <= {"POST /api/ldapconnection", "POST /api/control"}, posts


def test_a_changed_attribute_is_updated_and_a_deleted_user_deactivated_by_delta(
    emulator: Emulator, ldap_folder: Callable[..., Settings], directory: openldap.Slapd
) -> None:
    settings = ldap_folder()
    run(settings)
    directory.modify(openldap.person_dn("zoe"), telephoneNumber="+44 113 496 0000")
    directory.delete(openldap.person_dn("user001"))
    result = run(settings)
    assert result.outcome is Outcome.SUCCEEDED, result.error
    users = result.parts[-1]
    assert (users.counts.updated, users.counts.deactivated, users.counts.created) == (1, 1, 0)
    halo = directory_users(emulator)
    assert halo["zoe"]["phonenumber"] == "+44 113 496 0000"
    assert halo["user001"]["inactive"] is True
    assert StateStore(settings.folder).checkpoint("ldap", "since") is not None


def test_a_capped_search_fails_the_run_and_deactivates_no_one(
    emulator: Emulator, ldap_folder: Callable[..., Settings], directory: openldap.Slapd
) -> None:
    run(ldap_folder())
    capped = ldap_folder(
        bind_dn=directory.capped_dn, bind_password=Secret(directory.capped_password)
    )
    result = run(capped)
    assert result.outcome is Outcome.FAILED
    assert "capped the search" in (result.error or "")
    assert all(not u.get("inactive") for u in directory_users(emulator).values())


def test_a_mass_removal_is_refused_by_the_guard(
    emulator: Emulator, ldap_folder: Callable[..., Settings], directory: openldap.Slapd
) -> None:
    settings = ldap_folder()
    run(settings)
    for n in range(10):
        directory.delete(openldap.person_dn(f"user0{n + 10}"))
    refused = run(settings)
    assert refused.outcome is Outcome.REFUSED and "10 of 49" in (refused.error or "")
    assert all(not u.get("inactive") for u in directory_users(emulator).values())
    released = run(settings, allow_mass_deactivation=True)
    assert released.counts.deactivated == 10


def test_a_dry_run_shows_sites_and_users_and_writes_nothing(
    emulator: Emulator, ldap_folder: Callable[..., Settings]
) -> None:
    result = run(ldap_folder(), dry_run=True)
    assert result.outcome is Outcome.DRY_RUN
    assert [(p.entity, p.counts.created) for p in result.parts] == [
        ("Site", 1),
        ("Users", len(SLAPD_PEOPLE)),
    ]
    placed = {r.fields["login"]: r.fields["site_id"] for r in result.parts[1].plan.creates}
    assert placed["ext0"] == "(new Site 1/contractors)" and placed["user000"] == 1
    assert directory_users(emulator) == {} and "Contractors" not in sites(emulator)


def test_ldaps_without_the_private_ca_is_refused_with_a_hint(
    emulator: Emulator, ldap_folder: Callable[..., Settings], directory: openldap.Slapd
) -> None:
    result = run(ldap_folder(server=directory.ldaps_url, start_tls=False, ca_file=""))
    assert result.outcome is Outcome.FAILED and "ca_file" in (result.error or "")
    assert (
        run(ldap_folder(server=directory.ldaps_url, start_tls=False)).outcome is Outcome.SUCCEEDED
    )


def test_settings_kept_in_halos_ldapconnection_are_used_and_reported_on(
    emulator: Emulator, tmp_path: Path, directory: openldap.Slapd
) -> None:
    assert directory.ldaps_port is not None
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        [record] = halo.post_batch(
            "LDAPConnection",
            [
                {
                    "name": "Head office AD",
                    "hostname": "127.0.0.1",
                    "port": directory.ldaps_port,
                    "use_ssl": True,
                    "username": directory.service_dn,
                    "basedn": PEOPLE_OU,
                    "mappings_user": [{"ldap_field": "telephoneNumber", "nhd_field": "notes"}],
                }
            ],
        )
    settings = Settings.new(tmp_path / "Halo" / "appsettings.json", connection_for(emulator))
    local = {
        "halo_connection_id": record["id"],
        "bind_password": Secret(directory.service_password),  # Halo never returns it
        "ca_file": str(directory.ca_file),
        "profile": "openldap",
    }
    settings.modules[:] = [ModuleSettings(name="ad", type="ldap", options=local)]
    save_settings(settings)
    result = run(load_settings(settings.folder))
    assert result.outcome is Outcome.SUCCEEDED, result.error
    people = [p for p in SLAPD_PEOPLE if p[0] == "people"]
    assert result.counts.created == len(people)  # only Halo's base DN
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        stored = halo.get(f"LDAPConnection/{record['id']}")
    assert stored.get("halointegrator_lastsync") and not stored.get("halointegrator_lasterror")
    users = [u for u in halo_users(emulator) if u.get("adconnection") == record["id"]]
    assert len(users) == len(people)


def test_sync_full_from_the_command_line_reads_the_whole_directory(
    emulator: Emulator, ldap_folder: Callable[..., Settings], directory: openldap.Slapd
) -> None:
    settings = ldap_folder()
    run(settings)
    directory.modify(openldap.person_dn("zoe"), telephoneNumber="+44 1")
    command = [str(Path(sys.executable).with_name("halo-integrator")), "sync", "ldap"]
    delta = subprocess.run(
        [*command, "--settings", str(settings.folder)], capture_output=True, text=True, timeout=120
    )
    assert delta.returncode == 0, delta.stdout + delta.stderr
    assert "0 unchanged" in delta.stdout and "1 updated" in delta.stdout
    full = subprocess.run(
        [*command, "--full", "--settings", str(settings.folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert full.returncode == 0, full.stdout + full.stderr
    assert f"{len(SLAPD_PEOPLE)} unchanged" in full.stdout


def test_validate_checks_the_directory_and_names_a_wrong_password(
    emulator: Emulator, ldap_folder: Callable[..., Settings], directory: openldap.Slapd
) -> None:
    command = [str(Path(sys.executable).with_name("halo-integrator")), "validate", "--settings"]
    good = subprocess.run(
        [*command, str(ldap_folder().folder)], capture_output=True, text=True, timeout=120
    )
    assert good.returncode == 0, good.stdout + good.stderr
    assert f"bound, {len(SLAPD_PEOPLE)} users in 2 base DN(s)" in good.stdout
    wrong = ldap_folder(bind_password=Secret("not-the-password"))
    bad = subprocess.run([*command, str(wrong.folder)], capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0
    assert "invalid credentials" in (bad.stdout + bad.stderr).lower()
    assert "not-the-password" not in bad.stdout + bad.stderr


def test_an_admin_sets_up_ldap_from_the_command_line(
    emulator: Emulator, tmp_path: Path, directory: openldap.Slapd
) -> None:
    settings = Settings.new(tmp_path / "cli" / "appsettings.json", connection_for(emulator))
    save_settings(settings)
    command = [str(Path(sys.executable).with_name("halo-integrator"))]
    folder = ["--settings", str(settings.folder)]
    enable = [
        *command, "module", "enable", "ldap", "--name", "directory", *folder,
        "--set", f"server={directory.url}", "--set", "start_tls=true",
        "--set", f"ca_file={directory.ca_file}", "--set", f"bind_dn={directory.service_dn}",
        "--set", "profile=openldap", "--set", f"base_dns={PEOPLE_OU};{CONTRACTORS_OU}",
        "--secret", "bind_password",
    ]  # fmt: skip
    environment = {**os.environ, "HALO_SECRET_BIND_PASSWORD": directory.service_password}
    done = subprocess.run(enable, capture_output=True, text=True, env=environment, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    text = (settings.folder / "appsettings.json").read_text()
    assert directory.service_password not in text
    result = run(load_settings(settings.folder))
    assert result.outcome is Outcome.SUCCEEDED and result.counts.created == len(SLAPD_PEOPLE)


def test_a_full_reconcile_puts_back_what_someone_changed_by_hand_in_halo(
    emulator: Emulator, ldap_folder: Callable[..., Settings]
) -> None:
    settings = ldap_folder()
    run(settings)
    zoe = directory_users(emulator)["zoe"]
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        halo.post("Users", [{"id": zoe["id"], "name": "Someone Else", "inactive": True}])
    delta = run(settings)
    assert delta.counts.updated == 0  # a delta run trusts its id map
    full = run(settings, full=True)
    assert full.parts[-1].counts.updated == 1, full.summary()
    restored = directory_users(emulator)["zoe"]
    assert (restored["name"], restored["inactive"]) == ("Zoë Ångström", False)


def test_a_connection_not_enabled_for_the_integrator_in_halo_does_not_run(
    emulator: Emulator, tmp_path: Path, directory: openldap.Slapd
) -> None:
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        [record] = halo.post_batch(
            "LDAPConnection",
            [
                {
                    "name": "Old AD",
                    "hostname": "127.0.0.1",
                    "basedn": PEOPLE_OU,
                    "halointegratorenabled": False,
                }
            ],
        )
    settings = Settings.new(tmp_path / "Halo" / "appsettings.json", connection_for(emulator))
    options = {"halo_connection_id": record["id"], "bind_password": Secret("long-enough-pw")}
    settings.modules[:] = [ModuleSettings(name="ad", type="ldap", options=options)]
    save_settings(settings)
    result = run(load_settings(settings.folder))
    assert result.outcome is Outcome.FAILED
    assert "is not enabled for the Halo Integrator in Halo" in (result.error or "")
    assert directory_users(emulator) == {}
