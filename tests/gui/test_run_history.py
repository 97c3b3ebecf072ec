"""The Processing tab's recent runs: real runs against the emulator, read from the state DB,
shown in the table, and each run's own log opened from it (in this process, on Xvfb)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.agent import Agent
from core.run.request import RunRequest
from core.settings.model import ModuleSettings
from halo_emulator import Emulator
from tray_agent.settings_dialog import open_settings_window
from tray_agent.settings_dialog.window import _open_windows

from .desktop import Desktop
from .tk_pump import pump_for, pump_until
from .tray_driver import SECRET, fake_opener, make_settings, users_csv

pytestmark = pytest.mark.gui


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(client_secret=SECRET, rate_limit=None) as emu:
        yield emu


def test_recent_runs_show_when_how_long_outcome_and_counts_and_open_their_logs(
    tmp_path: Path,
    emulator: Emulator,
    tk_root: Any,
    tk_desktop: Desktop,
    artifacts: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = make_settings(
        tmp_path / "history", emulator, [ModuleSettings(name="csv", options={"path": "u.csv"})]
    )
    (folder / "u.csv").write_text(users_csv(3))
    agent = Agent(folder, origin="cli")
    [first] = agent.run(RunRequest.of(["csv"]))
    (folder / "u.csv").unlink()
    [second] = agent.run(RunRequest.of(["csv"]))
    assert (first.outcome, second.outcome) == ("succeeded", "failed")
    for name, value in fake_opener(tmp_path, exit_code=0).items():
        monkeypatch.setenv(name, value)

    open_settings_window(tk_root, Agent(folder, origin="tray"), run_now=lambda names: None)
    window = _open_windows[tk_root]
    window.notebook.select(window.processing)
    history = window.processing.history
    pump_until(tk_root, lambda: len(history.rows) == 2)
    newest, oldest = list(history.rows.values())
    assert (newest.outcome, oldest.outcome) == ("failed", "succeeded")
    assert (oldest.created, oldest.updated, oldest.failed) == (3, 0, 0)
    assert newest.origin == "cli" and newest.duration.endswith("s")
    assert "does not exist" in history.detail.cget("text")  # the newest is selected
    pump_for(tk_root, 0.3)
    tk_desktop.screenshot(artifacts / "settings-run-history.png", window=window.top.winfo_id())

    history.table.selection_set(list(history.rows)[1])
    tk_root.update()
    history.open_button.invoke()
    opened = tmp_path / "opened.txt"
    pump_until(tk_root, lambda: opened.exists() and bool(opened.read_text().strip()))
    assert opened.read_text().strip() == str(first.log_file)
    assert "csv succeeded" in Path(first.log_file or "").read_text()

    # A run that ends while the window is open adds its row (its events reach the window).
    (folder / "u.csv").write_text(users_csv(3))
    window.agent.run(RunRequest.of(["csv"]))
    pump_until(tk_root, lambda: len(history.rows) == 3)
    assert next(iter(history.rows.values())).outcome == "succeeded"
    assert os.environ["FAKE_OPEN_EXIT"] == "0"
    window.close()
