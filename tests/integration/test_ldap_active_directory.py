"""The ``ad`` profile against a real Active Directory domain controller (Samba AD DC on a
127.x address): disabled accounts, group placement, uSNChanged delta runs, deletions found
through the ids-only listing, and a DC change forcing a full read.

The DC is shared by the session, so each test works in an OU of its own."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from servers.samba_ad import BASE_DN, SambaAD

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

pytestmark = pytest.mark.slow
_units = itertools.count(1)


class Unit:
    """An OU of this test's own, with a few users, one disabled, two in a group."""

    def __init__(self, ad: SambaAD) -> None:
        self.ad = ad
        self.name = f"Sync{next(_units)}x{id(self) % 10_000}"
        self.dn = ad.add_organizational_unit(self.name)
        self.users = {
            sam: ad.add_user(
                self.name,
                sam,
                "Ann" if n % 2 else "Bob",
                f"{self.name}{n}",
                mail=f"{sam}@bars.example",
                disabled=(n == 2),
            )
            for n, sam in enumerate(f"{self.name.lower()}u{n}" for n in range(6))
        }
        members = [self.users[sam] for sam in list(self.users)[:2]]
        self.group = ad.add_group(self.name, f"{self.name} VPN", members)

    def sam(self, n: int) -> str:
        return f"{self.name.lower()}u{n}"


@pytest.fixture
def unit(samba_ad: SambaAD) -> Unit:
    return Unit(samba_ad)


@pytest.fixture
def ad_folder(tmp_path: Path, emulator: Emulator, samba_ad: SambaAD, unit: Unit) -> Settings:
    settings = Settings.new(tmp_path / "Halo" / "appsettings.json", connection_for(emulator))
    options = {
        "server": samba_ad.ldaps_url,
        "ca_file": str(samba_ad.ca_file),
        "bind_dn": samba_ad.service_dn,
        "bind_password": Secret(samba_ad.service_password),
        "profile": "ad",
        "base_dns": unit.dn,
        "placement": [{"group": unit.group, "site_name": "VPN site"}],
        "create_sites": True,
    }
    settings.modules[:] = [ModuleSettings(name="ad", type="ldap", options=options)]
    save_settings(settings)
    return load_settings(settings.folder)


def run(settings: Settings, **flags: bool) -> ModuleRunResult:
    runner = Runner(settings, client_factory=lambda: HaloClient(settings.halo, retry=FAST_RETRY))
    [result] = runner.run(RunRequest(**flags))
    return result


def ad_users(emulator: Emulator, unit: Unit) -> dict[str, dict[str, Any]]:
    return {
        u["samaccountname"]: u
        for u in halo_users(emulator)
        if str(u.get("samaccountname", "")).startswith(unit.name.lower())
    }


def test_a_full_sync_marks_disabled_users_inactive_and_places_by_group(
    emulator: Emulator, ad_folder: Settings, unit: Unit
) -> None:
    result = run(ad_folder)
    assert result.outcome is Outcome.SUCCEEDED, result.error
    users = ad_users(emulator, unit)
    assert len(users) == 6
    assert users[unit.sam(2)]["inactive"] is True
    assert [s for s, u in users.items() if u.get("inactive")] == [unit.sam(2)]
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        vpn = {s["name"]: s["id"] for s in halo.iter_records("Site", {})}["VPN site"]
    assert {users[unit.sam(0)]["site_id"], users[unit.sam(1)]["site_id"]} == {vpn}
    assert users[unit.sam(3)]["site_id"] == 1
    ann = users[unit.sam(1)]
    assert ann["activedirectory_dn"] == unit.users[unit.sam(1)]
    assert ann["login"] == f"{unit.sam(1)}@bars.example"
    assert len(ann["third_party_guid"]) == 36  # objectGUID


def test_a_delta_run_reads_only_what_changed_by_usn_and_finds_deletions(
    emulator: Emulator, ad_folder: Settings, unit: Unit, samba_ad: SambaAD
) -> None:
    run(ad_folder)
    stored = json.loads(StateStore(ad_folder.folder).checkpoint("ad", "usn") or "{}")
    assert stored["usn"] > 0 and stored["invocation_id"]
    nothing = run(ad_folder)
    assert nothing.parts[-1].counts.unchanged == 0  # no entry was read: none changed
    assert (nothing.counts.created, nothing.counts.updated, nothing.counts.deactivated) == (0, 0, 0)
    samba_ad.modify(unit.users[unit.sam(3)], title="Head of Sales")
    samba_ad.delete(unit.users[unit.sam(4)])
    delta = run(ad_folder)
    assert delta.outcome is Outcome.SUCCEEDED, delta.error
    users = delta.parts[-1].counts
    assert (users.updated, users.deactivated, users.unchanged) == (1, 1, 0)
    halo = ad_users(emulator, unit)
    assert halo[unit.sam(3)]["title"] == "Head of Sales"
    assert halo[unit.sam(4)]["inactive"] is True


def test_a_mark_from_another_dc_forces_a_full_read(
    emulator: Emulator, ad_folder: Settings, unit: Unit
) -> None:
    run(ad_folder)
    state = StateStore(ad_folder.folder)
    mark = json.loads(state.checkpoint("ad", "usn") or "{}")
    state.set_checkpoint("ad", "usn", json.dumps({**mark, "invocation_id": "another-dc"}))
    result = run(ad_folder)
    assert result.parts[-1].counts.unchanged == 6  # every entry read again, none changed
    assert (
        json.loads(state.checkpoint("ad", "usn") or "{}")["invocation_id"] == mark["invocation_id"]
    )


def test_a_disabled_account_found_by_delta_becomes_inactive(
    emulator: Emulator, ad_folder: Settings, unit: Unit, samba_ad: SambaAD
) -> None:
    run(ad_folder)
    samba_ad.modify(unit.users[unit.sam(5)], userAccountControl=544 | 2)
    result = run(ad_folder)
    assert result.parts[-1].counts.updated == 1
    assert ad_users(emulator, unit)[unit.sam(5)]["inactive"] is True


def test_users_outside_the_base_are_not_read(emulator: Emulator, ad_folder: Settings) -> None:
    run(ad_folder)
    outside = [
        u for u in halo_users(emulator) if "OU=Staff," + BASE_DN in str(u.get("activedirectory_dn"))
    ]
    assert outside == []
