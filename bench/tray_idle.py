"""Benchmark: what the tray costs while it waits, and whether runs leave anything behind.

Starts the real tray (``halo-integrator tray --settings FOLDER``, as an admin does) on a
private desktop (Xvfb + trayer + dunst, the GUI tests' ``Desktop`` and ``Tray`` driver)
against a Halo emulator, with three csv instances scheduled every 10, 15 and 30 minutes,
and prints each figure beside its target (issue 13):

* **docked**: from starting the process until trayer has embedded its icon;
* **idle RSS**: the tray process's resident memory after its catch-up runs and ``--seconds``
  of idling (runs happen in child processes, which are not counted: they have ended);
* **private memory** (USS) beside each RSS: RSS counts the shared libraries' pages too;
* **RSS after N runs**: after ``--runs`` more runs started with the menu's *Sync now* (each
  starts the three instances), minus the idle figure;
* **Quit**: from choosing *Quit* in the menu until the process has exited; then again for
  a tray whose run keeps retrying against a Halo that never answers (a second tray, on a
  folder of its own), where the child is killed after its 1 s chance to reach a safe point.

    .venv/bin/python bench/tray_idle.py
    .venv/bin/python bench/tray_idle.py --seconds 10 --runs 30
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from core.halo.pacing import STATE_FOLDER_VARIABLE  # noqa: E402
from core.settings.model import HaloConnection, Interval, ModuleSettings, Settings  # noqa: E402
from core.settings.reader import load_settings  # noqa: E402
from core.settings.secrets import Secret  # noqa: E402
from core.settings.writer import save_settings  # noqa: E402
from core.state.store import StateStore  # noqa: E402
from halo_emulator import Emulator  # noqa: E402
from tests.gui.desktop import Desktop  # noqa: E402
from tests.gui.tray_driver import SECRET, Tray, make_settings, wait_for  # noqa: E402
from tests.servers.silent_http import SilentServer  # noqa: E402

MODULES = {"csv": "10m", "csv_assets": "15m", "csv_extra": "30m"}
IDLE_RSS_TARGET_MIB = 60.0
GROWTH_TARGET_MIB = 5.0
DOCKED_TARGET_SECONDS = 1.0
QUIT_TARGET_SECONDS = 2.0
CLOCK_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def write_settings(folder: Path, emulator: Emulator) -> None:
    """Three csv instances of 50 users; the emulator has no rate limit, so neither has the
    client's pacer (at hosted Halo's 300 requests per 5 minutes, 100 runs would wait)."""
    modules = [
        ModuleSettings(
            name=name,
            type="csv",
            interval=Interval.parse(interval),
            options={"path": f"{name}.csv", "target": "users"},
        )
        for name, interval in MODULES.items()
    ]
    make_settings(folder, emulator, modules)
    settings = load_settings(folder)
    settings.halo = replace(settings.halo, requests_per_window=1_000_000)
    save_settings(settings)
    backdated = time.time() - 60  # a finished export: the csv module need not wait for it
    for name in MODULES:
        rows = "".join(f"{name}{n}@example.com,User,N{n}\n" for n in range(50))
        (folder / f"{name}.csv").write_text("emailaddress,firstname,surname\n" + rows)
        os.utime(folder / f"{name}.csv", (backdated, backdated))


def quit_while_retrying(desktop: Desktop, folder: Path) -> float:
    """Seconds from choosing Quit to the exit of a tray whose run is waiting on Halo."""
    server = SilentServer()
    try:
        connection = HaloConnection(server.url, "client", Secret(SECRET), deadline_seconds=60)
        settings = Settings.new(folder / "appsettings.json", connection)
        settings.modules.append(ModuleSettings(name="csv", type="csv", options={"path": "u.csv"}))
        save_settings(settings)
        (folder / "u.csv").write_text("emailaddress\nann@example.com\n")
        tray = Tray(desktop, folder)
        try:
            tray.icon()
            wait_for(tray.run_children, "the run's child")
            wait_for(lambda: server.connections, "the run to call Halo")
            tray.choose("Quit", greyed=("Sync now",), idle=False)
            chose_quit = time.monotonic()
            tray.process.wait(30)
            return time.monotonic() - chose_quit
        finally:
            tray.close()
    finally:
        server.close()


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def private_mib(pid: int) -> float:
    """USS: the pages only this process holds (what its exit would give back); RSS also
    counts the shared libraries' pages (GTK, Tk), shared with every process mapping them."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0])
    return (fields["Private_Clean"] + fields["Private_Dirty"]) / 1024


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_SECOND  # utime + stime


def finished_runs(folder: Path) -> int:
    state = StateStore(folder)
    return sum(
        len([run for run in state.recent_runs(name, 1_000) if run["finished_at"]])
        for name in MODULES
    )


def wait_docked(desktop: Desktop, timeout: float = 30) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if any(not w["parent_is_root"] and w["w"] > 1 for w in desktop.find("halo-integrator")):
            return time.monotonic() - started
        time.sleep(0.01)
    raise SystemExit("The tray icon never docked.")


def verdict(value: float, target: float) -> str:
    return "ok" if value < target else "MISSED"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30, help="idle window before RSS")
    parser.add_argument("--runs", type=int, default=100, help="runs before the second RSS")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="tray-bench-") as temp,
        Emulator(client_secret=SECRET, rate_limit=None) as emulator,
        Desktop() as desktop,
    ):
        # The pacing history goes to the bench's own folder, not the user's.
        os.environ[STATE_FOLDER_VARIABLE] = str(Path(temp) / "user-state")
        desktop.env[STATE_FOLDER_VARIABLE] = os.environ[STATE_FOLDER_VARIABLE]
        folder = Path(temp) / "settings"
        write_settings(folder, emulator)
        started = time.monotonic()
        tray = Tray(desktop, folder)
        pid = tray.process.pid
        try:
            docked = wait_docked(desktop)
            wait_for(lambda: finished_runs(folder) >= len(MODULES), "the catch-up runs", 120)
            tray.wait_idle()
            cpu_start = cpu_seconds(pid)
            time.sleep(args.seconds)
            idle_cpu = cpu_seconds(pid) - cpu_start
            idle_rss, idle_private = rss_mib(pid), private_mib(pid)

            target = finished_runs(folder) + args.runs
            while finished_runs(folder) < target:
                before = finished_runs(folder)
                tray.choose("Sync now")  # waits for the tray to be idle first
                wait_for(lambda done=before: finished_runs(folder) > done, "a run", 60)
            tray.wait_idle()
            runs = finished_runs(folder) - len(MODULES)
            time.sleep(2)  # the status refresh after the last run
            after_rss, after_private = rss_mib(pid), private_mib(pid)
            startup_to_idle = time.monotonic() - started

            tray.choose("Quit")
            chose_quit = time.monotonic()
            exit_code = tray.process.wait(30)
            quit_seconds = time.monotonic() - chose_quit
        finally:
            tray.close()
        retrying_quit_seconds = quit_while_retrying(desktop, Path(temp) / "retrying")
    growth = after_rss - idle_rss
    print(f"tray benchmark: {len(MODULES)} modules scheduled ({', '.join(MODULES.values())})")
    print(f"  {'figure':34} {'value':>10}   target")
    print(f"  {'start to docked icon':34} {docked:8.2f} s   < 1 s   {verdict(docked, 1.0)}")
    print(
        f"  {f'idle RSS (after {args.seconds:.0f} s idle)':34} {idle_rss:6.1f} MiB   < 60 MiB  "
        f"{verdict(idle_rss, IDLE_RSS_TARGET_MIB)}"
    )
    print(
        f"  {f'RSS after {runs} runs':34} {after_rss:6.1f} MiB   idle + 5 MiB  "
        f"{verdict(growth, GROWTH_TARGET_MIB)} ({growth:+.1f} MiB)"
    )
    print(
        f"  {'Quit (menu to process exit)':34} {quit_seconds:8.2f} s   < 2 s   "
        f"{verdict(quit_seconds, QUIT_TARGET_SECONDS)}"
    )
    print(
        f"  {'private memory (USS) idle / after':34} {idle_private:6.1f} MiB / "
        f"{after_private:.1f} MiB ({after_private - idle_private:+.1f} MiB)"
    )
    print(
        f"  {'Quit while a run retries':34} {retrying_quit_seconds:8.2f} s   < 2 s   "
        f"{verdict(retrying_quit_seconds, QUIT_TARGET_SECONDS)}"
    )
    print(f"  {f'CPU over {args.seconds:.0f} s idle':34} {idle_cpu:8.2f} s")
    print(f"  {'exit code after Quit':34} {exit_code:8d}")
    print(f"  (the whole bench took {startup_to_idle:.0f} s before Quit)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
