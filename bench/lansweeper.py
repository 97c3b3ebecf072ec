"""Benchmark: N Lansweeper assets from a real PostgreSQL into the Halo emulator, then 1 % changed.

The product's path (``Runner`` over the ``lansweeper`` module, SQLAlchemy, ``HaloClient``)
against a throwaway PostgreSQL cluster holding Lansweeper's tables, beside a naive
per-record client measured in the same run: it reads every asset on every run and, per
asset, searches Halo for it and POSTs it (create or update): two requests per asset. The
naive client runs on ``--naive-assets`` (default 1,000) and is scaled linearly to N, and
labelled so. Printed per run: rows read, Halo requests, wall time, and the least time those
requests take under hosted Halo's 300 requests per rolling 5 minutes.

    .venv/bin/python bench/lansweeper.py                  # 50,000 assets, a few minutes
    .venv/bin/python bench/lansweeper.py --assets 5000    # quick check
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from servers import postgres as pg

from core.halo.client import HaloClient
from core.run.runner import Runner
from core.settings.model import HaloConnection, ModuleSettings, Settings
from core.settings.reader import load_settings
from core.settings.secrets import Secret
from core.settings.writer import save_settings
from core.sources import sql_database
from halo_emulator import Emulator

SECRET = "bench-secret-lansweeper-01"
HOSTED_PER_WINDOW, WINDOW_SECONDS = 300, 300
DATABASE = "lansweeperdb"
SCANS_FROM = dt.datetime(2026, 11, 1)


class RowCounter:
    """Counts the rows the module reads (instrumentation of ``SqlDatabase.rows``)."""

    def __init__(self) -> None:
        self.rows = 0
        self.id_rows = 0  # rows of one column: the ids-only listing that finds deletions
        original = sql_database.SqlDatabase.rows
        counter = self

        def counted(self: Any, *args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
            for row in original(self, *args, **kwargs):
                counter.rows += 1
                counter.id_rows += len(row) == 1
                yield row

        sql_database.SqlDatabase.rows = counted  # type: ignore[method-assign]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--assets", type=int, default=50_000)
    parser.add_argument("--changed-percent", type=float, default=1.0)
    parser.add_argument("--naive-assets", type=int, default=1_000)
    args = parser.parse_args()
    counter = RowCounter()
    with (
        tempfile.TemporaryDirectory() as root,
        pg.Postgres() as server,
        Emulator(client_secret=SECRET, rate_limit=None) as emu,
    ):
        server.create_database(DATABASE, pg.LANSWEEPER_SCHEMA)
        fill(server, args.assets)
        settings = settings_folder(Path(root) / "Halo", emu, server)
        runner = Runner(settings, client_factory=lambda: HaloClient(settings.halo))
        print(f"{args.assets:,} Lansweeper assets (PostgreSQL {server.port}), Halo emulator")
        print(f"{'run':44} {'rows read':>10} {'requests':>9} {'wall':>8} {'hosted ≥':>10}")
        full = measure("agent, full run", runner, emu, counter)
        changed = change(server, args.changed_percent)
        delta = measure(f"agent, incremental ({changed:,} changed)", runner, emu, counter)
        naive_n = min(args.naive_assets, args.assets)
        scale = args.assets / naive_n
        with Emulator(client_secret=SECRET, rate_limit=None) as naive_emu:
            first = naive(server, naive_emu, naive_n, "naive, full run", scale)
            again = naive(server, naive_emu, naive_n, "naive, next run (any change)", scale)
        print()
        for label, ours, theirs in (("full", full, first), ("incremental", delta, again)):
            print(
                f"naive / agent, {label}: requests {theirs[1] / max(ours[1], 1):,.0f}×, "
                f"rows read {theirs[0] / max(ours[0], 1):,.1f}×, "
                f"hosted time {theirs[3] / max(ours[3], 1):,.0f}×"
            )
    return 0


def fill(server: pg.Postgres, count: int) -> None:
    types = [-1, -1, -1, 11, 16]
    assets = []
    for n in range(1, count + 1):
        asset = pg.asset_row(
            {
                "AssetID": n,
                "AssetName": f"PC{n:06d}",
                "AssetType": types[n % len(types)],
                "IPAddress": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}",
                # Scans spread over the month: one every 30 s.
                "Lastchanged": f"{SCANS_FROM + dt.timedelta(seconds=30 * n):%Y-%m-%d %H:%M:%S}",
            }
        )
        assets.append(list(asset.values()))
    server.copy_rows(DATABASE, "tblAssets", list(pg.asset_row({"AssetID": 0})), assets)
    custom = [(n, "Lenovo", "T14", f"SN{n:08d}", 1) for n in range(1, count + 1)]
    columns = ["AssetID", "Manufacturer", "Model", "Serialnumber", "State"]
    server.copy_rows(DATABASE, "tblAssetCustom", columns, custom)


def change(server: pg.Postgres, percent: float) -> int:
    every = max(1, round(100 / percent))  # a number: nothing to inject
    server.sql(
        f"""UPDATE "tblAssetCustom"
            SET "Serialnumber" = 'R' || "Serialnumber", "Lastchanged" = '2026-12-30 12:00'
            WHERE "AssetID" % {every} = 0""",  # noqa: S608
        database=DATABASE,
    )
    return int(
        server.sql(f'SELECT count(*) FROM "tblAssets" WHERE "AssetID" % {every} = 0', DATABASE)  # noqa: S608
    )


def hosted_seconds(requests: int, wall: float) -> float:
    return max(wall, math.floor((requests - 1) / HOSTED_PER_WINDOW) * WINDOW_SECONDS)


def report(label: str, rows: float, requests: float, wall: float) -> tuple[float, ...]:
    hosted = hosted_seconds(int(requests), wall)
    print(f"{label:44} {rows:>10,.0f} {requests:>9,.0f} {wall:>7.1f}s {hosted / 60:>8.1f}min")
    return rows, requests, wall, hosted


def measure(label: str, runner: Runner, emu: Emulator, counter: RowCounter) -> tuple[float, ...]:
    emu.reset_stats()
    counter.rows = counter.id_rows = 0
    started = time.monotonic()
    [result] = runner.run()
    wall = time.monotonic() - started
    if not result.outcome.ok:
        raise SystemExit(f"{label}: {result.outcome}: {result.error}")
    figures = report(f"{label}", counter.rows, emu.stats()["total"], wall)
    if counter.id_rows:
        whole = counter.rows - counter.id_rows
        print(f"{'':4}of the rows: {whole:,} whole assets, {counter.id_rows:,} ids only")
    return figures


def naive(
    server: pg.Postgres, emu: Emulator, count: int, label: str, scale: float
) -> tuple[float, ...]:
    """What a hand-written sync does: every row, a search and a POST each."""
    from sqlalchemy import create_engine, text

    engine = create_engine(server.url(DATABASE))
    # Unpaced (the emulator runs without its limiter): the naive figure is its requests.
    connection = HaloConnection(
        url=emu.base_url,
        client_id=emu.client_id,
        client_secret=Secret(SECRET),
        requests_per_window=1_000_000,
    )
    emu.reset_stats()
    started = time.monotonic()
    rows = 0
    with engine.connect() as db, HaloClient(connection) as halo:
        query = text(
            'SELECT a."AssetID", a."AssetName", c."Serialnumber" FROM "tblAssets" a '
            'LEFT JOIN "tblAssetCustom" c ON c."AssetID" = a."AssetID" '
            'ORDER BY a."AssetID" LIMIT :n'
        )
        for row in db.execute(query, {"n": count}).mappings():
            rows += 1
            found = halo.get("Asset", {"search": row["AssetName"]})
            existing = (found.get("assets") or []) if isinstance(found, dict) else []
            record = {
                "inventory_number": row["AssetName"],
                "key_field": row["Serialnumber"],
                "lansweeper_id": row["AssetID"],
                "assettype_id": 1,
            }
            if existing:
                record["id"] = existing[0]["id"]
            halo.post_batch("Asset", [record])
    wall = time.monotonic() - started
    engine.dispose()
    requests = emu.stats()["total"]
    return report(
        f"{label}, ×{scale:,.0f} from {count:,}", rows * scale, requests * scale, wall * scale
    )


def settings_folder(folder: Path, emu: Emulator, server: pg.Postgres) -> Settings:
    connection = HaloConnection(
        url=emu.base_url,
        client_id=emu.client_id,
        client_secret=Secret(SECRET),
        requests_per_window=1_000_000,
    )
    settings = Settings.new(folder / "appsettings.json", connection)
    options = {"database_url": Secret(server.url(DATABASE)), "default_assettype_id": 1}
    settings.modules.append(ModuleSettings(name="lansweeper", type="lansweeper", options=options))
    save_settings(settings)
    return load_settings(settings.folder)


if __name__ == "__main__":
    sys.exit(main())
