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
from PIL import Image

from core.settings.model import HaloConnection, ModuleSettings, Settings
from core.settings.secrets import Secret
from core.settings.writer import save_settings
from core.state.store import StateStore
from halo_emulator import Emulator
from tray_agent.app import STATUS_POLL_SECONDS
from tray_agent.settings_dialog.window import TITLE

from .desktop import Desktop

pytestmark = pytest.mark.gui

CLI = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "halo-integrator"
WM_CLASS = "halo-integrator"
SECRET = "tray-test-secret-4411"
# Where the items sit in the popup (fractions of its height; measured on the screenshot):
# Sync now, Sync module, Pause, ---, Settings…, Open logs folder, ---, Quit.
SYNC_NOW_AT, SYNC_MODULE_AT, QUIT_AT = 0.10, 0.26, 0.90


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


class Tray:
    """``halo-integrator tray`` as a child process; output goes to a file for failures."""

    def __init__(self, desktop: Desktop, folder: Path) -> None:
        self.desktop, self.folder = desktop, folder
        self.output = (folder.parent / "tray-output.txt").open("w")
        self.process = subprocess.Popen(
            [str(CLI), "tray", "--settings", str(folder)],
            env=desktop.env,
            stdout=self.output,
            stderr=subprocess.STDOUT,
        )

    def icon(self) -> dict[str, Any]:
        return self.desktop.docked_icon(WM_CLASS, timeout=20)

    def icon_pixels(self, shot: Path) -> Image.Image:
        window = self.icon()
        image = Image.open(self.desktop.screenshot(shot)).convert("RGB")
        return image.crop(
            (window["x"], window["y"], window["x"] + window["w"], window["y"] + window["h"])
        )

    def icon_showing(self, colour: Callable[[int, int, int], bool], shot: Path) -> Any:
        """The docked icon's pixels if more than 50 of them have ``colour``, else None."""
        icon = self.icon_pixels(shot)
        return icon if count(icon, colour) > 50 else None

    def open_menu(self) -> dict[str, Any]:
        window = self.icon()
        self.desktop.click(window["x"] + window["w"] // 2, window["y"] + window["h"] // 2, 3)
        return wait_for(lambda: next(iter(menus(self.desktop)), None), "the popup menu")

    def choose(self, fraction: float) -> None:
        menu = self.open_menu()
        time.sleep(0.3)  # let GTK draw and arm the menu before the click
        self.desktop.click(menu["x"] + menu["w"] // 2, menu["y"] + int(menu["h"] * fraction))
        wait_for(lambda: not menus(self.desktop), "the menu to close")

    def runs(self) -> list[dict[str, Any]]:
        return [run for run in StateStore(self.folder).recent_runs("csv") if run["finished_at"]]

    def log(self) -> str:
        path = self.folder / "logs" / "tray.log"
        return path.read_text() if path.exists() else ""

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.output.close()


@pytest.fixture
def tray(desktop: Desktop, settings_folder: Path) -> Iterator[Tray]:
    running = Tray(desktop, settings_folder)
    yield running
    running.close()


def menus(desktop: Desktop) -> list[dict[str, Any]]:
    return [w for w in desktop.find(WM_CLASS) if w["parent_is_root"] and w["w"] > 50 and w["y"] > 0]


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def open_sync_module_submenu(desktop: Desktop, menu: dict[str, Any]) -> None:
    """Hover "Sync module" so its submenu (one entry per module instance) opens."""
    x, y = menu["x"] + menu["w"] // 2, menu["y"] + int(menu["h"] * SYNC_MODULE_AT)
    subprocess.run(["xdotool", "mousemove", str(x), str(y)], env=desktop.env, check=True)
    wait_for(lambda: len(menus(desktop)) == 2, "the Sync module submenu")
    time.sleep(0.3)


def count(image: Image.Image, test: Callable[[int, int, int], bool]) -> int:
    return sum(
        1 for x in range(image.width) for y in range(image.height) if test(*image.getpixel((x, y)))
    )  # type: ignore[misc]


def green(r: int, g: int, b: int) -> bool:
    return g > 130 and r < 100 and b < 110


def red(r: int, g: int, b: int) -> bool:
    return r > 180 and g < 80 and b < 80


def csv_notifications(desktop: Desktop) -> list[tuple[str, ...]]:
    return [n for n in desktop.notifications() if n[1] == "csv"]


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
    time.sleep(0.3)
    desktop.screenshot(artifacts / "tray-menu.png")
    # Hover "Sync module" so its submenu (one entry per module, with its state) opens too.
    open_sync_module_submenu(desktop, menu)
    desktop.screenshot(artifacts / "tray-menu-modules.png")
    desktop.key("Escape", "Escape")
    wait_for(lambda: not menus(desktop), "the menu to close")
    assert menu["h"] > 100  # eight entries, not an empty or one-item menu
    tray.choose(SYNC_NOW_AT)
    wait_for(lambda: len(tray.runs()) == 2, "a run started from the menu")
    assert tray.runs()[0]["outcome"] == "failed" and tray.runs()[0]["origin"] == "tray"
    error_icon = wait_for(lambda: tray.icon_showing(red, artifacts / "tray-error.png"), "red")
    assert count(error_icon, green) == 0

    [notice] = wait_for(lambda: csv_notifications(desktop), "the error notification")
    assert "does not exist" in notice[2]
    assert notify_calls("csv") == 1

    # A second failure: another run, no second notification.
    tray.choose(SYNC_NOW_AT)
    wait_for(lambda: len(tray.runs()) == 3, "the second run from the menu")
    assert tray.runs()[0]["outcome"] == "failed"
    # The status thread has seen the second failure (it logs each change, after notifying).
    wait_for(lambda: "csv error (2 failures in a row)" in tray.log(), "the status thread")
    wait_for(lambda: tray.icon_showing(red, artifacts / "tray-error-again.png"), "red again")
    assert notify_calls("csv") == 1
    assert len(csv_notifications(desktop)) == 1

    # Quit from the menu: the process ends on its own, cleanly.
    tray.choose(QUIT_AT)
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
        time.sleep(0.3)
        open_sync_module_submenu(desktop, menu)
        desktop.screenshot(artifacts / "tray-menu-two-instances.png")
        [submenu] = [window for window in menus(desktop) if window["id"] != menu["id"]]
        # Sorted by name: hr-users, then inventory. Click the second entry.
        desktop.click(submenu["x"] + submenu["w"] // 2, submenu["y"] + int(submenu["h"] * 0.75))
        wait_for(lambda: len(finished("inventory")) == 2, "a run of inventory from the menu")
        assert finished("inventory")[0]["origin"] == "tray"
        assert len(finished("hr-users")) == 1
    finally:
        tray.close()
