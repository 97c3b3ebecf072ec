"""The ``lansweeper`` module against a real PostgreSQL holding Lansweeper's tables, and the
emulator: assets created with their type and site, changes, removals and inactive states,
incomplete scans reported, incremental runs reading only changed rows, Halo-held settings
on Control, and database failures in one sentence."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any

import pytest
from servers import postgres as pg

from core.halo.client import HaloClient
from core.outcomes import Outcome
from core.run.request import RunRequest
from core.run.runner import ModuleRunResult, Runner
from core.settings.model import ModuleSettings, Settings
from core.settings.reader import load_settings
from core.settings.secrets import Secret
from core.settings.writer import save_settings
from halo_emulator import Emulator

from .conftest import FAST_RETRY, connection_for

WINDOWS, LINUX, MONITOR = -1, 11, 66


def add_assets(server: pg.Postgres, database: str, assets: list[dict[str, Any]]) -> None:
    rows = [pg.asset_row(asset) for asset in assets]
    columns = list(rows[0])
    server.copy_rows(database, "tblAssets", columns, [[row[c] for c in columns] for row in rows])
    custom = [
        (a["AssetID"], a.get("Manufacturer"), a.get("Model"), a.get("Serialnumber"), a["State"])
        for a in assets
        if "State" in a
    ]
    if custom:
        server.copy_rows(
            database,
            "tblAssetCustom",
            ["AssetID", "Manufacturer", "Model", "Serialnumber", "State"],
            custom,
        )


def halo_assets(emulator: Emulator) -> dict[int, dict[str, Any]]:
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        assets = halo.iter_records("Asset", {"includeinactive": "true"}, page_size=500)
        return {int(a["lansweeper_id"]): a for a in assets if a.get("lansweeper_id")}


def make_folder(tmp_path: Path, emulator: Emulator, **options: Any) -> Settings:
    settings = Settings.new(tmp_path / "Halo" / "appsettings.json", connection_for(emulator))
    settings.modules[:] = [ModuleSettings(name="lansweeper", type="lansweeper", options=options)]
    save_settings(settings)
    return load_settings(settings.folder)


def run(settings: Settings, **flags: Any) -> ModuleRunResult:
    runner = Runner(settings, client_factory=lambda: HaloClient(settings.halo, retry=FAST_RETRY))
    [result] = runner.run(RunRequest(**flags))
    return result


@pytest.fixture
def halo_types(emulator: Emulator) -> dict[str, int]:
    """Halo asset types: "Windows Workstation" (mapped by id) and "Linux" (found by name)."""
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        saved = halo.post_batch("AssetType", [{"name": "Windows Workstation"}, {"name": "Linux"}])
    return {item["name"]: item["id"] for item in saved}


@pytest.fixture
def leeds_site(emulator: Emulator) -> int:
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        [site] = halo.post_batch("Site", [{"name": "Leeds", "client_id": 1}])
    return int(site["id"])


def lansweeper_options(
    postgres: pg.Postgres, database: str, halo_types: dict[str, int], **extra: Any
) -> dict[str, Any]:
    return {
        "database_url": Secret(postgres.url(database)),
        "asset_type_map": {"Windows": halo_types["Windows Workstation"]},
        "stale_after_days": 30,
        **extra,
    }


FLEET = [
    {"AssetID": 1, "AssetName": "LON-PC1", "AssetType": WINDOWS, "IPAddress": "10.1.0.5",
     "Serialnumber": "SN-0001", "Model": "T14", "State": 1},
    {"AssetID": 2, "AssetName": "LDS-PC2", "AssetType": WINDOWS, "IPAddress": "10.2.7.9",
     "Serialnumber": "To be filled by O.E.M.", "State": 1},
    {"AssetID": 3, "AssetName": "LDS-WEB", "AssetType": LINUX, "IPAddress": "10.2.0.20",
     "Serialnumber": "SN-0003", "State": 1},
    {"AssetID": 4, "AssetName": None, "AssetType": WINDOWS},  # a half-finished scan
    {"AssetID": 5, "AssetName": "MYSTERY", "AssetType": None},
    {"AssetID": 6, "AssetName": "OLD-PC", "AssetType": WINDOWS, "Lastseen": "2025-01-02 10:00:00",
     "State": 1},
    {"AssetID": 7, "AssetName": "MON-1", "AssetType": MONITOR},  # Halo has no monitor type
]  # fmt: skip


def test_assets_are_created_with_their_type_and_site_and_bad_scans_are_reported(
    emulator: Emulator,
    postgres: pg.Postgres,
    lansweeper_db: str,
    halo_types: dict[str, int],
    leeds_site: int,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    add_assets(postgres, lansweeper_db, FLEET)
    rules = [{"ip_range": "10.2.0.0/16", "site_id": leeds_site}]
    settings = make_folder(
        tmp_path,
        emulator,
        **lansweeper_options(postgres, lansweeper_db, halo_types, placement=rules),
    )
    with caplog.at_level(logging.WARNING):
        result = run(settings)
    # Record failures do not fail the run; they are listed in it (and in Halo's last error).
    assert result.outcome is Outcome.SUCCEEDED, result.error
    assert result.counts.created == 4 and result.counts.failed == 3
    problems = {failure.key: failure.message for failure in result.failures}
    assert problems["4"] == "incomplete scan data: no AssetName"
    assert problems["5"] == "incomplete scan data: no asset type"
    assert "no Halo asset type for Lansweeper's 'Monitor'" in problems["7"]
    assets = halo_assets(emulator)
    assert set(assets) == {1, 2, 3, 6}
    assert assets[1]["assettype_id"] == halo_types["Windows Workstation"]  # mapped
    assert assets[3]["assettype_id"] == halo_types["Linux"]  # found by name in Halo
    assert (assets[1]["site_id"], assets[2]["site_id"], assets[3]["site_id"]) == (
        1,
        leeds_site,
        leeds_site,
    )
    assert (assets[1]["inventory_number"], assets[1]["key_field"]) == ("LON-PC1", "SN-0001")
    assert assets[2]["key_field"] == ""  # a placeholder serial is no serial
    assert "OLD-PC (last seen 2025-01-02)" in caplog.text
    assert "1 assets not seen by Lansweeper for 30 days" in caplog.text


def test_incremental_runs_read_changed_rows_and_removals_turn_inactive(
    emulator: Emulator,
    postgres: pg.Postgres,
    lansweeper_db: str,
    halo_types: dict[str, int],
    tmp_path: Path,
) -> None:
    # Scanned over the day before: one asset every ten minutes, the last at 06:40.
    fleet = [
        {"AssetID": n, "AssetName": f"PC{n:03d}", "AssetType": WINDOWS, "Serialnumber": f"S{n}",
         "State": 1, "Lastchanged": f"2026-11-29 {n * 10 // 60:02d}:{n * 10 % 60:02d}:00"}
        for n in range(1, 41)
    ]  # fmt: skip
    add_assets(postgres, lansweeper_db, fleet)
    settings = make_folder(
        tmp_path, emulator, **lansweeper_options(postgres, lansweeper_db, halo_types)
    )
    first = run(settings)
    assert first.outcome is Outcome.SUCCEEDED, first.error
    assert first.counts.created == 40
    # Nothing changed in Lansweeper: only the rows within five minutes of the mark (the
    # overlap for late commits: PC040) are read again, besides the ids; nothing is sent.
    quiet = run(settings)
    assert quiet.outcome is Outcome.SUCCEEDED, quiet.error
    assert (quiet.counts.created, quiet.counts.updated, quiet.counts.unchanged) == (0, 0, 1)
    # A rescan changes one asset's name, one is retired (State 2), one is deleted.
    postgres.sql(
        """UPDATE "tblAssets" SET "AssetName" = 'PC001-RENAMED', "Lastchanged" = '2026-11-30 10:00'
             WHERE "AssetID" = 1;
           UPDATE "tblAssetCustom" SET "State" = 2, "Lastchanged" = '2026-11-30 10:00'
             WHERE "AssetID" = 2;
           DELETE FROM "tblAssets" WHERE "AssetID" = 3;""",
        database=lansweeper_db,
    )
    delta = run(settings)
    assert delta.outcome is Outcome.SUCCEEDED, delta.error
    # Only the two changed rows (and PC040 in the overlap) were read; the deletion came
    # from the ids.
    assert (delta.counts.updated, delta.counts.unchanged, delta.counts.deactivated) == (2, 1, 1)
    assets = halo_assets(emulator)
    assert assets[1]["inventory_number"] == "PC001-RENAMED"
    assert assets[2]["inactive"] is True and assets[3]["inactive"] is True
    assert assets[4]["inactive"] is False
    assert len(assets) == 40  # inactive, never deleted


def test_existing_halo_assets_are_matched_by_lansweeper_id_then_serial_then_name(
    emulator: Emulator,
    postgres: pg.Postgres,
    lansweeper_db: str,
    halo_types: dict[str, int],
    tmp_path: Path,
) -> None:
    windows = halo_types["Windows Workstation"]
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        before = halo.post_batch(
            "Asset",
            [
                {"inventory_number": "OLDNAME-1", "lansweeper_id": 1, "assettype_id": windows},
                {"inventory_number": "OLDNAME-2", "key_field": "SER-2", "assettype_id": windows},
                {"inventory_number": "PC3", "assettype_id": windows},
            ],
        )
    add_assets(
        postgres,
        lansweeper_db,
        [
            {"AssetID": 1, "AssetName": "PC1", "AssetType": WINDOWS, "State": 1},
            {"AssetID": 2, "AssetName": "PC2", "AssetType": WINDOWS, "Serialnumber": "SER-2",
             "State": 1},
            {"AssetID": 3, "AssetName": "PC3", "AssetType": WINDOWS, "State": 1},
        ],
    )  # fmt: skip
    settings = make_folder(
        tmp_path, emulator, **lansweeper_options(postgres, lansweeper_db, halo_types)
    )
    result = run(settings)
    assert result.outcome is Outcome.SUCCEEDED, result.error
    assert (result.counts.created, result.counts.updated) == (0, 3)
    assets = halo_assets(emulator)
    assert [assets[n]["id"] for n in (1, 2, 3)] == [record["id"] for record in before]
    assert assets[2]["inventory_number"] == "PC2"


def test_settings_kept_on_halos_control_record_are_used_and_reported_on(
    emulator: Emulator,
    postgres: pg.Postgres,
    lansweeper_db: str,
    halo_types: dict[str, int],
    tmp_path: Path,
) -> None:
    add_assets(postgres, lansweeper_db, FLEET[:1])
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        halo.post_batch(
            "Control",
            [
                {
                    "lansweeper_sqlserver": f"127.0.0.1:{postgres.port}",
                    "lansweeper_sqldatabase": lansweeper_db,
                    "lansweeper_sqlusername": pg.READER,
                }
            ],
        )
    local = {
        "driver": "postgresql+psycopg",
        "password": Secret(pg.READER_PASSWORD),  # Halo never holds it
        "asset_type_map": {"Windows": halo_types["Windows Workstation"]},
    }
    settings = make_folder(tmp_path, emulator, **local)
    result = run(settings)
    assert result.outcome is Outcome.SUCCEEDED, result.error
    assert result.counts.created == 1
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        control = halo.get("Control")
        assert control.get("halointegrator_lansweeper_lastsync")
        assert not control.get("halointegrator_lansweeper_lasterror")
        # Switched off for the integrator in Halo: the run does not happen.
        halo.post_batch("Control", [{"halointegrator_lansweeper": False}])
    refused = run(settings)
    assert refused.outcome is Outcome.FAILED
    assert "is not enabled for the Halo Integrator in Halo" in str(refused.error)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("wrong-password", "Login failed at postgresql+psycopg://reader@127.0.0.1:"),
        ("missing-database", "does not exist or this login cannot open it"),
        ("closed-port", "Cannot reach the database server at postgresql+psycopg://reader@"),
        ("sql-server", "Cannot reach the database server at mssql+pymssql://reader@127.0.0.1:"),
        ("odbc", "The database driver for mssql+pyodbc is not installed (pyodbc)"),
    ],
)
def test_database_failures_are_one_sentence_without_the_password(
    emulator: Emulator,
    postgres: pg.Postgres,
    lansweeper_db: str,
    tmp_path: Path,
    url: str,
    expected: str,
) -> None:
    urls = {
        "wrong-password": postgres.url(lansweeper_db, password="not-the-Pa55word"),
        "missing-database": postgres.url("no_such_db"),
        "closed-port": f"postgresql+psycopg://reader:the-Pa55word-x@127.0.0.1:{pg.free_port()}/db",
        "sql-server": f"mssql+pymssql://reader:the-Pa55word-x@127.0.0.1:{pg.free_port()}/lsdb",
        "odbc": "mssql+pyodbc://reader:the-Pa55word-x@sql01/lsdb?driver=ODBC+Driver+18",
    }
    if url == "odbc" and importlib.util.find_spec("pyodbc"):
        expected = "The ODBC driver named in the URL is not installed"  # pyodbc, no driver
    settings = make_folder(tmp_path, emulator, database_url=Secret(urls[url]), timeout_seconds=5)
    result = run(settings)
    assert result.outcome is Outcome.FAILED
    message = str(result.error)
    assert expected in message, message
    passwords = ("Pa55word", pg.READER_PASSWORD)
    assert not any(word in message for word in passwords) and "Traceback" not in message
    assert len(message.splitlines()) <= 2  # the sentence and its hint
    logs = "".join(path.read_text() for path in (settings.folder / "logs").glob("*.log"))
    assert not any(word in logs for word in passwords)
