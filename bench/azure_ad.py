"""Benchmark: N Entra ID users over the Graph stand-in into the Halo emulator, then a delta.

The product's path (``Runner`` over the ``azure_ad`` module, its Graph client and
``HaloClient``) against the project's Graph stand-in and Halo emulator on loopback. Printed
for the first (full) run and for a delta run with ``--changed-percent`` of the users changed:
Graph requests, Halo requests by kind, wall time, and the time the Halo requests would take
under hosted Halo's 300 requests per 5 minutes.

    .venv/bin/python bench/azure_ad.py                   # 50,000 users
    .venv/bin/python bench/azure_ad.py --users 2000      # quick check
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

from core.halo.client import HaloClient
from core.run.runner import Runner
from core.settings.model import HaloConnection, ModuleSettings, Settings
from core.settings.reader import load_settings
from core.settings.secrets import Secret
from core.settings.writer import save_settings
from graph_standin import GraphStandIn
from halo_emulator import Emulator

SECRET = "bench-secret-azure-01"
HOSTED_PER_WINDOW, WINDOW_SECONDS = 300, 300


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--changed-percent", type=float, default=1.0)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as root,
        GraphStandIn() as graph,
        Emulator(client_secret=SECRET, rate_limit=None) as emu,
    ):
        users = graph.add_users(args.users, department="IT")
        settings = settings_folder(Path(root) / "Halo", emu, graph)
        runner = Runner(settings, client_factory=lambda: HaloClient(settings.halo))
        print(f"{args.users:,} users")
        measure("full run", runner, emu, graph)
        changed = max(1, math.ceil(args.users * args.changed_percent / 100))
        for user in users[:changed]:
            graph.update_user(user["id"], jobTitle="Changed")
        measure(f"delta, {changed:,} changed", runner, emu, graph)
    return 0


def measure(label: str, runner: Runner, emu: Emulator, graph: GraphStandIn) -> None:
    emu.reset_stats()
    graph.reset_request_counts()
    started = time.monotonic()
    [result] = runner.run()
    wall = time.monotonic() - started
    stats = emu.stats()
    graph_requests = sum(graph.request_counts().values())
    halo = stats["total"]
    hosted = max(wall, math.floor((halo - 1) / HOSTED_PER_WINDOW) * WINDOW_SECONDS)
    print(f"\n{label}: {result.outcome} ({result.summary()})")
    print(f"  Graph requests {graph_requests:,}, Halo requests {halo:,}, wall {wall:.1f} s")
    for endpoint, count in sorted(stats["by_endpoint"].items(), key=lambda item: -item[1]):
        print(f"    {count:>7,}  {endpoint}")
    print(f"  under hosted Halo's 300 per 5 minutes: at least {hosted / 60:.1f} min")


def settings_folder(folder: Path, emu: Emulator, graph: GraphStandIn) -> Settings:
    connection = HaloConnection(
        url=emu.base_url,
        client_id=emu.client_id,
        client_secret=Secret(SECRET),
        requests_per_window=1_000_000,
    )
    settings = Settings.new(folder / "appsettings.json", connection)
    options = {
        "tenant_id": graph.tenant_id,
        "app_client_id": graph.client_id,
        "app_client_secret": Secret(graph.client_secret),
        "login_url": graph.login_url,
        "graph_url": graph.graph_url,
    }
    settings.modules.append(ModuleSettings(name="entra", type="azure_ad", options=options))
    save_settings(settings)
    return load_settings(settings.folder)


if __name__ == "__main__":
    sys.exit(main())
