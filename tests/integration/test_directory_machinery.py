"""What every directory source needs from the engine, driven for real over the emulator:
removals from a delta source, checkpoints committed only after Halo took the whole run,
sites referred to by users in the same run, composite match keys, records adopted back by
their marker after a lost state DB, and duplicates in Halo reported instead of picked."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.halo.client import HaloClient
from core.modules.base import SyncModule
from core.modules.options import option
from core.modules.registry import MODULES
from core.outcomes import Outcome
from core.run.context import RunContext
from core.run.request import RunRequest
from core.run.runner import Runner
from core.settings.model import ModuleSettings, Settings
from core.settings.reader import load_settings
from core.settings.writer import save_settings
from core.state.store import STATE_FILE_NAME, StateStore
from core.sync.records import SITES, USERS, Ref, SourceRecord
from halo_emulator import Emulator

from .conftest import FAST_RETRY, connection_for, halo_users, user_rows, write_csv


@dataclass(frozen=True)
class DeltaOptions:
    users: list[dict[str, Any]] = option(default_factory=list, help="changed users")
    removed: list[str] = option(default_factory=list, help="keys that left")
    mark: str = option("", help="checkpoint to stage")
    sites: list[str] = option(default_factory=list, help="sites the users refer to by name")
    present: list[str] = option(default_factory=list, help="an ids-only listing of the scope")
    listed: bool = option(False, help="pass present (even when empty)")
    take_over: list[str] = option(default_factory=list, help="instances to take over from")


class FakeDelta(SyncModule):
    """A delta source: only what changed, the keys that left, and a checkpoint."""

    type_name = "test-delta"
    display_name = "Test delta"
    description = "changes from its options"
    Options = DeltaOptions
    seen_checkpoint: str | None = None

    def run(self, context: RunContext) -> None:
        FakeDelta.seen_checkpoint = context.checkpoint("mark")
        client_id = 1
        sites = [
            SourceRecord(name.lower(), {"client_id": client_id, "name": name})
            for name in self.options.sites
        ]
        if sites:
            context.sync_records(SITES, sites, deactivate_missing=False)
        users = []
        for user in self.options.users:
            fields = dict(user)
            if "site" in fields:
                fields["site_id"] = Ref("Site", fields.pop("site").lower())
            users.append(SourceRecord(fields["emailaddress"], fields))
        present = self.options.present if self.options.listed else None
        context.sync_records(
            USERS,
            users,
            complete=False,
            removed=self.options.removed,
            present=present,
            take_over_from=self.options.take_over,
        )
        if self.options.mark:
            context.stage_checkpoint("mark", self.options.mark)


@pytest.fixture(autouse=True)
def test_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(MODULES, FakeDelta.type_name, FakeDelta)


@pytest.fixture
def folder(tmp_path: Path, emulator: Emulator) -> Settings:
    settings = Settings.new(tmp_path / "Halo" / "appsettings.json", connection_for(emulator))
    save_settings(settings)
    return load_settings(settings.folder)


def run(settings: Settings, **flags: bool) -> Any:
    runner = Runner(settings, client_factory=lambda: HaloClient(settings.halo, retry=FAST_RETRY))
    [result] = runner.run(RunRequest(**flags))
    return result


def with_delta(settings: Settings, **options: Any) -> Settings:
    entry = ModuleSettings(name="delta", type="test-delta", options=options, id="0123456789ab")
    settings.modules[:] = [entry]
    save_settings(settings)
    return load_settings(settings.folder)


def user(n: int, **fields: Any) -> dict[str, Any]:
    return {"emailaddress": f"u{n}@example.com", "name": f"User {n}", **fields}


def by_email(emulator: Emulator) -> dict[str, dict[str, Any]]:
    return {u["emailaddress"]: u for u in halo_users(emulator) if "emailaddress" in u}


def test_a_delta_source_deactivates_the_keys_it_names_and_nothing_else(
    emulator: Emulator, folder: Settings
) -> None:
    first = run(with_delta(folder, users=[user(n) for n in range(1, 21)]))
    assert first.counts.created == 20
    # A delta run: one change, one removal; the 18 users it does not mention stay as they are.
    result = run(
        with_delta(folder, users=[user(3, department="Sales")], removed=["u5@example.com"])
    )
    assert (result.counts.updated, result.counts.deactivated) == (1, 1)
    users = by_email(emulator)
    assert users["u5@example.com"]["inactive"] is True
    assert sum(1 for u in users.values() if not u.get("inactive")) == 19
    assert users["u3@example.com"]["department"] == "Sales"


def test_an_ids_only_listing_finds_the_users_who_left(emulator: Emulator, folder: Settings) -> None:
    run(with_delta(folder, users=[user(n) for n in range(1, 21)]))
    still_there = [f"u{n}@example.com" for n in range(1, 21) if n != 7]
    result = run(with_delta(folder, present=still_there, listed=True))
    assert (result.counts.deactivated, result.counts.updated) == (1, 0)
    assert by_email(emulator)["u7@example.com"]["inactive"] is True
    # An empty listing is an empty source, not twenty leavers.
    empty = run(with_delta(folder, present=[], listed=True))
    assert empty.outcome is Outcome.REFUSED and "no records at all" in (empty.error or "")


def test_removals_are_under_the_guard(emulator: Emulator, folder: Settings) -> None:
    run(with_delta(folder, users=[user(n) for n in range(1, 21)]))
    gone = [f"u{n}@example.com" for n in range(1, 6)]
    refused = run(with_delta(folder, removed=gone))
    assert refused.outcome is Outcome.REFUSED and "5 of 20" in (refused.error or "")
    assert all(not u.get("inactive") for u in by_email(emulator).values())


def test_a_checkpoint_is_committed_only_when_halo_took_the_whole_run(
    emulator: Emulator, folder: Settings
) -> None:
    # A dry run never moves the mark.
    run(with_delta(folder, users=[user(1)], mark="m1"), dry_run=True)
    assert StateStore(folder.folder).checkpoint("delta", "mark") is None
    # A record Halo refuses (no name) keeps the old mark, so the next run retries it.
    nameless = {"emailaddress": "nameless@example.com"}
    result = run(with_delta(folder, users=[user(1), nameless], mark="m2"))
    assert result.outcome is Outcome.SUCCEEDED and result.counts.failed == 1
    assert StateStore(folder.folder).checkpoint("delta", "mark") is None
    # A refused run keeps it too.
    run(with_delta(folder, users=[user(n) for n in range(2, 12)], mark="m3"))
    assert StateStore(folder.folder).checkpoint("delta", "mark") == "m3"
    refused = run(with_delta(folder, removed=[f"u{n}@example.com" for n in range(2, 8)], mark="m4"))
    assert refused.outcome is Outcome.REFUSED
    assert StateStore(folder.folder).checkpoint("delta", "mark") == "m3"
    run(with_delta(folder, mark="m5"))
    assert FakeDelta.seen_checkpoint == "m3"
    assert StateStore(folder.folder).checkpoint("delta", "mark") == "m5"


def test_users_refer_to_sites_created_earlier_in_the_same_run(
    emulator: Emulator, folder: Settings
) -> None:
    options = {"sites": ["Leeds", "York"], "users": [user(1, site="Leeds"), user(2, site="York")]}
    dry = run(with_delta(folder, **options), dry_run=True)
    assert [(p.entity, p.counts.created) for p in dry.parts] == [("Site", 2), ("Users", 2)]
    creates = dry.parts[1].plan.creates
    assert {r.fields["site_id"] for r in creates} == {"(new Site leeds)", "(new Site york)"}
    assert halo_users(emulator) == [] or not by_email(emulator)
    result = run(with_delta(folder, **options))
    assert result.outcome is Outcome.SUCCEEDED and result.counts.created == 4
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        sites = {s["name"]: s["id"] for s in halo.iter_records("Site", {"client_id": "1"})}
    users = by_email(emulator)
    assert users["u1@example.com"]["site_id"] == sites["Leeds"]
    assert users["u2@example.com"]["site_id"] == sites["York"]
    # Nothing changed: nothing is sent again.
    again = run(with_delta(folder, **options))
    assert (again.counts.created, again.counts.updated, again.counts.unchanged) == (0, 0, 4)


def test_a_site_is_matched_by_client_and_name_together(
    emulator: Emulator, folder: Settings
) -> None:
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        halo.post_batch("Client", [{"name": "Other client"}])
        other = max(c["id"] for c in halo.iter_records("Client", {}))
        halo.post_batch("Site", [{"name": "Leeds", "client_id": other}])
    result = run(with_delta(folder, sites=["Leeds"]))
    # The other client's Leeds is not ours: a new site is created for client 1.
    assert result.parts[0].counts.created == 1
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        leeds = [s for s in halo.iter_records("Site", {}) if s["name"] == "Leeds"]
    assert sorted(int(s["client_id"]) for s in leeds) == sorted([1, other])


# -- a lost state DB, duplicates ---------------------------------------------------------------


@pytest.fixture
def csv_folder(tmp_path: Path, emulator: Emulator) -> Callable[..., Settings]:
    def make(name: str = "settings", **options: Any) -> Settings:
        settings = Settings.new(tmp_path / name / "appsettings.json", connection_for(emulator))
        merged = {"path": "users.csv", **options}
        settings.modules.append(ModuleSettings(name="csv", options=merged))
        save_settings(settings)
        return load_settings(settings.folder)

    return make


def lose_state(settings: Settings) -> None:
    for path in settings.folder.glob(STATE_FILE_NAME + "*"):
        path.unlink()


def active_csv_users(emulator: Emulator) -> set[str]:
    return {
        u["emailaddress"]
        for u in halo_users(emulator)
        if str(u.get("emailaddress", "")).endswith("@example.com") and not u.get("inactive")
    }


def test_after_a_lost_state_db_the_leavers_are_still_deactivated(
    emulator: Emulator, csv_folder: Callable[..., Settings]
) -> None:
    settings = csv_folder(max_deactivate_percent=30)
    rows = user_rows(100)
    write_csv(settings.folder / "users.csv", rows)
    assert run(settings).counts.created == 100
    write_csv(settings.folder / "users.csv", rows[21:])  # 21 leave
    lose_state(settings)
    result = run(settings)
    assert result.outcome is Outcome.SUCCEEDED
    assert (result.counts.deactivated, result.counts.created) == (21, 0)
    assert active_csv_users(emulator) == {r["emailaddress"] for r in rows[21:]}
    again = run(settings)
    assert (again.counts.deactivated, again.counts.unchanged) == (0, 79)


def test_after_a_lost_state_db_the_guard_still_measures_against_halo(
    emulator: Emulator, csv_folder: Callable[..., Settings]
) -> None:
    settings = csv_folder()
    rows = user_rows(100)
    write_csv(settings.folder / "users.csv", rows)
    run(settings)
    write_csv(settings.folder / "users.csv", rows[21:])
    lose_state(settings)
    refused = run(settings)
    assert refused.outcome is Outcome.REFUSED and "21 of 100" in (refused.error or "")
    assert len(active_csv_users(emulator)) == 100
    released = run(settings, allow_mass_deactivation=True)
    assert released.counts.deactivated == 21


def test_records_of_another_instance_or_made_by_hand_are_never_retired_as_orphans(
    emulator: Emulator, csv_folder: Callable[..., Settings]
) -> None:
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        halo.post_batch("Users", [{"name": "By hand", "emailaddress": "hand@example.com"}])
    other = csv_folder("other")
    write_csv(other.folder / "users.csv", user_rows(3, start=50))
    other.modules[0] = ModuleSettings(name="hr", type="csv", options={"path": "users.csv"})
    save_settings(other)
    run(load_settings(other.folder))
    settings = csv_folder()
    write_csv(settings.folder / "users.csv", user_rows(3))
    result = run(settings)
    assert (result.counts.created, result.counts.deactivated) == (3, 0)
    assert "hand@example.com" in active_csv_users(emulator)
    assert len(active_csv_users(emulator)) == 7


def test_two_halo_records_with_one_key_are_reported_not_picked(
    emulator: Emulator, csv_folder: Callable[..., Settings]
) -> None:
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        twins = [{"name": "Twin", "emailaddress": "user1@example.com"}] * 2
        halo.post_batch("Users", twins)
    settings = csv_folder()
    write_csv(settings.folder / "users.csv", user_rows(2))
    result = run(settings)
    assert (result.counts.created, result.counts.failed) == (1, 1)
    [failure] = result.parts[0].failures
    assert failure.key == "user1@example.com"
    assert "2 Halo Users records" in failure.message and "same emailaddress" in failure.message
    twins_now = [u for u in halo_users(emulator) if u["emailaddress"] == "user1@example.com"]
    assert len(twins_now) == 2 and all(u["name"] == "Twin" for u in twins_now)


@pytest.mark.slow
def test_two_folders_racing_on_one_source_have_their_twins_reported(
    emulator: Emulator, csv_folder: Callable[..., Settings]
) -> None:
    """Two settings folders (two jump boxes) sync one CSV at once, each with its own "csv"
    instance: both create, and the next run of each names every twin instead of calling
    them unchanged."""
    folders = [csv_folder("box-a"), csv_folder("box-b")]
    rows = user_rows(30)
    for settings in folders:
        write_csv(settings.folder / "users.csv", rows)
    emulator.set_faults(latency_ms=300)
    command = str(Path(sys.executable).with_name("halo-integrator"))
    syncs = [
        subprocess.Popen(
            [command, "sync", "--settings", str(settings.folder)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for settings in folders
    ]
    outputs = [sync.communicate(timeout=120) for sync in syncs]
    assert [sync.returncode for sync in syncs] == [0, 0], outputs
    emulator.set_faults(latency_ms=0)
    made = [u for u in halo_users(emulator) if u["emailaddress"].endswith("@example.com")]
    assert len(made) == 60  # the race itself: both saw an empty Halo
    for settings in folders:
        result = run(load_settings(settings.folder))
        assert result.counts.failed == 30, result.summary()
        assert all("both stand for this key" in f.message for f in result.parts[0].failures)
        assert all(
            "another Halo Integrator instance" in f.message for f in result.parts[0].failures
        )
    reported = [e for e in integration_errors(emulator) if "both stand for this key" in str(e)]
    assert len(reported) == 60


def integration_errors(emulator: Emulator) -> list[dict[str, Any]]:
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        body = halo.get("IntegrationError")
    return body if isinstance(body, list) else body["integrationerrors"]


def test_an_instance_takes_over_the_records_of_the_one_it_names(
    emulator: Emulator, folder: Settings
) -> None:
    users = [user(n) for n in range(1, 4)]
    ad = ModuleSettings(name="ad", type="test-delta", options={"users": users})
    entra = ModuleSettings(
        name="entra", type="test-delta", options={"users": users, "take_over": ["ad"]}
    )
    other = ModuleSettings(name="other", type="test-delta", options={"users": users})
    folder.modules[:] = [ad, entra, other]
    save_settings(folder)
    settings = load_settings(folder.folder)
    runner = Runner(settings, client_factory=lambda: HaloClient(settings.halo, retry=FAST_RETRY))
    first_ad, first_entra, first_other = runner.run()
    assert first_ad.counts.created == 3
    assert first_entra.counts.created == 0 and first_entra.counts.failed == 0
    assert first_other.counts.failed == 3  # not named: the records are not its to take
    owners = StateStore(settings.folder).owners("Users", [u["id"] for u in halo_users(emulator)])
    assert {module for module, _ in owners.values()} == {"entra"}
    assert len(by_email(emulator)) == 3
