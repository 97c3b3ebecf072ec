"""The csv module end to end through the runner: matching, change detection, deactivation,
the mass-deactivation guard, dry run, per-record failures and status reporting."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from core.halo.client import HaloClient
from core.outcomes import Outcome
from core.run.request import RunRequest
from core.run.runner import Runner
from core.settings.model import Settings
from core.state.store import StateStore
from halo_emulator import Emulator

from .conftest import FAST_RETRY, connection_for, halo_users, user_rows, write_csv

MakeSettings = Callable[..., Settings]


def runner_for(settings: Settings) -> Runner:
    return Runner(settings, client_factory=lambda: HaloClient(settings.halo, retry=FAST_RETRY))


def imported(emu: Emulator) -> dict[str, dict]:
    return {
        u["emailaddress"]: u
        for u in halo_users(emu)
        if u.get("emailaddress", "").endswith("@example.com")
    }


def test_first_run_creates_and_second_run_sends_nothing(
    emulator: Emulator, make_settings: MakeSettings
) -> None:
    settings = make_settings()
    write_csv(settings.folder / "users.csv", user_rows(150))
    [first] = runner_for(settings).run()
    assert (first.outcome, first.counts.created) == ("succeeded", 150)
    assert len(imported(emulator)) == 150
    assert emulator.stats()["by_endpoint"]["POST /api/users"] == 2  # batches of 100
    assert emulator.stats()["bare_object_posts"] == 0  # always Halo's documented arrays

    emulator.reset_stats()
    [second] = runner_for(settings).run()
    assert (second.counts.created, second.counts.updated, second.counts.unchanged) == (0, 0, 150)
    assert "POST /api/users" not in emulator.stats()["by_endpoint"]


def test_a_changed_row_is_updated_and_a_vanished_row_deactivated(
    emulator: Emulator, make_settings: MakeSettings
) -> None:
    settings = make_settings()
    rows = user_rows(60)
    write_csv(settings.folder / "users.csv", rows)
    runner_for(settings).run()

    rows[0]["department"] = "Finance"
    write_csv(settings.folder / "users.csv", rows[:-1])
    [result] = runner_for(settings).run()
    assert (result.counts.updated, result.counts.deactivated, result.counts.unchanged) == (1, 1, 58)
    users = imported(emulator)
    assert users["user1@example.com"]["department"] == "Finance"
    assert users["user60@example.com"]["inactive"] is True

    write_csv(settings.folder / "users.csv", rows)  # the user comes back
    [again] = runner_for(settings).run()
    assert again.counts.updated == 1
    assert imported(emulator)["user60@example.com"]["inactive"] is False


def test_mass_deactivation_is_refused_and_nothing_is_deactivated(
    emulator: Emulator, make_settings: MakeSettings
) -> None:
    settings = make_settings(max_deactivate_percent=10)
    rows = user_rows(100)
    write_csv(settings.folder / "users.csv", rows)
    runner_for(settings).run()

    write_csv(settings.folder / "users.csv", rows[:40])  # an export cut short
    [result] = runner_for(settings).run()
    assert result.outcome is Outcome.REFUSED and not result.ok
    assert "Refused to deactivate 60 of 100" in (result.error or "")
    assert not any(u.get("inactive") for u in imported(emulator).values())
    # What "allow once" would deactivate is kept, in the result and in the state DB.
    [part] = result.parts
    assert sorted(part.withheld) == sorted(row["emailaddress"] for row in rows[40:])
    [detail] = json.loads(str(StateStore(settings.folder).recent_runs("csv", 1)[0]["details"]))
    assert detail["withheld"] == 60 and len(detail["withheld_keys"]) == 10
    assert set(detail["withheld_keys"]) <= set(part.withheld)

    [forced] = runner_for(settings).run(RunRequest(allow_mass_deactivation=True))
    assert forced.counts.deactivated == 60


def test_dry_run_writes_nothing(emulator: Emulator, make_settings: MakeSettings) -> None:
    settings = make_settings()
    write_csv(settings.folder / "users.csv", user_rows(30))
    emulator.reset_stats()
    [result] = runner_for(settings).run(RunRequest(dry_run=True))
    assert (result.outcome, result.counts.created) == ("dry-run", 30)
    assert imported(emulator) == {}
    posts = [key for key in emulator.stats()["by_endpoint"] if key.startswith("POST /api")]
    assert posts == []
    state = StateStore(settings.folder)
    assert state.mapped_records("csv", "Users") == {}
    assert state.status("csv") is None


def test_lost_state_db_matches_existing_users_instead_of_duplicating(
    emulator: Emulator, make_settings: MakeSettings
) -> None:
    settings = make_settings()
    write_csv(settings.folder / "users.csv", user_rows(40))
    runner_for(settings).run()
    for leftover in settings.folder.glob("state.db*"):
        leftover.unlink()

    [result] = runner_for(settings).run()
    assert result.counts.created == 0
    assert result.counts.unchanged == 40
    assert len(imported(emulator)) == 40


def test_few_new_users_are_matched_by_search_not_by_listing_everything(
    emulator: Emulator, make_settings: MakeSettings
) -> None:
    settings = make_settings()
    write_csv(settings.folder / "users.csv", user_rows(50))
    runner_for(settings).run()
    # The run after one that created records reads Halo once, whole, to catch twins another
    # agent may have created at the same time (one request for up to 1,000 records).
    emulator.reset_stats()
    runner_for(settings).run()
    assert emulator.stats()["by_endpoint"]["GET /api/users"] == 1
    write_csv(settings.folder / "users.csv", user_rows(53))
    emulator.reset_stats()
    [result] = runner_for(settings).run()
    assert result.counts.created == 3
    assert emulator.stats()["by_endpoint"]["GET /api/users"] == 3  # one search per new user


def test_a_row_halo_refuses_fails_alone_and_is_reported(
    emulator: Emulator, make_settings: MakeSettings
) -> None:
    settings = make_settings()
    rows = user_rows(20)
    rows[7] = {
        "emailaddress": "noname@example.com",
        "firstname": "",
        "surname": "",
        "department": "IT",
    }
    write_csv(settings.folder / "users.csv", rows)
    [result] = runner_for(settings).run()
    assert (result.counts.created, result.counts.failed) == (19, 1)
    assert result.failures[0].key == "noname@example.com"
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        errors = halo.get("IntegrationError")
    listed = errors if isinstance(errors, list) else errors["integrationerrors"]
    assert any("noname@example.com" in str(entry) for entry in listed)


def test_duplicate_keys_in_the_file_are_failures_not_duplicates(
    emulator: Emulator, make_settings: MakeSettings
) -> None:
    settings = make_settings()
    rows = [*user_rows(5), user_rows(1)[0]]
    write_csv(settings.folder / "users.csv", rows)
    [result] = runner_for(settings).run()
    assert (result.counts.created, result.counts.failed) == (5, 1)
    assert "duplicate key" in result.failures[0].message


def test_dropped_create_batch_is_looked_up_before_resending(
    emulator: Emulator, make_settings: MakeSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings()
    write_csv(settings.folder / "users.csv", user_rows(10))
    original_post_batch = HaloClient.post_batch
    calls: list[str] = []

    def drop_first_create(self: HaloClient, entity: str, records: list) -> list:
        calls.append(entity)
        if len(calls) == 1:  # the emulator closes the connection of the first create batch
            emulator.set_faults(drop_next=1)
        return original_post_batch(self, entity, records)

    monkeypatch.setattr(HaloClient, "post_batch", drop_first_create)
    [result] = runner_for(settings).run()
    assert emulator.stats()["dropped"] == 1
    assert result.counts.created == 10
    assert len(imported(emulator)) == 10


def test_last_sync_and_last_error_reach_halo(
    emulator: Emulator, make_settings: MakeSettings
) -> None:
    settings = make_settings()
    write_csv(settings.folder / "users.csv", user_rows(3))
    runner_for(settings).run()
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        control = halo.get("Control")
    assert control["halointegrator_xlsimports_lastsync"]
    assert control["halointegrator_xlsimports_lasterror"] == ""

    (settings.folder / "users.csv").unlink()
    [failed] = runner_for(settings).run()
    assert failed.outcome == "failed"
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        control = halo.get("Control")
    assert "does not exist" in control["halointegrator_xlsimports_lasterror"]
    status = StateStore(settings.folder).status("csv")
    assert status is not None and status.consecutive_failures == 1


def test_recovery_after_a_failure_is_flagged(
    emulator: Emulator, make_settings: MakeSettings
) -> None:
    settings = make_settings()
    [failed] = runner_for(settings).run()  # users.csv does not exist yet
    assert failed.outcome == "failed" and not failed.recovered
    write_csv(settings.folder / "users.csv", user_rows(2))
    [recovered] = runner_for(settings).run()
    assert recovered.outcome == "succeeded" and recovered.recovered


def test_assets_import_with_defaults(emulator: Emulator, make_settings: MakeSettings) -> None:
    settings = make_settings(target="assets", path="assets.csv", assettype_id=2)
    write_csv(
        settings.folder / "assets.csv",
        [{"inventory_number": f"PC-{n:03d}", "key_field": f"host{n}"} for n in range(12)],
    )
    [result] = runner_for(settings).run()
    assert result.counts.created == 12
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        assets = list(halo.iter_records("Asset"))
    created = [a for a in assets if str(a.get("inventory_number", "")).startswith("PC-")]
    assert len(created) == 12 and all(a["assettype_id"] == 2 for a in created)


def test_options_errors_name_the_line_and_field(
    make_settings: MakeSettings, tmp_path: Path
) -> None:
    settings = make_settings(target="printers", max_deactivate_percent="lots")
    from core.errors import ConfigError

    with pytest.raises(ConfigError) as raised:
        runner_for(settings).run()
    message = str(raised.value)
    assert "Modules[0].Options.target" in message and "printers" in message
    assert "Modules[0].Options.max_deactivate_percent" in message
    assert raised.value.line is not None


def test_a_failure_is_reported_to_halo_once_not_every_run(
    emulator: Emulator, make_settings: MakeSettings
) -> None:
    settings = make_settings()
    rows = [
        *user_rows(3),
        {"emailaddress": "noname@example.com", "firstname": "", "surname": "", "department": "IT"},
    ]
    write_csv(settings.folder / "users.csv", rows)
    for _ in range(3):
        [result] = runner_for(settings).run()
        assert result.counts.failed == 1
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        errors = halo.get("IntegrationError")
    listed = errors if isinstance(errors, list) else errors["integrationerrors"]
    assert sum("noname@example.com" in str(entry) for entry in listed) == 1


def test_invalid_options_are_recorded_as_a_failed_run(
    emulator: Emulator, make_settings: MakeSettings
) -> None:
    """So the tray shows red (and notifies) even when AUTO was the one that hit the problem."""
    from core.errors import ConfigError

    settings = make_settings(target="printers")
    with pytest.raises(ConfigError):
        runner_for(settings).run()
    status = StateStore(settings.folder).status("csv")
    assert status is not None and status.consecutive_failures == 1
    assert "printers" in (status.last_error or "") and "line" in (status.last_error or "")


def test_the_batch_size_comes_from_the_settings(
    emulator: Emulator, make_settings: MakeSettings
) -> None:
    settings = make_settings()
    settings.halo.batch_size = 40
    write_csv(settings.folder / "users.csv", user_rows(100))
    [result] = runner_for(settings).run()
    assert result.counts.created == 100
    assert emulator.stats()["by_endpoint"]["POST /api/users"] == 3  # 40 + 40 + 20
