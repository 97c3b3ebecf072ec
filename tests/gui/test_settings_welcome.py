"""The first-run path: a folder with nothing configured opens on the welcome (issue 13).

In this process on the test desktop (``tk_root``), against the Halo emulator: the welcome
says where Halo shows the client ID and secret, then each step is ticked as the admin does
it (connection typed, Validate, a module enabled, Save) and the first run is one button away.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.agent import Agent
from core.settings.model import HaloConnection, ModuleSettings, Settings
from core.settings.reader import load_settings
from core.settings.secrets import Secret
from core.settings.writer import save_settings
from halo_emulator import Emulator
from tray_agent.settings_dialog import open_settings_window
from tray_agent.settings_dialog.window import _open_windows

from .desktop import Desktop
from .tk_pump import pump_for, pump_until

pytestmark = pytest.mark.gui

SECRET = "welcome-secret-6a0c"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(client_secret=SECRET, rate_limit=None) as emu:
        yield emu


def test_a_new_folder_is_led_from_the_welcome_to_its_first_run(
    tk_desktop: Desktop, emulator: Emulator, tmp_path: Path, tk_root: Any, artifacts: Path
) -> None:
    folder = tmp_path / "first"
    folder.mkdir()
    (folder / "users.csv").write_text("emailaddress,firstname,surname\nw@example.com,W,X\n")
    started: list[Any] = []
    open_settings_window(tk_root, Agent(folder, origin="tray"), run_now=started.append)
    window = _open_windows[tk_root]
    welcome = window.guide.tab
    assert welcome is not None
    pump_until(tk_root, lambda: bool(welcome.winfo_viewable()))
    assert window.notebook.select() == str(welcome)
    text = " ".join(
        str(child.cget("text")) for child in welcome.winfo_children() if "label" in str(child)
    )
    assert "Configuration > Integrations > Halo Integrator" in text
    assert "Generate Client Secret" in text and "logs in as" in text
    pump_for(tk_root, 0.3)
    tk_desktop.screenshot(artifacts / "settings-welcome.png", window=window.top.winfo_id())

    welcome.buttons["connect"].invoke()
    assert window.notebook.select() == str(window.basic)
    window.basic.variables["url"].set(emulator.base_url)
    window.basic.variables["client_id"].set(emulator.client_id)
    window.basic.variables["client_secret"].set(SECRET)
    welcome.buttons["validate"].invoke()
    pump_until(tk_root, lambda: welcome.done() == ["connect", "validate"])

    welcome.buttons["module"].invoke()
    assert window.notebook.select() == str(window.integrations)
    csv = next(section for section in window.integrations.sections if section.type == "csv")
    csv.enabled.set(True)
    csv.fields["path"].variable.set("users.csv")
    window.notebook.select(welcome)
    pump_until(tk_root, lambda: welcome.done() == ["connect", "validate", "module"])

    welcome.buttons["save"].invoke()
    pump_until(tk_root, lambda: "save" in welcome.done())
    assert [module.name for module in load_settings(folder).modules] == ["csv"]
    button = window.run_new_button
    pump_until(tk_root, lambda: bool(button.winfo_ismapped()))
    assert button.cget("text") == "Run csv now"
    button.invoke()
    assert started == [["csv"]]
    pump_for(tk_root, 0.3)
    tk_desktop.screenshot(artifacts / "settings-welcome-done.png", window=window.top.winfo_id())
    window.close()


def test_a_folder_with_a_module_opens_without_the_welcome(tmp_path: Path, tk_root: Any) -> None:
    folder = tmp_path / "configured"
    connection = HaloConnection("https://acme.halopsa.com", "client", Secret(SECRET))
    settings = Settings.new(folder / "appsettings.json", connection)
    settings.modules.append(ModuleSettings(name="csv", options={"path": "users.csv"}))
    save_settings(settings)
    open_settings_window(tk_root, Agent(folder))
    window = _open_windows[tk_root]
    assert window.guide.tab is None
    assert window.notebook.select() == str(window.basic)
    window.close()


def test_the_advanced_connection_fields_line_up_with_the_main_ones(
    tmp_path: Path, tk_root: Any, tk_desktop: Desktop, artifacts: Path
) -> None:
    folder = tmp_path / "aligned"
    connection = HaloConnection("https://acme.halopsa.com", "client", Secret(SECRET))
    settings = Settings.new(folder / "appsettings.json", connection)
    settings.modules.append(ModuleSettings(name="csv", options={"path": "users.csv"}))
    save_settings(settings)
    open_settings_window(tk_root, Agent(folder))
    window = _open_windows[tk_root]
    entries = window.basic.entries
    pump_until(tk_root, lambda: bool(entries["auth_url"].winfo_viewable()))
    lefts = {name: entry.winfo_rootx() for name, entry in entries.items()}
    widths = {name: entry.winfo_width() for name, entry in entries.items()}
    assert len(set(lefts.values())) == 1, lefts
    assert len(set(widths.values())) == 1, widths
    tk_desktop.screenshot(artifacts / "settings-basic-aligned.png", window=window.top.winfo_id())
    window.close()
