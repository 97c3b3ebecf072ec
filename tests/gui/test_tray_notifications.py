"""Notifications that say what and where, and act (issue 13), on the real desktop: the tray as
a child process, dunst as the notification server, the Halo emulator behind the runs.

dunst logs every notification (summary, body, icon, urgency); its actions are reached the
way a user reaches them: ``dunstctl action`` (a middle click: the default action) and its
context menu, whose dmenu is a script that picks the named entry.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings.model import ModuleSettings
from core.state.store import StateStore
from halo_emulator import Emulator

from .desktop import Desktop
from .tray_driver import (
    ALLOW_ONCE,
    SECRET,
    Tray,
    fake_opener,
    green,
    make_settings,
    menus,
    users_csv,
    wait_for,
)

pytestmark = pytest.mark.gui

GUARDED = ModuleSettings(
    name="csv", options={"path": "users.csv", "target": "users", "max_deactivate_percent": 10}
)


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
    desktop.close_notifications()  # critical ones stay: the module's earlier tests' too
    trays.append(Tray(desktop, folder, env))
    trays[-1].icon()
    return trays[-1]


def notices(desktop: Desktop, summary: str) -> list[tuple[str, ...]]:
    return [notice for notice in desktop.notifications() if notice[1] == summary]


def refused_tray(trays: list[Tray], desktop: Desktop, folder: Path, **env: str) -> Tray:
    """A tray whose csv module synced 20 users, then was refused deactivating 15 of them."""
    (folder / "users.csv").write_text(users_csv(20))
    tray = start(trays, desktop, folder, **env)
    wait_for(lambda: tray.runs(), "the catch-up run")
    assert tray.runs()[0]["outcome"] == "succeeded"
    (folder / "users.csv").write_text(users_csv(5))  # an export cut short
    tray.choose("Sync now")
    wait_for(lambda: len(tray.runs()) == 2, "the refused run")
    assert tray.runs()[0]["outcome"] == "refused"
    return tray


def test_a_failure_notifies_critically_naming_folder_module_and_outcome_and_opens_its_log(
    desktop: Desktop, emulator: Emulator, tmp_path: Path, trays: list[Tray], artifacts: Path
) -> None:
    folder = make_settings(tmp_path / "5 Mins", emulator, [GUARDED])  # no users.csv: it fails
    tray = start(trays, desktop, folder, **fake_opener(tmp_path, exit_code=0))
    [notice] = wait_for(
        lambda: notices(desktop, "Halo Integrator (5 Mins): csv failed"), "the notification"
    )
    _, _, body, icon, urgency = notice
    assert "users.csv does not exist" in body
    assert urgency == "CRITICAL" and "dialog-error" in icon
    time.sleep(0.5)  # dunst draws it
    desktop.screenshot(artifacts / "notification-failed.png")

    # Its default action (a middle click in dunst) opens that module's newest run log.
    desktop.notification_default_action()
    opened = tmp_path / "opened.txt"
    wait_for(lambda: opened.exists() and opened.read_text().strip(), "the opener")
    [log_file] = (folder / "logs" / "csv").glob("csv-*.log")
    assert opened.read_text().strip() == str(log_file)
    assert "Notification action: Open log" in tray.log()


def test_a_refused_mass_deactivation_is_allowed_once_from_its_notification(
    desktop: Desktop, emulator: Emulator, tmp_path: Path, trays: list[Tray], artifacts: Path
) -> None:
    folder = make_settings(tmp_path / "Nightly", emulator, [GUARDED])
    tray = refused_tray(trays, desktop, folder)
    summary = "Halo Integrator (Nightly): csv refused a mass deactivation"
    [notice] = wait_for(lambda: notices(desktop, summary), "the refusal notification")
    assert notice[2].startswith("15 records would be deactivated: user")
    assert " and 12 more." in notice[2] and notice[4] == "CRITICAL"
    time.sleep(0.5)
    desktop.screenshot(artifacts / "notification-refused.png")

    offered = desktop.choose_notification_action("Allow 15 deactivations in csv once")
    # dunst's menu: "#label (summary) [id,key]" for each action of the notification.
    assert offered[0].startswith(f"#Allow 15 deactivations in csv once ({summary}) [")
    assert offered[1].startswith(f"#Open log ({summary}) [")
    wait_for(lambda: len(tray.runs()) == 3, "the allowed run")
    [allowed, refused, _] = tray.runs()
    assert (allowed["outcome"], allowed["deactivated"]) == ("succeeded", 15)
    assert refused["deactivated"] == 0
    assert "csv runs once with the mass-deactivation guard released" in tray.log()
    wait_for(lambda: tray.icon_showing(green, artifacts / "tray-allowed-once.png"), "green")

    # Once: the next run has the guard back.
    (folder / "users.csv").write_text(users_csv(20))
    tray.choose("Sync now")
    wait_for(lambda: len(tray.runs()) == 4, "a run after the allowed one")
    (folder / "users.csv").write_text(users_csv(2))
    tray.choose("Sync now")
    wait_for(lambda: len(tray.runs()) == 5, "a second cut export")
    assert tray.runs()[0]["outcome"] == "refused"


def test_a_refused_mass_deactivation_is_allowed_once_from_the_menu(
    desktop: Desktop, emulator: Emulator, tmp_path: Path, trays: list[Tray], artifacts: Path
) -> None:
    folder = make_settings(tmp_path / "menu", emulator, [GUARDED])
    tray = refused_tray(trays, desktop, folder)
    tray.wait_idle()
    menu = tray.open_menu()
    tray.pointer_off_icon()  # its tooltip would cover the status lines
    desktop.screenshot(artifacts / "tray-menu-allow-once.png")
    desktop.key("Escape")
    wait_for(lambda: not menus(desktop), "the menu to close")
    assert menu["h"] > 150
    tray.choose(ALLOW_ONCE)
    wait_for(lambda: len(tray.runs()) == 3, "the allowed run")
    assert (tray.runs()[0]["outcome"], tray.runs()[0]["deactivated"]) == ("succeeded", 15)
    state = StateStore(folder).status("csv")
    assert state is not None and state.consecutive_failures == 0
