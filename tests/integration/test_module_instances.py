"""Named module instances, AUTO --due and source checks, as an admin drives them: real processes
against the emulator."""

from __future__ import annotations

import json
from pathlib import Path

from halo_emulator import Emulator

from .conftest import connection_for, halo_users, user_rows, write_csv
from .test_cli import cli, configure


def asset_rows(count: int) -> list[dict[str, object]]:
    return [
        {"inventory_number": f"PC-{n:04d}", "key_field": f"Laptop {n}", "assettype_id": 1}
        for n in range(1, count + 1)
    ]


def two_instance_folder(tmp_path: Path, emulator: Emulator) -> Path:
    """One settings file: a users CSV every 5 minutes and an assets CSV nightly."""
    folder = tmp_path / "Halo"
    assert configure(folder, emulator).returncode == 0
    write_csv(folder / "users.csv", user_rows(6))
    write_csv(folder / "assets.csv", asset_rows(4))
    for name, target, interval in (("hr-users", "users", "5m"), ("inventory", "assets", "1d")):
        enabled = cli(
            "module", "enable", "csv", "--name", name, "--settings", str(folder),
            "--interval", interval, "--set", f"path={target}.csv", "--set", f"target={target}",
        )  # fmt: skip
        assert enabled.returncode == 0, enabled.stderr
    return folder


def halo_assets(emulator: Emulator) -> list[dict[str, object]]:
    from core.halo.client import HaloClient

    with HaloClient(connection_for(emulator)) as halo:
        return list(halo.iter_records("Asset", {"includeinactive": "true"}))


def test_two_csv_instances_sync_in_one_auto_run_and_show_separately(
    tmp_path: Path, emulator: Emulator
) -> None:
    folder = two_instance_folder(tmp_path, emulator)
    document = json.loads((folder / "appsettings.json").read_text())
    assert [(m["Name"], m["Type"]) for m in document["Modules"]] == [
        ("hr-users", "csv"),
        ("inventory", "csv"),
    ]
    run = cli("AUTO", str(folder))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "hr-users: succeeded: 6 created" in run.stdout
    assert "inventory: succeeded: 4 created" in run.stdout
    assert (
        len([u for u in halo_users(emulator) if str(u["emailaddress"]).endswith("@example.com")])
        == 6
    )
    tags = [str(a.get("inventory_number", "")) for a in halo_assets(emulator)]
    assert sorted(t for t in tags if t.startswith("PC-")) == [f"PC-{n:04d}" for n in range(1, 5)]

    statuses = {
        s["module"]: s
        for s in json.loads(cli("status", "--json", "--settings", str(folder)).stdout)
    }
    assert set(statuses) == {"hr-users", "inventory"}
    assert statuses["hr-users"]["type"] == statuses["inventory"]["type"] == "csv"
    assert statuses["hr-users"]["last_parts"][0]["entity"] == "Users"
    assert statuses["hr-users"]["last_parts"][0]["created"] == 6
    assert statuses["inventory"]["last_parts"][0]["entity"] == "Asset"
    assert statuses["inventory"]["last_parts"][0]["created"] == 4
    # Each instance has its own run logs and lock.
    assert list((folder / "logs" / "hr-users").glob("hr-users-*.log"))
    assert list((folder / "logs" / "inventory").glob("inventory-*.log"))


def test_auto_due_twice_in_a_row_runs_nothing_the_second_time(
    tmp_path: Path, emulator: Emulator
) -> None:
    folder = two_instance_folder(tmp_path, emulator)
    first = cli("AUTO", "--due", str(folder))
    assert first.returncode == 0 and "hr-users: succeeded" in first.stdout
    emulator.reset_stats()
    second = cli("AUTO", "--due", str(folder))
    assert second.returncode == 0, second.stdout + second.stderr
    assert "hr-users: not-due" in second.stdout and "inventory: not-due" in second.stdout
    assert emulator.stats()["total"] == 0  # not even a token
    statuses = json.loads(cli("status", "--json", "--settings", str(folder)).stdout)
    assert all(status["next_due_at"] for status in statuses)
    table = cli("status", "--settings", str(folder)).stdout
    assert "NEXT DUE" in table

    # Plain AUTO keeps Halo's meaning: every enabled module, once, due or not.
    again = cli("AUTO", str(folder))
    assert "hr-users: succeeded: 0 created, 0 updated, 6 unchanged" in again.stdout


def test_validate_checks_every_source_and_names_the_broken_module(
    tmp_path: Path, emulator: Emulator
) -> None:
    folder = two_instance_folder(tmp_path, emulator)
    good = cli("validate", "--settings", str(folder))
    assert good.returncode == 0, good.stdout
    assert "OK      inventory (csv): assets.csv is readable: 4 rows" in good.stdout
    (folder / "assets.csv").unlink()
    bad = cli("validate", "--settings", str(folder))
    assert bad.returncode == 1
    lines = bad.stdout.splitlines()
    assert lines[0].startswith("OK      Halo:")
    assert lines[1].startswith("OK      hr-users (csv)")
    assert lines[2].startswith("FAILED  inventory (csv):") and "does not exist" in lines[2]
    assert "Check path" in lines[2]


def test_module_remove_and_show_and_help(tmp_path: Path, emulator: Emulator) -> None:
    folder = two_instance_folder(tmp_path, emulator)
    assert cli("AUTO", str(folder)).returncode == 0
    shown = cli("module", "show", "inventory", "--settings", str(folder))
    assert "inventory (csv): enabled, every 1d" in shown.stdout
    assert "shared Halo record" in shown.stdout  # csv reports on Control: say so
    wrong_type = cli("module", "enable", "csv", "--name", "bad name!", "--settings", str(folder))
    assert wrong_type.returncode == 2 and "not a module name" in wrong_type.stderr
    removed = cli("module", "remove", "inventory", "--settings", str(folder))
    assert removed.returncode == 0, removed.stderr
    names = [m["Name"] for m in json.loads((folder / "appsettings.json").read_text())["Modules"]]
    assert names == ["hr-users"]
    statuses = json.loads(cli("status", "--json", "--settings", str(folder)).stdout)
    assert [status["module"] for status in statuses] == ["hr-users"]
    helped = cli("module", "--help")
    for action in ("enable", "disable", "show", "remove"):
        assert action in helped.stdout


def test_a_name_given_twice_in_any_case_is_refused_with_its_line(
    tmp_path: Path, emulator: Emulator
) -> None:
    folder = two_instance_folder(tmp_path, emulator)
    path = folder / "appsettings.json"
    document = json.loads(path.read_text())
    document["Modules"][1]["Name"] = "HR-Users"
    path.write_text(json.dumps(document, indent=2))
    before = path.read_bytes()
    run = cli("AUTO", str(folder))
    assert run.returncode == 2
    assert "Modules[1].Name" in run.stderr and "listed twice" in run.stderr
    assert path.read_bytes() == before
