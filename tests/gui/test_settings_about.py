"""The About tab: Open Halo, Copy diagnostics and Save diagnostics bundle (issue 13).

In this process on the test desktop (``tk_root``). Secrets are planted in the settings, in a
run's error and in a log line; the clipboard text and every member of the saved zip are
searched for each of them. The bundle's file name is typed into Tk's own save chooser.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest

from core.agent import Agent
from core.outcomes import RunCounts
from core.settings.model import HaloConnection, ModuleSettings, Settings
from core.settings.secrets import KEY_FILE_NAME, Secret
from core.settings.writer import save_settings
from core.state.store import StateStore
from tray_agent.settings_dialog import open_settings_window
from tray_agent.settings_dialog.window import SettingsWindow, _open_windows

from .desktop import Desktop
from .tk_pump import pump_for, pump_until
from .tray_driver import fake_opener

pytestmark = pytest.mark.gui

CLIENT_SECRET = "about-client-secret-81fe"
BIND_PASSWORD = "about-bind-password-22c0"
HALO_URL = "https://acme.halopsa.com"


def planted(tmp_path: Path) -> tuple[Path, list[str]]:
    folder = tmp_path / "about"
    settings = Settings.new(
        folder / "appsettings.json", HaloConnection(HALO_URL, "agent", Secret(CLIENT_SECRET))
    )
    settings.modules.append(
        ModuleSettings(
            name="ad",
            type="ldap",
            options={"server": "ldaps://dc1", "bind_password": Secret(BIND_PASSWORD)},
        )
    )
    save_settings(settings)
    state = StateStore(folder)
    run = state.start_run("ad", "tray")
    state.finish_run(run, "ad", "failed", RunCounts(), f"bind refused ({BIND_PASSWORD})")
    (folder / "logs").mkdir()
    (folder / "logs" / "tray.log").write_text(f"tray started; {CLIENT_SECRET}\n")
    key = (folder / KEY_FILE_NAME).read_text().split()
    return folder, [CLIENT_SECRET, BIND_PASSWORD, *key]


def open_about(root: Any, folder: Path) -> SettingsWindow:
    open_settings_window(root, Agent(folder))
    window = _open_windows[root]
    window.notebook.select(window.about)
    pump_until(root, lambda: bool(window.about.winfo_viewable()))
    return window


def test_copy_diagnostics_puts_versions_and_runs_on_the_clipboard_without_secrets(
    tk_desktop: Desktop, tmp_path: Path, tk_root: Any
) -> None:
    folder, secrets = planted(tmp_path)
    window = open_about(tk_root, folder)
    window.about.copy_button.invoke()
    pump_until(tk_root, lambda: window.about.result.cget("text").startswith("Copied"))
    text = tk_root.clipboard_get()
    assert "Halo Integrator: 0.1.0" in text and "ad failed" in text
    assert '"bind_password": "(removed: secret)"' in text
    assert not [secret for secret in secrets if secret in text]
    window.close()


def test_save_diagnostics_bundle_writes_a_zip_without_any_secret(
    tk_desktop: Desktop, tmp_path: Path, tk_root: Any, artifacts: Path
) -> None:
    folder, secrets = planted(tmp_path)
    target = tmp_path / "ticket" / "support.zip"
    target.parent.mkdir()
    window = open_about(tk_root, folder)
    dialog = f"{window.about}.__tk_filedialog"

    def answer_the_chooser() -> None:
        if not tk_root.tk.call("winfo", "exists", dialog):
            tk_root.after(50, answer_the_chooser)
            return
        entry = f"{dialog}.contents.f2.ent"
        tk_root.tk.call(entry, "delete", 0, "end")
        tk_root.tk.call(entry, "insert", 0, str(target))
        tk_root.tk.call(f"{dialog}.contents.f2.ok", "invoke")

    tk_root.after(50, answer_the_chooser)
    window.about.save_button.invoke()
    pump_until(tk_root, lambda: window.about.result.cget("text").startswith("Saved"))
    assert str(target) in window.about.result.cget("text")
    with zipfile.ZipFile(target) as bundle:
        members = {name: bundle.read(name).decode() for name in bundle.namelist()}
    assert {"summary.txt", "settings.json", "runs.json", "logs/tray.log"} <= set(members)
    for name, text in members.items():
        assert not [secret for secret in secrets if secret in text], name
    pump_for(tk_root, 0.3)
    shot = artifacts / "settings-about-diagnostics.png"
    tk_desktop.screenshot(shot, window=window.top.winfo_id())
    window.close()


def test_open_halo_opens_the_instance_url(
    tk_desktop: Desktop, tmp_path: Path, tk_root: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, _ = planted(tmp_path)
    for name, value in fake_opener(tmp_path, 0).items():
        monkeypatch.setenv(name, value)
    window = open_about(tk_root, folder)
    window.about.open_halo_button.invoke()
    opened = tmp_path / "opened.txt"
    pump_until(tk_root, lambda: opened.exists() and bool(opened.read_text()))
    assert opened.read_text().split() == [HALO_URL]
    window.close()
