"""The Integrations tab speaks the schema's language, and Preview shows a run before it happens.

In this process on the test desktop (``tk_root``), against the Halo emulator over HTTP: the
labels and help come from the options schema, options that do not apply are hidden, Browse…
drives Tk's real file chooser, ticked boxes show a tick, and Preview is a dry run that says
what would be created, updated and deactivated while Halo and the state DB stay as they were.
Screenshots go to test-artifacts/ for a person to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from core.agent import Agent
from core.halo.client import HaloClient
from core.settings.model import HaloConnection, ModuleSettings, Settings
from core.settings.secrets import Secret
from core.settings.writer import save_settings
from core.state.store import StateStore
from halo_emulator import Emulator
from tray_agent.settings_dialog import open_settings_window
from tray_agent.settings_dialog.tick_box import TICKED_FILL
from tray_agent.settings_dialog.window import SettingsWindow, _open_windows

from .desktop import Desktop
from .tk_pump import pump_for, pump_until

pytestmark = pytest.mark.gui

SECRET = "integrations-secret-3f9a"
TICK_PIXELS = 60  # a 15 x 15 box is 169 fill pixels, less the tick; the cross has none


def users_csv(*rows: tuple[str, str]) -> str:
    return "emailaddress,firstname,surname\n" + "".join(
        f"{email},Preview,{surname}\n" for email, surname in rows
    )


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(client_secret=SECRET, rate_limit=None) as emu:
        yield emu


def open_on(root: Any, folder: Path) -> SettingsWindow:
    open_settings_window(root, Agent(folder))
    window = _open_windows[root]
    window.notebook.select(window.integrations)
    pump_until(root, lambda: bool(window.integrations.winfo_viewable()))
    return window


def folder_for(tmp_path: Path, emulator: Emulator, **options: Any) -> Path:
    folder = tmp_path / "integrations"
    connection = HaloConnection(emulator.base_url, emulator.client_id, Secret(SECRET))
    settings = Settings.new(folder / "appsettings.json", connection)
    settings.modules.append(
        ModuleSettings(name="csv", options={"path": "users.csv", "target": "users", **options})
    )
    save_settings(settings)
    return folder


def halo_users(emu: Emulator) -> list[tuple[str, str, bool]]:
    """(address, surname, inactive) of the preview's users in Halo, over the API."""
    connection = HaloConnection(emu.base_url, emu.client_id, Secret(emu.client_secret))
    with HaloClient(connection) as halo:
        return sorted(
            (str(user["emailaddress"]), str(user.get("surname")), bool(user.get("inactive")))
            for user in halo.iter_records("Users", {"includeinactive": "true"})
            if str(user.get("emailaddress", "")).startswith("p")
        )


def grab(desktop: Desktop, window: SettingsWindow, path: Path) -> Image.Image:
    desktop.screenshot(path, window=window.top.winfo_id())
    with Image.open(path) as image:
        return image.convert("RGB")


def colour_pixels(image: Image.Image, colour: str) -> int:
    wanted = tuple(int(colour[index : index + 2], 16) for index in (1, 3, 5))
    return sum(count for count, rgb in image.getcolors(1 << 24) or [] if rgb == wanted)


def test_fields_are_labelled_from_the_schema_and_hidden_where_they_do_not_apply(
    tk_desktop: Desktop, emulator: Emulator, tmp_path: Path, tk_root: Any, artifacts: Path
) -> None:
    folder = folder_for(tmp_path, emulator)
    window = open_on(tk_root, folder)
    [section] = window.integrations.sections
    fields = section.fields
    assert fields["path"].label.cget("text") == "CSV file *"
    assert fields["max_deactivate_percent"].label.cget("text") == "Max % deactivated per run"
    assert "relative to the settings folder" in fields["path"].help.cget("text")
    # The asset type is for an assets import only; it appears when the rows become assets.
    assert not fields["assettype_id"].input.winfo_ismapped()
    fields["target"].variable.set("assets")
    pump_until(tk_root, lambda: bool(fields["assettype_id"].input.winfo_ismapped()))
    fields["target"].variable.set("users")
    pump_until(tk_root, lambda: not fields["assettype_id"].input.winfo_ismapped())
    # Without deactivation the guard's share means nothing: hidden, its value kept.
    fields["deactivate_missing"].variable.set(False)
    pump_until(tk_root, lambda: not fields["max_deactivate_percent"].input.winfo_ismapped())
    assert section.form().options["max_deactivate_percent"] == "10"
    fields["deactivate_missing"].variable.set(True)
    pump_until(tk_root, lambda: bool(fields["max_deactivate_percent"].input.winfo_ismapped()))

    # Enabled and "Deactivate missing rows" are ticked: the box shows a tick on a blue fill.
    pump_for(tk_root, 0.3)
    image = grab(tk_desktop, window, artifacts / "settings-integrations-labels.png")
    assert colour_pixels(image, TICKED_FILL) > 2 * TICK_PIXELS
    window.close()


def test_browse_fills_the_path_from_tks_file_chooser_relative_to_the_folder(
    tk_desktop: Desktop, emulator: Emulator, tmp_path: Path, tk_root: Any
) -> None:
    folder = folder_for(tmp_path, emulator)
    (folder / "exports").mkdir()
    chosen = folder / "exports" / "staff.csv"
    chosen.write_text(users_csv(("a@example.com", "A")), encoding="utf-8")
    window = open_on(tk_root, folder)
    field = window.integrations.sections[0].fields["path"]
    dialog = f"{field.input}.__tk_filedialog"

    def answer_the_chooser() -> None:
        """Type the file's path into Tk's own chooser and press its Open button."""
        if not tk_root.tk.call("winfo", "exists", dialog):
            tk_root.after(50, answer_the_chooser)
            return
        entry = f"{dialog}.contents.f2.ent"
        tk_root.tk.call(entry, "delete", 0, "end")
        tk_root.tk.call(entry, "insert", 0, str(chosen))
        tk_root.tk.call(f"{dialog}.contents.f2.ok", "invoke")

    tk_root.after(50, answer_the_chooser)
    field.browse_button.invoke()  # returns once the chooser closed
    assert field.variable.get() == str(Path("exports") / "staff.csv")
    window.close()


def test_preview_shows_creates_updates_and_deactivations_and_writes_nothing(
    tk_desktop: Desktop, emulator: Emulator, tmp_path: Path, tk_root: Any, artifacts: Path
) -> None:
    folder = folder_for(tmp_path, emulator, max_deactivate_percent=50)
    (folder / "users.csv").write_text(
        users_csv(
            ("p1@example.com", "One"), ("p2@example.com", "Two"), ("p3@example.com", "Three")
        ),
        encoding="utf-8",
    )
    [first] = Agent(folder).run()
    assert first.counts.created == 3
    # Since that run: p2 renamed, p3 gone, p4 new.
    (folder / "users.csv").write_text(
        users_csv(
            ("p1@example.com", "One"), ("p2@example.com", "Renamed"), ("p4@example.com", "Four")
        ),
        encoding="utf-8",
    )
    runs_before = StateStore(folder).recent_runs("csv")
    halo_before = halo_users(emulator)
    assert len(halo_before) == 3
    window = open_on(tk_root, folder)
    section = window.integrations.sections[0]
    section.preview_button.invoke()
    pump_until(tk_root, lambda: "Would create" in section.preview.content())
    text = section.preview.content()
    assert "Would create 1, update 1 and deactivate 1 (1 unchanged)" in text, text
    assert "Nothing was written to Halo" in text
    for line in (
        "create line 4: Preview Four",
        "update line 3: Preview Renamed",
        "deactivate p3@example.com",
    ):
        assert line in text, text
    assert str(section.preview_button.cget("state")) != "disabled"
    assert StateStore(folder).recent_runs("csv") == runs_before
    assert halo_users(emulator) == halo_before

    window.integrations.scroller.scroll_into_view(section.preview)
    pump_for(tk_root, 0.3)
    grab(tk_desktop, window, artifacts / "settings-preview.png")
    window.close()


def test_preview_of_an_unsaved_form_uses_what_the_form_says(
    tk_desktop: Desktop, emulator: Emulator, tmp_path: Path, tk_root: Any
) -> None:
    folder = folder_for(tmp_path, emulator)
    (folder / "other.csv").write_text(users_csv(("o1@example.com", "O")), encoding="utf-8")
    window = open_on(tk_root, folder)
    section = window.integrations.sections[0]
    section.fields["path"].variable.set("other.csv")  # not saved
    section.preview_button.invoke()
    pump_until(tk_root, lambda: "Would create" in section.preview.content())
    assert "create line 2: Preview O" in section.preview.content()
    section.fields["path"].variable.set("missing.csv")
    section.preview_button.invoke()
    pump_until(tk_root, lambda: "Preview failed" in section.preview.content())
    assert "missing.csv" in section.preview.content()
    assert section.fields["path"].variable.get() == "missing.csv"
    window.close()
