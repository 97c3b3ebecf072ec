"""The real tray as a child process on a real desktop (Xvfb, trayer, dunst) against the emulator.

The tray is started the way an admin starts it (``halo-integrator tray --settings FOLDER``),
found by its WM_CLASS once trayer has docked it, looked at through screenshots of the docked
icon, and driven through its real popup menu with xdotool clicks. What it did is read from
the shared state DB (runs) and from dunst's log (notifications).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.settings.model import HaloConnection, ModuleSettings, Settings
from core.settings.secrets import Secret
from core.settings.writer import save_settings
from core.state.store import StateStore
from halo_emulator import Emulator
from tray_agent.app import STATUS_POLL_SECONDS
from tray_agent.settings_dialog.window import TITLE

from .desktop import Desktop
from .tray_driver import (
    CLI,
    SECRET,
    WM_CLASS,
    Tray,
    count,
    green,
    menus,
    open_sync_module_submenu,
    red,
    wait_for,
)

pytestmark = pytest.mark.gui


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(client_secret=SECRET, rate_limit=None) as emu:
        yield emu


@pytest.fixture
def settings_folder(tmp_path: Path, emulator: Emulator) -> Path:
    folder = tmp_path / "settings"
    connection = HaloConnection(
        url=emulator.base_url, client_id=emulator.client_id, client_secret=Secret(SECRET)
    )
    settings = Settings.new(folder / "appsettings.json", connection)
    # 1h: the catch-up run at start and the menu's Sync now are the only runs in the test.
    settings.modules.append(
        ModuleSettings(name="csv", options={"path": "users.csv", "target": "users"})
    )
    save_settings(settings)
    (folder / "users.csv").write_text(
        "emailaddress,firstname,surname\n"
        + "".join(f"user{n}@example.com,User,N{n}\n" for n in range(3))
    )
    return folder


@pytest.fixture
def tray(desktop: Desktop, settings_folder: Path) -> Iterator[Tray]:
    running = Tray(desktop, settings_folder)
    yield running
    running.close()


CSV_FAILED = "Halo Integrator (settings): csv failed"


def csv_notifications(desktop: Desktop) -> list[tuple[str, ...]]:
    return [n for n in desktop.notifications() if n[1] == CSV_FAILED]


@pytest.fixture
def notify_calls(desktop: Desktop, tmp_path: Path) -> Iterator[Callable[[str], int]]:
    """Counts Notify calls on the bus by summary: dunst stacks duplicates and logs only one."""
    output = tmp_path / "notify-calls.txt"
    with output.open("w") as sink:
        monitor = subprocess.Popen(
            [
                "dbus-monitor",
                "--session",
                "interface='org.freedesktop.Notifications',member='Notify'",
            ],
            env=desktop.env,
            stdout=sink,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.3)  # let it subscribe before the tray starts
        yield lambda summary: output.read_text().count(f'   string "{summary}"\n')
        monitor.terminate()
        monitor.wait(10)


def test_tray_turns_red_on_failure_notifies_once_and_syncs_from_the_menu(
    notify_calls: Callable[[str], int], tray: Tray, desktop: Desktop, artifacts: Path
) -> None:
    tray.icon()
    # The catch-up run at start succeeds: a green icon.
    wait_for(lambda: [run for run in tray.runs() if run["outcome"] == "succeeded"], "first run")
    ok_icon = wait_for(lambda: tray.icon_showing(green, artifacts / "tray-ok.png"), "green")
    assert count(ok_icon, red) == 0

    # The source disappears; "Sync now" from the menu runs the module, which now fails.
    (tray.folder / "users.csv").unlink()
    menu = tray.open_menu()
    desktop.screenshot(artifacts / "tray-menu.png")
    # Open "Sync module" so its submenu (one entry per module, with its state) shows too.
    open_sync_module_submenu(desktop, menu)
    desktop.screenshot(artifacts / "tray-menu-modules.png")
    desktop.key("Escape", "Escape")
    wait_for(lambda: not menus(desktop), "the menu to close")
    assert menu["h"] > 150  # status lines and nine entries, not an empty or one-item menu
    tray.choose("Sync now")
    wait_for(lambda: len(tray.runs()) == 2, "a run started from the menu")
    assert tray.runs()[0]["outcome"] == "failed" and tray.runs()[0]["origin"] == "tray"
    error_icon = wait_for(lambda: tray.icon_showing(red, artifacts / "tray-error.png"), "red")
    assert count(error_icon, green) == 0

    [notice] = wait_for(lambda: csv_notifications(desktop), "the error notification")
    assert "does not exist" in notice[2]
    assert notify_calls(CSV_FAILED) == 1

    # A second failure: another run, no second notification.
    tray.choose("Sync now")
    wait_for(lambda: len(tray.runs()) == 3, "the second run from the menu")
    assert tray.runs()[0]["outcome"] == "failed"
    # The status thread has seen the second failure (it logs each change, after notifying).
    wait_for(lambda: "csv error (2 failures in a row)" in tray.log(), "the status thread")
    wait_for(lambda: tray.icon_showing(red, artifacts / "tray-error-again.png"), "red again")
    assert notify_calls(CSV_FAILED) == 1
    assert len(csv_notifications(desktop)) == 1

    # Quit from the menu: the process ends on its own, cleanly.
    tray.choose("Quit")
    assert tray.process.wait(30) == 0
    assert "Tray stopped" in tray.log()


def test_a_second_start_shows_the_first_trays_settings_instead_of_a_second_icon(
    tray: Tray, desktop: Desktop, artifacts: Path
) -> None:
    tray.icon()
    second = subprocess.run(
        [str(CLI), "tray", "--settings", str(tray.folder)],
        env=desktop.env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert second.returncode == 0, second.stderr
    assert "already running" in second.stdout
    wait_for(lambda: "A second start asked for the settings window" in tray.log(), "the request")
    assert len([w for w in desktop.find(WM_CLASS) if not w["parent_is_root"]]) == 1
    # The dialog is built and tested separately; here: the first tray really shows it.
    window = desktop.wait_for_window(TITLE, timeout=20)
    time.sleep(0.5)
    desktop.screenshot(artifacts / "tray-second-start-settings.png", window=window["id"])


def test_an_auto_run_from_another_process_turns_the_icon_red_and_notifies(
    tray: Tray, desktop: Desktop, artifacts: Path
) -> None:
    tray.icon()
    wait_for(lambda: [run for run in tray.runs() if run["outcome"] == "succeeded"], "first run")
    wait_for(lambda: tray.icon_showing(green, artifacts / "tray-before-auto.png"), "green")
    earlier = len(csv_notifications(desktop))  # one desktop serves the module's tests
    (tray.folder / "users.csv").unlink()
    auto = subprocess.run(
        [str(CLI), "AUTO", str(tray.folder)], capture_output=True, text=True, timeout=60
    )
    assert auto.returncode != 0, auto.stdout
    assert tray.runs()[0]["outcome"] == "failed" and tray.runs()[0]["origin"] == "auto"
    # No run event reaches the tray from another process: its status poll finds the run.
    poll = STATUS_POLL_SECONDS + 10
    wait_for(lambda: tray.icon_showing(red, artifacts / "tray-auto-error.png"), "red", poll)
    [notice] = wait_for(lambda: csv_notifications(desktop)[earlier:], "the notice", poll)
    assert "does not exist" in notice[2]


def test_a_hand_edit_of_the_settings_is_picked_up_without_a_restart(
    tray: Tray, artifacts: Path
) -> None:
    tray.icon()
    wait_for(lambda: [run for run in tray.runs() if run["outcome"] == "succeeded"], "first run")
    wait_for(lambda: tray.icon_showing(green, artifacts / "tray-before-edit.png"), "green")
    path = tray.folder / "appsettings.json"
    path.write_text(path.read_text().replace('"Enabled": true', '"Enabled": false'))
    poll = STATUS_POLL_SECONDS + 10
    wait_for(lambda: "Status: not configured" in tray.log(), "the reload", poll)
    wait_for(lambda: not tray.icon_showing(green, artifacts / "tray-after-edit.png"), "grey")


def test_two_instances_of_one_type_each_have_a_menu_entry_that_syncs_only_it(
    desktop: Desktop, emulator: Emulator, tmp_path: Path, artifacts: Path
) -> None:
    folder = tmp_path / "two"
    connection = HaloConnection(emulator.base_url, emulator.client_id, Secret(SECRET))
    settings = Settings.new(folder / "appsettings.json", connection)
    settings.modules += [
        ModuleSettings(name="hr-users", type="csv", options={"path": "users.csv"}),
        ModuleSettings(
            name="inventory", type="csv", options={"path": "assets.csv", "target": "assets"}
        ),
    ]
    save_settings(settings)
    (folder / "users.csv").write_text("emailaddress,firstname\nann@example.com,Ann\n")
    (folder / "assets.csv").write_text("inventory_number,key_field\nPC-1,Laptop\n")
    tray = Tray(desktop, folder)
    try:
        tray.icon()
        state = StateStore(folder)

        def finished(name: str) -> list[dict[str, Any]]:
            return [run for run in state.recent_runs(name) if run["finished_at"]]

        wait_for(lambda: finished("hr-users") and finished("inventory"), "both catch-up runs")
        wait_for(lambda: tray.icon_showing(green, artifacts / "tray-two-ok.png"), "green")
        menu = tray.open_menu()
        open_sync_module_submenu(desktop, menu)
        desktop.screenshot(artifacts / "tray-menu-two-instances.png")
        # Sorted by name: hr-users (selected as the submenu opens), then inventory.
        desktop.key("Down", "Return")
        wait_for(lambda: len(finished("inventory")) == 2, "a run of inventory from the menu")
        assert finished("inventory")[0]["origin"] == "tray"
        assert len(finished("hr-users")) == 1
    finally:
        tray.close()


def test_the_tray_maps_no_gtk_glib_or_cryptography_even_after_a_notification(
    tray: Tray, desktop: Desktop
) -> None:
    """What keeps the idle tray near 50 MiB (bench/tray_idle.py): its icon, menu and tooltip
    are python-xlib and Tk, its notifications jeepney, and its secrets stay encrypted (the
    runs, in child processes, decrypt them)."""
    tray.icon()
    tray.wait_idle()
    (tray.folder / "users.csv").unlink()
    tray.choose("Sync now")
    # This tray's own notifier (dunst may still show an earlier test's notice of this title).
    backend = "Notifications through the session bus with actions"
    wait_for(lambda: backend in tray.log(), "the failure's notification", timeout=30)
    mapped = Path(f"/proc/{tray.process.pid}/maps").read_text()
    for library in ("libgtk-3", "libgio-2.0", "libgobject-2.0", "cryptography"):
        assert library not in mapped, library
    assert "libtk8.6" in mapped  # the maps are the tray's: Tk is in them
