"""The Processing tab's live log names each line's module and says a failure once (issue 13).

In this process on the test desktop (``tk_root``), two csv instances run against the Halo
emulator through the window's own Start all: one fails (its file is missing), one succeeds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.agent import Agent
from core.settings.model import HaloConnection, ModuleSettings, Settings
from core.settings.secrets import Secret
from core.settings.writer import save_settings
from halo_emulator import Emulator
from tray_agent.settings_dialog import open_settings_window
from tray_agent.settings_dialog.window import _open_windows

from .desktop import Desktop
from .tk_pump import pump_until

pytestmark = pytest.mark.gui

SECRET = "live-log-secret-0b7e"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(client_secret=SECRET, rate_limit=None) as emu:
        yield emu


def test_each_line_names_its_module_and_a_failure_is_said_once(
    tk_desktop: Desktop, emulator: Emulator, tmp_path: Path, tk_root: Any
) -> None:
    folder = tmp_path / "live"
    connection = HaloConnection(emulator.base_url, emulator.client_id, Secret(SECRET))
    settings = Settings.new(folder / "appsettings.json", connection)
    settings.modules += [
        ModuleSettings(name="hr", type="csv", options={"path": "missing.csv"}),
        ModuleSettings(name="staff", type="csv", options={"path": "staff.csv"}),
    ]
    save_settings(settings)
    (folder / "staff.csv").write_text("emailaddress,firstname,surname\ns@example.com,S,T\n")
    open_settings_window(tk_root, Agent(folder))
    window = _open_windows[tk_root]
    window.notebook.select(window.processing)
    window.processing.start_all_button.invoke()
    log = window.processing.log
    pump_until(tk_root, lambda: "staff succeeded" in log.get("1.0", "end"))
    lines = log.get("1.0", "end-1c").splitlines()

    failure_lines = [line for line in lines if "hr failed" in line]
    assert len(failure_lines) == 1 and "missing.csv does not exist" in failure_lines[0]
    assert any("hr before it failed: 0 created" in line for line in lines)
    # The reader's own line does not say which instance read: the tail adds it.
    assert any(line.split()[2:4] == ["staff:", "Read"] for line in lines), lines
    window.close()
