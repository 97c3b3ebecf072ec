"""What the tray shows and does from its icon and menu, on the real desktop (issue 13).

Each test starts ``halo-integrator tray`` as an admin would, on Xvfb with trayer and dunst,
against the Halo emulator. ``xdg-open`` is a fake where a test needs to see what the tray
asked to open, or a desktop where nothing can open a folder.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings.model import ModuleSettings
from halo_emulator import Emulator
from tray_agent.app import STATUS_POLL_SECONDS
from tray_agent.settings_dialog.window import TITLE

from .desktop import Desktop
from .tray_driver import (
    CLI,
    SECRET,
    Tray,
    fake_opener,
    green,
    make_settings,
    menus,
    open_sync_module_submenu,
    purple,
    red,
    tooltips,
    users_csv,
    wait_for,
)

pytestmark = pytest.mark.gui

CSV_MODULE = ModuleSettings(name="csv", options={"path": "users.csv", "target": "users"})


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(client_secret=SECRET, rate_limit=None) as emu:
        yield emu


@pytest.fixture
def trays() -> Iterator[list[Tray]]:
    started: list[Tray] = []
    yield started
    for tray in started:
        tray.close()


def start(trays: list[Tray], desktop: Desktop, folder: Path, **env: str) -> Tray:
    trays.append(Tray(desktop, folder, env))
    trays[-1].icon()
    return trays[-1]


def test_hovering_the_icon_shows_a_tooltip_with_the_state_and_next_run(
    desktop: Desktop, emulator: Emulator, tmp_path: Path, trays: list[Tray], artifacts: Path
) -> None:
    folder = make_settings(tmp_path / "5 Mins", emulator, [CSV_MODULE])
    (folder / "users.csv").write_text(users_csv())
    tray = start(trays, desktop, folder)
    wait_for(lambda: tray.runs(), "the catch-up run")
    window = tray.icon()
    # Move off and back on: a tooltip shows for a pointer that arrives over the icon.
    desktop.click(10, 400, 1)
    desktop.key("Escape")
    x, y = window["x"] + window["w"] // 2, window["y"] + window["h"] // 2
    subprocess.run(["xdotool", "mousemove", str(x), str(y)], env=desktop.env, check=True)
    [tip] = wait_for(lambda: tooltips(desktop), "the tooltip", timeout=10)
    desktop.screenshot(artifacts / "tray-tooltip.png")
    assert tip["w"] > 150  # a line of text, not an empty frame
    assert "pystray backend: pystray._xorg" in tray.log()  # no GTK: the menu is Tk's
    # The tooltip's text is the hover text, which the docked icon's window carries too.
    [hover] = [str(w["name"]) for w in desktop.find("halo-integrator") if not w["parent_is_root"]]
    assert hover.startswith("Halo Integrator (5 Mins): ok"), hover
    assert "next run" in hover, hover


def test_a_left_click_opens_the_settings_as_the_readme_says(
    desktop: Desktop, emulator: Emulator, tmp_path: Path, trays: list[Tray]
) -> None:
    folder = make_settings(tmp_path / "left", emulator, [CSV_MODULE])
    (folder / "users.csv").write_text(users_csv())
    tray = start(trays, desktop, folder)
    tray.click_icon(1)
    desktop.wait_for_window(TITLE, timeout=20)
    assert not menus(desktop)


def test_the_menu_starts_with_the_state_the_last_sync_the_next_run_and_the_error(
    desktop: Desktop, emulator: Emulator, tmp_path: Path, trays: list[Tray], artifacts: Path
) -> None:
    """The catch-up run fails here (no CSV). The lines' words are unit-tested
    (test_tray_state.py); here they are on screen, for a person to look at."""
    folder = make_settings(tmp_path / "status", emulator, [CSV_MODULE])
    tray = start(trays, desktop, folder)
    wait_for(lambda: tray.runs(), "the catch-up run")
    wait_for(lambda: tray.icon_showing(red, artifacts / "tray-status-error.png"), "red")
    plain = tray.open_menu()
    desktop.key("Escape")
    wait_for(lambda: not menus(desktop), "the menu to close")
    (folder / "users.csv").write_text(users_csv())
    tray.choose("Sync now")
    wait_for(lambda: len(tray.runs()) == 2, "the second run")
    wait_for(lambda: tray.icon_showing(green, artifacts / "tray-status-ok.png"), "green")
    menu = tray.open_menu()
    desktop.screenshot(artifacts / "tray-menu-status-ok.png")
    assert menu["h"] < plain["h"]  # the error line is gone
    desktop.key("Escape")
    wait_for(lambda: not menus(desktop), "the menu to close")
    (folder / "users.csv").unlink()
    tray.choose("Sync now")
    wait_for(lambda: len(tray.runs()) == 3, "the third run")
    wait_for(lambda: tray.icon_showing(red, artifacts / "tray-status-error.png"), "red again")
    menu = tray.open_menu()
    desktop.screenshot(artifacts / "tray-menu-status-lines.png")
    assert menu["h"] == plain["h"]
    open_sync_module_submenu(desktop, menu)
    desktop.screenshot(artifacts / "tray-menu-status-modules.png")
    desktop.key("Escape", "Escape")
    wait_for(lambda: not menus(desktop), "the menu to close")


def test_sync_now_with_nothing_configured_opens_the_settings(
    desktop: Desktop, emulator: Emulator, tmp_path: Path, trays: list[Tray]
) -> None:
    tray = start(trays, desktop, make_settings(tmp_path / "empty", emulator))
    tray.choose("Sync now")
    desktop.wait_for_window(TITLE, timeout=20)
    assert "Sync now: no module is enabled; opening the settings" in tray.log()


def test_open_logs_folder_without_a_file_manager_says_so_and_leaves_no_zombie(
    desktop: Desktop, emulator: Emulator, tmp_path: Path, trays: list[Tray]
) -> None:
    folder = make_settings(tmp_path / "no-manager", emulator)
    tray = start(trays, desktop, folder, **fake_opener(tmp_path, exit_code=3))
    earlier = len(desktop.notifications())
    tray.choose("Open logs folder")
    [notice] = wait_for(lambda: desktop.notifications()[earlier:], "a notification")
    assert notice[1] == "Halo Integrator (no-manager): cannot open"
    assert str(folder / "logs") in notice[2] and "no method available" in notice[2]
    wait_for(lambda: "ERROR" in tray.log() and "exited with 3" in tray.log(), "tray.log")
    assert (tmp_path / "opened.txt").read_text().strip() == str(folder / "logs")
    assert tray.zombies() == []


def test_view_last_log_opens_the_newest_run_log(
    desktop: Desktop, emulator: Emulator, tmp_path: Path, trays: list[Tray]
) -> None:
    folder = make_settings(tmp_path / "last-log", emulator, [CSV_MODULE])
    (folder / "users.csv").write_text(users_csv())
    tray = start(trays, desktop, folder, **fake_opener(tmp_path, exit_code=0))
    wait_for(lambda: tray.runs(), "the catch-up run")
    [log_file] = (folder / "logs" / "csv").glob("csv-*.log")
    tray.choose("View last log")
    opened = tmp_path / "opened.txt"
    wait_for(lambda: opened.exists() and opened.read_text().strip(), "the opener")
    assert opened.read_text().strip() == str(log_file)
    assert "csv succeeded" in log_file.read_text()
    wait_for(lambda: tray.zombies() == [], "the opener to be reaped")


def test_the_settings_command_opens_the_running_trays_window_not_a_second_editor(
    desktop: Desktop, emulator: Emulator, tmp_path: Path, trays: list[Tray]
) -> None:
    folder = make_settings(tmp_path / "one-editor", emulator, [CSV_MODULE])
    (folder / "users.csv").write_text(users_csv())
    tray = start(trays, desktop, folder)
    second = subprocess.run(
        [str(CLI), "settings", "--settings", str(folder)],
        env=desktop.env,
        capture_output=True,
        text=True,
        timeout=30,  # a second editor would stay open until closed: this would time out
    )
    assert second.returncode == 0, second.stderr
    assert "The tray for" in second.stdout and "showing its settings window" in second.stdout
    desktop.wait_for_window(TITLE, timeout=20)
    assert "A second start asked for the settings window" in tray.log()
    assert len(desktop.find(name=TITLE)) == 1


def test_a_module_enabled_while_the_tray_runs_is_not_green_before_its_first_run(
    desktop: Desktop, emulator: Emulator, tmp_path: Path, trays: list[Tray], artifacts: Path
) -> None:
    disabled = ModuleSettings(name="csv", enabled=False, options={"path": "users.csv"})
    folder = make_settings(tmp_path / "first-run", emulator, [disabled])
    (folder / "users.csv").write_text(users_csv())
    tray = start(trays, desktop, folder)
    wait_for(lambda: "Status: not configured" in tray.log(), "the first status")
    subprocess.run(
        [str(CLI), "module", "enable", "csv", "--settings", str(folder)], check=True, timeout=60
    )
    # The tray reloads on its next poll; the catch-up at start is over, so nothing runs yet.
    poll = STATUS_POLL_SECONDS + 10
    wait_for(lambda: "Status: csv never" in tray.log(), "the reload", poll)
    wait_for(lambda: tray.icon_showing(purple, artifacts / "tray-not-run-yet.png"), "purple")
    assert not tray.icon_showing(green, artifacts / "tray-not-run-yet.png")
    assert tray.runs() == []
