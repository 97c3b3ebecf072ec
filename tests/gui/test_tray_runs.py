"""Runs in child processes, seen from the real tray on the real desktop (issue 13): a child
that is killed or freezes is a failed run and the tray stays up; Quit while a run keeps
retrying ends in under 2 s; two trays for two folders are told apart.

Halo is a server that accepts connections and never answers, with a 60-second deadline: the
run in the child waits and retries all along, as it would for a Halo that is down.
"""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from servers.silent_http import SilentServer

from core.settings.model import HaloConnection, ModuleSettings, Settings
from core.settings.secrets import Secret
from core.settings.writer import save_settings
from halo_emulator import Emulator

from .desktop import Desktop
from .tray_driver import (
    SECRET,
    Tray,
    make_settings,
    menus,
    red,
    tooltips,
    users_csv,
    wait_for,
)

pytestmark = pytest.mark.gui

CSV_MODULE = ModuleSettings(name="csv", options={"path": "users.csv", "target": "users"})
QUIT_TARGET_SECONDS = 2.0


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


@pytest.fixture
def trays() -> Iterator[list[Tray]]:
    started: list[Tray] = []
    yield started
    for tray in started:
        tray.close()


def stuck_folder(folder: Path, server: SilentServer) -> Path:
    """Settings whose Halo never answers: a run retries until its 60 s deadline."""
    connection = HaloConnection(server.url, "client", Secret(SECRET), deadline_seconds=60)
    settings = Settings.new(folder / "appsettings.json", replace(connection, timeout_seconds=5))
    settings.modules.append(CSV_MODULE)
    save_settings(settings)
    (folder / "users.csv").write_text(users_csv())
    return folder


def start(trays: list[Tray], desktop: Desktop, folder: Path, **env: str) -> Tray:
    desktop.close_notifications()
    trays.append(Tray(desktop, folder, env))
    trays[-1].icon()
    return trays[-1]


def logged_at(log: str, text: str) -> datetime.datetime:
    line = next(line for line in log.splitlines() if text in line)
    return datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")


def test_quit_while_a_run_keeps_retrying_ends_the_tray_and_its_child_within_two_seconds(
    desktop: Desktop, silent_server: SilentServer, tmp_path: Path, trays: list[Tray]
) -> None:
    tray = start(trays, desktop, stuck_folder(tmp_path / "retrying", silent_server))
    [child] = wait_for(tray.run_children, "the catch-up run's child")
    wait_for(lambda: silent_server.connections, "the run to call Halo")

    tray.choose("Quit", greyed=("Sync now",), idle=False)  # greyed: a run is going
    closed = time.monotonic()
    assert tray.process.wait(10) == 0
    assert time.monotonic() - closed < QUIT_TARGET_SECONDS

    log = tray.log()
    took = logged_at(log, "Quitting") - logged_at(log, "Tray stopped")
    assert -took.total_seconds() < QUIT_TARGET_SECONDS
    assert "Run of csv did not stop in time; killed" in log
    assert not Path(f"/proc/{child}").exists()  # killed and reaped, not left behind
    assert tray.runs() == []  # no failure recorded: it was asked to stop


def test_a_killed_or_frozen_run_is_a_failed_run_and_the_tray_stays_up(
    desktop: Desktop,
    silent_server: SilentServer,
    tmp_path: Path,
    trays: list[Tray],
    artifacts: Path,
) -> None:
    folder = stuck_folder(tmp_path / "crash", silent_server)
    tray = start(trays, desktop, folder, HALO_INTEGRATOR_CHILD_SILENCE_SECONDS="3")
    [child] = wait_for(tray.run_children, "the catch-up run's child")
    os.kill(child, signal.SIGKILL)  # a crash: the child dies without a word

    [run] = wait_for(tray.runs, "the lost run to be recorded")
    assert run["outcome"] == "failed" and run["origin"] == "tray"
    assert "ended unexpectedly: its process was killed (SIGKILL)" in run["error"]
    wait_for(lambda: tray.icon_showing(red, artifacts / "tray-child-killed.png"), "red")
    summary = "Halo Integrator (crash): csv failed"
    [notice] = wait_for(
        lambda: [n for n in desktop.notifications() if n[1] == summary], "the notification"
    )
    assert "killed (SIGKILL)" in notice[2] and notice[4] == "CRITICAL"
    assert tray.process.poll() is None

    # A frozen child (stopped: no heartbeat, nothing) is stopped after the silence allowed.
    tray.choose("Sync now")
    [frozen] = wait_for(tray.run_children, "the second run's child")
    os.kill(frozen, signal.SIGSTOP)
    wait_for(lambda: len(tray.runs()) == 2, "the frozen run to be stopped", timeout=30)
    assert "it stopped answering and was stopped" in tray.runs()[0]["error"]
    assert "sent nothing for 3 s; stopping process" in tray.log()
    assert tray.process.poll() is None and tray.run_children() == []
    assert tray.zombies() == []


def test_two_trays_for_two_folders_are_told_apart_by_their_tooltip_and_menu_header(
    desktop: Desktop, tmp_path: Path, trays: list[Tray], artifacts: Path
) -> None:
    with Emulator(client_secret=SECRET, rate_limit=None) as emulator:
        for name in ("5 Mins", "Nightly"):
            folder = make_settings(tmp_path / name, emulator, [CSV_MODULE])
            (folder / "users.csv").write_text(users_csv())
            tray = start(trays, desktop, folder)
            wait_for(tray.runs, f"the catch-up run of {name}")

        def docked_names() -> list[str]:
            found = desktop.find("halo-integrator")
            return sorted(str(w["name"]) for w in found if not w["parent_is_root"])

        # The hover text (on the docked icon's window too) starts with each folder's name.
        names = wait_for(lambda: len(docked_names()) == 2 and docked_names(), "two icons")
        assert names[0].startswith("Halo Integrator (5 Mins): ")
        assert names[1].startswith("Halo Integrator (Nightly): ")
        for position, (tray, name) in enumerate(zip(trays, ("5 Mins", "Nightly"), strict=True)):
            tray.wait_idle()
            header = f"Halo Integrator ({name}): ok"
            wait_for(lambda p=position, h=header: docked_names()[p].startswith(h), header)
            window = tray.icon()
            desktop.click(10, 400, 1)
            desktop.key("Escape")
            x, y = window["x"] + window["w"] // 2, window["y"] + window["h"] // 2
            subprocess.run(["xdotool", "mousemove", str(x), str(y)], env=desktop.env, check=True)
            wait_for(lambda: tooltips(desktop), f"the tooltip of {name}")
            time.sleep(0.3)
            slug = name.replace(" ", "-").lower()
            desktop.screenshot(artifacts / f"tray-two-folders-tooltip-{slug}.png")
            tray.open_menu()
            tray.pointer_off_icon()
            desktop.screenshot(artifacts / f"tray-two-folders-menu-{slug}.png")
            desktop.key("Escape")
            wait_for(lambda: not menus(desktop), "the menu to close")
