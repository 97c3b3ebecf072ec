"""The settings window never loses an edit, and never undoes one made elsewhere (issue 13).

In this process on the test desktop (Tk in-process, ``tk_root``): the window as the tray
opens it, with a recording ``run_now``. Changes "made elsewhere" are what
``halo-integrator module enable`` does: the settings saved again by another writer.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from core.agent import Agent
from core.settings.model import HaloConnection, Interval, ModuleSettings, Settings
from core.settings.reader import load_settings
from core.settings.secrets import Secret
from core.settings.writer import save_settings
from tray_agent.settings_dialog import open_settings_window
from tray_agent.settings_dialog.external_edits import KEEP_MINE, USE_FILE
from tray_agent.settings_dialog.window import DISCARD, SettingsWindow, _open_windows

from .desktop import Desktop
from .tk_pump import pump_for, pump_until

pytestmark = pytest.mark.gui

CLI = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "halo-integrator")
SECRET = "edits-secret-5d2a"


def folder_with(tmp_path: Path, *modules: ModuleSettings) -> Path:
    folder = tmp_path / "edits"
    connection = HaloConnection("https://acme.halopsa.com", "client", Secret(SECRET))
    settings = Settings.new(folder / "appsettings.json", connection)
    settings.modules += modules
    save_settings(settings)
    return folder


def open_on(root: Any, folder: Path, started: list[Any] | None = None) -> SettingsWindow:
    run_now = started.append if started is not None else None
    open_settings_window(root, Agent(folder, origin="tray"), run_now=run_now)
    window = _open_windows[root]
    pump_until(root, lambda: bool(window.top.winfo_viewable()))
    return window


def elsewhere(folder: Path, *arguments: str) -> None:
    """Another writer changes the file, as an admin at a console does."""
    before = (folder / "appsettings.json").stat().st_mtime_ns
    done = subprocess.run(
        [CLI, *arguments, "--settings", str(folder)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    path = folder / "appsettings.json"
    if path.stat().st_mtime_ns == before:  # a coarse clock: make the change visible
        os.utime(path, ns=(before + 1_000_000_000, before + 1_000_000_000))


def csv(interval: str = "1h") -> ModuleSettings:
    return ModuleSettings(name="csv", interval=Interval.parse(interval), options={"path": "a.csv"})


def test_saving_a_first_module_lists_it_on_processing_and_offers_its_first_run(
    tmp_path: Path, tk_root: Any, tk_desktop: Desktop, artifacts: Path
) -> None:
    folder = folder_with(tmp_path)
    started: list[Any] = []
    window = open_on(tk_root, folder, started)
    assert window.processing.note.cget("text").startswith("No module is configured yet")
    section = next(s for s in window.integrations.sections if s.name == "csv")
    section.enabled.set(True)
    section.fields["path"].variable.set("users.csv")
    window.save()
    pump_until(tk_root, lambda: window.status.cget("text").startswith("Saved"))
    assert list(window.processing.rows) == ["csv"]
    assert window.processing.note.cget("text") == "Runs use the saved settings."
    pump_until(tk_root, lambda: window.run_new_button.winfo_ismapped())
    assert window.run_new_button.cget("text") == "Run csv now"
    pump_for(tk_root, 0.3)
    tk_desktop.screenshot(artifacts / "settings-offer-first-run.png", window=window.top.winfo_id())
    window.run_new_button.invoke()
    assert started == [["csv"]]
    assert not window.run_new_button.winfo_ismapped()
    window.close()


def test_tab_into_a_field_below_the_fold_scrolls_it_into_view(
    tmp_path: Path, tk_root: Any, tk_desktop: Desktop, artifacts: Path
) -> None:
    """No module yet: a section per type, far taller than the tab; Tab walks every field."""
    window = open_on(tk_root, folder_with(tmp_path))
    tab = window.integrations
    window.notebook.select(tab)
    pump_for(tk_root, 0.2)
    canvas = tab.scroller.canvas
    assert tab.scroller.body.winfo_height() > 2 * canvas.winfo_height()
    first = tab.sections[0].fields[next(iter(tab.sections[0].fields))].input
    first.focus_force()
    pump_for(tk_root, 0.1)
    below_the_fold = 0
    for _ in range(60):
        focused = tk_root.focus_get()
        focused.event_generate("<Tab>")
        tk_root.update()
        focused = tk_root.focus_get()
        if not str(focused).startswith(str(tab.scroller.body)):
            break
        top = focused.winfo_rooty() - canvas.winfo_rooty()
        assert top >= 0 and top + focused.winfo_height() <= canvas.winfo_height(), str(focused)
        below_the_fold += canvas.canvasy(0) > 0
    assert below_the_fold > 5
    pump_for(tk_root, 0.3)
    tk_desktop.screenshot(artifacts / "settings-focus-follows.png", window=window.top.winfo_id())
    window.close()


def test_a_change_made_elsewhere_shows_and_save_does_not_undo_it(
    tmp_path: Path, tk_root: Any, tk_desktop: Desktop, artifacts: Path
) -> None:
    folder = folder_with(tmp_path, csv("1h"))
    window = open_on(tk_root, folder)
    [section] = window.integrations.sections
    section.fields["path"].variable.set("users.csv")  # the admin's own edit
    elsewhere(folder, "module", "enable", "csv", "--interval", "2h")
    pump_until(tk_root, lambda: section.interval.get() == "2h")
    assert "changed elsewhere" in window.status.cget("text")
    assert section.fields["path"].value() == "users.csv"  # the edit is kept
    pump_for(tk_root, 0.3)
    tk_desktop.screenshot(
        artifacts / "settings-changed-elsewhere.png", window=window.top.winfo_id()
    )
    window.save()
    pump_until(tk_root, lambda: window.status.cget("text").startswith("Saved"))
    [saved] = load_settings(folder).modules
    assert (saved.interval.text, saved.options["path"]) == ("2h", "users.csv")
    window.close()


@pytest.mark.parametrize(("answer", "kept"), [(KEEP_MINE, "3h"), (USE_FILE, "2h")])
def test_a_field_changed_in_both_places_is_asked_about_on_save(
    tmp_path: Path, tk_root: Any, tk_desktop: Desktop, artifacts: Path, answer: str, kept: str
) -> None:
    folder = folder_with(tmp_path, csv("1h"))
    window = open_on(tk_root, folder)
    [section] = window.integrations.sections
    section.interval.set("3h")
    elsewhere(folder, "module", "enable", "csv", "--interval", "2h")
    pump_until(tk_root, lambda: "differ" in window.status.cget("text"))
    assert section.interval.get() == "3h"
    window.save()
    question = window.edits.question
    assert question is not None and question.exists()
    assert 'csv.Interval: yours "3h", in the file "2h"' in question.text.cget("text")
    assert load_settings(folder).modules[0].interval.text == "2h"  # nothing written yet
    pump_for(tk_root, 0.3)
    tk_desktop.screenshot(artifacts / "settings-conflict.png")
    question.buttons[answer].invoke()
    pump_until(tk_root, lambda: window.status.cget("text").startswith("Saved"))
    assert load_settings(folder).modules[0].interval.text == kept
    assert section.interval.get() == kept
    window.close()


def test_close_and_escape_ask_about_unsaved_edits_and_the_place_is_remembered(
    tmp_path: Path, tk_root: Any, tk_desktop: Desktop, artifacts: Path
) -> None:
    folder = folder_with(tmp_path, csv())
    window = open_on(tk_root, folder)
    window.top.geometry("700x520+40+30")
    pump_until(tk_root, lambda: window.top.winfo_geometry() == "700x520+40+30")
    window.basic.variables["url"].set("https://other.halopsa.com")
    window.close()
    question = window.question
    assert question is not None and question.exists() and window.top.winfo_exists()
    pump_for(tk_root, 0.3)
    tk_desktop.screenshot(artifacts / "settings-unsaved-question.png")
    question.buttons["Cancel"].invoke()
    assert window.top.winfo_exists()
    window.top.focus_force()
    tk_root.update()
    window.top.event_generate("<Escape>", when="now")
    tk_root.update()
    question = window.question
    assert question is not None and question.exists()
    question.buttons[DISCARD].invoke()
    assert not window.top.winfo_exists()
    assert load_settings(folder).halo.url == "https://acme.halopsa.com"

    again = open_on(tk_root, folder)
    assert again.top.winfo_geometry() == "700x520+40+30"
    again.top.focus_force()
    tk_root.update()
    again.top.event_generate("<Escape>", when="now")  # nothing edited: closes at once
    tk_root.update()
    assert not again.top.winfo_exists()
