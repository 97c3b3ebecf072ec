"""The tray's status logic (``TrayApp.refresh``) on a real settings folder, with a fake icon
and notifier: no display, no pystray, and the scheduler thread is never started; a test that
runs a module calls ``_run_module``, which runs it in a real child process."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from core.agent import Agent
from core.outcomes import RunCounts
from core.settings.model import HaloConnection, ModuleSettings, Settings
from core.settings.secrets import Secret
from core.settings.writer import save_settings
from core.state.store import StateStore
from tray_agent.app import TrayApp
from tray_agent.tray_state import ERROR, NOT_CONFIGURED, NOT_RUN_YET, OK


class FakeIcon:
    def __init__(self) -> None:
        self.icon: object = None
        self.title = ""

    def update_menu(self) -> None:
        pass


class FakeNotifier:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.urgencies: list[str] = []
        self.actions: list[list[str]] = []

    def notify(self, title: str, text: str, *, urgency: str = "normal", actions=()) -> None:
        self.sent.append((title, text))
        self.urgencies.append(urgency)
        self.actions.append([action.label for action in actions])


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "settings"
    connection = HaloConnection(
        url="https://halo.example.com", client_id="id", client_secret=Secret("secret-1")
    )
    settings = Settings.new(folder / "appsettings.json", connection)
    settings.modules.append(
        ModuleSettings(name="csv", options={"path": "users.csv", "target": "users"})
    )
    save_settings(settings)
    return folder


def tray_on(folder: Path) -> tuple[TrayApp, FakeIcon, FakeNotifier]:
    app = TrayApp(None, Agent(folder / "appsettings.json", origin="tray"), pystray=None)
    icon, notifier = FakeIcon(), FakeNotifier()
    app.icon, app.notifier = icon, notifier  # type: ignore[assignment]
    app.policy.seed(app._load_schedules() or [])  # what start() does before the icon shows
    return app, icon, notifier


def edit(folder: Path, change) -> None:  # type: ignore[no-untyped-def]
    """Change appsettings.json by hand, as an admin in an editor would."""
    path = folder / "appsettings.json"
    data = json.loads(path.read_text())
    change(data)
    write(path, json.dumps(data, indent=2))


def write(path: Path, text: str) -> None:
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    # A coarse file-system clock could give the same mtime to two quick edits.
    os.utime(path, ns=(before + 1_000_000_000, before + 1_000_000_000))


def record_run(folder: Path, outcome: str, error: str | None = None) -> None:
    store = StateStore(folder)
    store.finish_run(store.start_run("csv", "auto"), "csv", outcome, RunCounts(), error)


def test_an_edited_interval_is_picked_up_on_the_next_poll(folder: Path) -> None:
    app, icon, _ = tray_on(folder)
    assert app.scheduler.next_run("csv") == pytest.approx(time.time() + 3600, abs=5)
    edit(folder, lambda data: data["Modules"][0].update(Interval="10m"))
    app.refresh()
    assert app.scheduler.next_run("csv") == pytest.approx(time.time() + 600, abs=5)
    assert "next run" in icon.title


def test_a_module_disabled_in_the_file_leaves_the_menu_and_the_schedule(folder: Path) -> None:
    app, _, _ = tray_on(folder)
    app.refresh()
    assert app.view.module_states == {"csv": "not run yet"}
    assert app.view.state == NOT_RUN_YET  # enabled, never ran: not green
    edit(folder, lambda data: data["Modules"][0].update(Enabled=False))
    app.refresh()
    assert app.view.module_states == {}
    assert app.view.state == NOT_CONFIGURED
    assert app.scheduler.next_run("csv") is None


def test_a_broken_file_keeps_the_old_settings_shows_an_error_and_notifies_once(
    folder: Path,
) -> None:
    app, icon, notifier = tray_on(folder)
    record_run(folder, "succeeded")
    app.refresh()
    assert app.view.state == OK and notifier.sent == []
    path = folder / "appsettings.json"
    good = path.read_text()
    write(path, good.replace('"Interval": "1h"', '"Interval": "every now and then"'))
    app.refresh()
    app.refresh()
    assert app.view.state == ERROR
    assert "appsettings.json, line" in icon.title and "Interval" in icon.title
    [(title, text)] = notifier.sent
    assert title == "Halo Integrator (settings): settings problem" and "Interval" in text
    assert notifier.urgencies == ["critical"] and notifier.actions == [["Settings…"]]
    assert app.scheduler.next_run("csv") is not None  # still running on the old settings
    assert app.view.module_states == {"csv": OK}

    write(path, good.replace('"Interval": "1h"', '"Interval": "15m"'))  # fixed
    app.refresh()
    assert app.view.state == OK and "line" not in icon.title
    assert app.scheduler.next_run("csv") == pytest.approx(time.time() + 900, abs=5)
    write(path, "{")  # broken again: a new notice for a new problem
    app.refresh()
    assert len(notifier.sent) == 2 and "line 1" in notifier.sent[1][1]


def test_settings_that_never_loaded_are_an_error_but_a_missing_file_is_not(
    folder: Path, tmp_path: Path
) -> None:
    write(folder / "appsettings.json", '{"Halo": {"Url": "not a url"}}')
    app, icon, notifier = tray_on(folder)
    app.refresh()
    assert app.view.state == ERROR and "Halo" in icon.title
    assert [title for title, _ in notifier.sent] == ["Halo Integrator (settings): settings problem"]

    empty, _, quiet = tray_on(tmp_path / "no-settings-yet")
    empty.refresh()
    assert empty.view.state == NOT_CONFIGURED and "configure" in empty.view.tooltip
    assert quiet.sent == []


def test_a_file_created_after_start_is_loaded(folder: Path, tmp_path: Path) -> None:
    other = tmp_path / "later"
    app, _, _ = tray_on(other)
    other.mkdir(exist_ok=True)
    write(other / "appsettings.json", (folder / "appsettings.json").read_text())
    (other / "appsettings.key").write_bytes((folder / "appsettings.key").read_bytes())
    app.refresh()
    assert app.view.module_states == {"csv": "not run yet"}


def test_an_error_the_state_db_had_before_the_start_is_not_notified_again(folder: Path) -> None:
    record_run(folder, "failed", "The file users.csv does not exist.")
    app, _, notifier = tray_on(folder)
    app.refresh()
    assert app.view.state == ERROR and notifier.sent == []
    record_run(folder, "succeeded")
    app.refresh()
    assert notifier.sent == [
        ("Halo Integrator (settings): csv recovered", "The last run succeeded again.")
    ]
    assert notifier.urgencies == ["normal"]


def test_a_failing_module_waits_out_its_back_off_after_a_restart(folder: Path) -> None:
    for _ in range(10):
        record_run(folder, "failed", "Halo rejected the client secret.")
    app, _, _ = tray_on(folder)
    [health] = app.agent.statuses()
    assert not app.scheduler.overdue("csv", health.last_run_at)
    assert app.scheduler.next_run("csv") == pytest.approx(time.time() + 3600, abs=5)


def test_invalid_module_options_show_as_that_module_s_error_notified_once(folder: Path) -> None:
    edit(folder, lambda data: data["Modules"][0]["Options"].update(colour="blue"))
    app, icon, notifier = tray_on(folder)
    assert app._run_module("csv") is False  # the runner records the refusal as a failed run
    app.refresh()
    app.refresh()
    assert app.view.state == ERROR and "colour" in icon.title
    [(title, text)] = notifier.sent
    assert title == "Halo Integrator (settings): csv failed" and "colour" in text
    assert notifier.urgencies == ["critical"]
    assert notifier.actions == [["Open log", "Settings…"]]


def test_a_run_that_cannot_start_is_the_tray_s_problem_until_it_can(folder: Path) -> None:
    app, icon, notifier = tray_on(folder)
    assert app._run_module("no-such-module") is False
    app.refresh()
    assert app.view.state == ERROR and "no-such-module" in icon.title
    assert len(notifier.sent) == 1
    edit(folder, lambda data: data["Modules"][0].update(Interval="30m"))
    app.refresh()  # a good read of the settings clears it
    assert app.view.state != ERROR


def test_the_menu_lines_name_the_folder_and_a_source_file_by_its_name(folder: Path) -> None:
    app, _, _ = tray_on(folder)
    record_run(folder, "failed", f"The file {folder / 'users.csv'} does not exist.")
    app.refresh()
    assert app.view.status_lines[0] == "Halo Integrator (settings): error"
    assert app.view.status_lines[2] == "csv: The file users.csv does not exist."
    assert app.view.module_lines["csv"].startswith("csv — error · last ")
