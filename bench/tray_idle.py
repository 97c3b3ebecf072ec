"""Benchmark: the tray's start-to-docked-icon time and its idle RSS and CPU.

Runs the real tray (``tray_agent.app.run_tray``) as a child process on a private desktop
(Xvfb + trayer + dunst, the GUI tests' ``Desktop``) against a Halo emulator, with three
modules scheduled. Only the ``csv`` module exists so far and module names are unique per
settings file, so the child registers two more copies of it (``csv_assets``, ``csv_extra``)
before starting the tray: three real modules, each with its own schedule, worker and CSV.

After start-up every module runs once (catch-up: they never ran), then the figures cover
``--seconds`` (60 by default) of idling: the schedules (10m, 15m, 30m) are not due then.

    .venv/bin/python bench/tray_idle.py
    .venv/bin/python bench/tray_idle.py --seconds 20
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from core.settings.model import HaloConnection, Interval, ModuleSettings, Settings  # noqa: E402
from core.settings.secrets import Secret  # noqa: E402
from core.settings.writer import save_settings  # noqa: E402
from core.state.store import StateStore  # noqa: E402
from halo_emulator import Emulator  # noqa: E402
from tests.gui.desktop import Desktop  # noqa: E402

SECRET = "bench-tray-secret-0042"
MODULES = {"csv": "10m", "csv_assets": "15m", "csv_extra": "30m"}
LAUNCHER = """
import sys
from core.modules.csv_import import CsvImport
from core.modules.registry import MODULES
for name in ("csv_assets", "csv_extra"):
    MODULES[name] = type(name, (CsvImport,), {"name": name})
from tray_agent.app import run_tray
sys.exit(run_tray(sys.argv[1]))
"""
CLOCK_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def write_settings(folder: Path, emulator: Emulator) -> None:
    connection = HaloConnection(
        url=emulator.base_url, client_id=emulator.client_id, client_secret=Secret(SECRET)
    )
    settings = Settings.new(folder / "appsettings.json", connection)
    for name, interval in MODULES.items():
        (folder / f"{name}.csv").parent.mkdir(parents=True, exist_ok=True)
        rows = "".join(f"{name}{n}@example.com,User,N{n}\n" for n in range(50))
        (folder / f"{name}.csv").write_text("emailaddress,firstname,surname\n" + rows)
        settings.modules.append(
            ModuleSettings(
                name=name,
                interval=Interval.parse(interval),
                options={"path": f"{name}.csv", "target": "users"},
            )
        )
    save_settings(settings)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_SECOND  # utime + stime


def wait_docked(desktop: Desktop, timeout: float = 30) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if any(not w["parent_is_root"] and w["w"] > 1 for w in desktop.find("halo-integrator")):
            return time.monotonic() - started
        time.sleep(0.02)
    raise SystemExit("The tray icon never docked.")


def wait_catch_up(folder: Path, timeout: float = 60) -> None:
    state = StateStore(folder)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        statuses = [state.status(name) for name in MODULES]
        if all(status and status.last_outcome == "succeeded" for status in statuses):
            return
        time.sleep(0.2)
    raise SystemExit("The catch-up runs did not all succeed; see logs/tray.log.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="idle measurement length")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="tray-bench-") as temp,
        Emulator(client_secret=SECRET, rate_limit=None) as emulator,
        Desktop() as desktop,
    ):
        folder = Path(temp) / "settings"
        write_settings(folder, emulator)
        started = time.monotonic()
        tray = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, str(folder)], env=desktop.env, cwd=REPOSITORY
        )
        try:
            dock_seconds = wait_docked(desktop)
            wait_catch_up(folder)
            ready_seconds = time.monotonic() - started
            time.sleep(2)  # let the last refresh after the runs settle
            rss_start, cpu_start = rss_mib(tray.pid), cpu_seconds(tray.pid)
            rss_peak = rss_start
            idle_started = time.monotonic()
            while time.monotonic() - idle_started < args.seconds:
                time.sleep(1)
                rss_peak = max(rss_peak, rss_mib(tray.pid))
            idle = time.monotonic() - idle_started
            cpu = cpu_seconds(tray.pid) - cpu_start
            rss_end = rss_mib(tray.pid)
        finally:
            tray.terminate()
            tray.wait(30)
    print(f"tray idle benchmark: {len(MODULES)} modules scheduled ({', '.join(MODULES.values())})")
    print(f"  start to docked icon          {dock_seconds:6.2f} s")
    print(f"  start to 3 catch-up runs done {ready_seconds:6.2f} s")
    print(f"  RSS after start-up            {rss_start:6.1f} MiB")
    print(f"  RSS after {idle:.0f} s idle          {rss_end:6.1f} MiB (peak {rss_peak:.1f} MiB)")
    share = 100 * cpu / idle
    print(f"  CPU over {idle:.0f} s idle           {cpu:6.2f} s ({share:.2f} % of one core)")
    print(f"  exit code after SIGTERM       {tray.returncode:6d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
