"""The settings dialog as an admin meets it: a real process on a real (virtual) desktop.

``halo-integrator settings -v`` runs under Xvfb against a Halo emulator; xdotool types into
it and presses its keyboard shortcuts (Alt+V validate, Ctrl+S save, Alt+B/I/P/A tabs). The
tests read what the dialog logs to stderr (what an admin sees in a console and in the log
tail) and the colours on screen, and leave a screenshot of every tab in test-artifacts/.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops

from core.halo.client import HaloClient
from core.modules.base import SyncModule
from core.modules.options import option
from core.run.context import RunContext
from core.settings.model import HaloConnection, ModuleSettings, Settings
from core.settings.secrets import Secret
from core.settings.writer import save_settings
from halo_emulator import Emulator
from tray_agent.settings_dialog.widgets import ERROR_BACKGROUND, OK_BACKGROUND, OK_BAR

from .desktop import Desktop
from .tk_pump import pump_until

pytestmark = pytest.mark.gui

CLI = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "halo-integrator")
TITLE = "Halo Integrator settings"
SECRET = "dialog-secret-7c1e"
TIMEOUT_SECONDS = 20
# The validation banner is about 780 x 40 pixels; text covers part of it.
BANNER_PIXELS = 3_000
BAR_PIXELS = 1_500  # a full 200 x 16 bar; an empty or running one has none of this green
USERS_CSV = "emailaddress,firstname,surname\n" + "".join(
    f"dialog{n}@example.com,Dialog,User{n}\n" for n in range(1, 4)
)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(client_secret=SECRET, rate_limit=None) as emu:
        yield emu


class Dialog:
    """A running ``halo-integrator settings`` process and its window."""

    def __init__(self, desktop: Desktop, folder: Path, artifacts: Path) -> None:
        self.desktop, self.artifacts = desktop, artifacts
        self.process = subprocess.Popen(
            [CLI, "settings", "-v", "--settings", str(folder)],
            env=desktop.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.window = desktop.wait_for_window(TITLE, timeout=TIMEOUT_SECONDS)
        # No window manager: keys go to the window under the pointer; park it on the dialog.
        subprocess.run(
            ["xdotool", "mousemove", str(self.window["x"] + 400), str(self.window["y"] + 300)],
            env=desktop.env,
            check=True,
        )

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for_line(self, text: str) -> str:
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            hits = [line for line in self.lines if text in line]
            if hits:
                return hits[-1]
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no {text!r} in the dialog's output:\n" + "\n".join(self.lines))

    def grab(self) -> Image.Image:
        path = self.desktop.folder / "grab.png"
        self.desktop.screenshot(path, window=self.window["id"])
        with Image.open(path) as image:
            return image.convert("RGB")

    def settled(self, after: Callable[[], None] | None = None) -> Image.Image:
        """Screenshot once the window changed (when ``after`` acts) and stopped changing."""
        before = self.grab()
        if after is not None:
            after()
        deadline = time.monotonic() + TIMEOUT_SECONDS
        previous = before
        while time.monotonic() < deadline:
            time.sleep(0.1)
            current = self.grab()
            changed = after is None or _differ(current, before)
            if changed and not _differ(current, previous):
                return current
            previous = current
        raise AssertionError("the window did not settle")

    def close(self) -> int:
        """Press the Close button (bottom right of the window) and return the exit code.

        Pressed once the window is still: a save re-lays out the footer and may switch tabs,
        and a click in the middle of that once closed nothing."""
        self.settled()
        window = self.window
        self.desktop.click(window["x"] + window["w"] - 60, window["y"] + window["h"] - 22)
        try:
            return self.process.wait(TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            shot = self.desktop.screenshot(self.artifacts / "settings-close-ignored.png")
            raise AssertionError(
                f"Close did not end the dialog (screen: {shot}); its output:\n"
                + "\n".join(self.lines)
            ) from None

    def close_discarding(self) -> int:
        """Close with unsaved edits: the question comes up; answer Discard (Alt+D)."""
        window = self.window
        self.desktop.click(window["x"] + window["w"] - 60, window["y"] + window["h"] - 22)
        question = self.desktop.wait_for_window("Unsaved changes", timeout=TIMEOUT_SECONDS)
        assert self.process.poll() is None  # still open: asked, not discarded
        x, y = question["x"] + question["w"] // 2, question["y"] + question["h"] // 2
        subprocess.run(["xdotool", "mousemove", str(x), str(y)], env=self.desktop.env, check=True)
        self.desktop.key("alt+d")
        return self.process.wait(TIMEOUT_SECONDS)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(TIMEOUT_SECONDS)
        self.reader.join(TIMEOUT_SECONDS)
        assert self.process.stdout is not None
        self.process.stdout.close()


@pytest.fixture
def open_dialog(desktop: Desktop, artifacts: Path) -> Iterator[Callable[[Path], Dialog]]:
    dialogs: list[Dialog] = []

    def start(folder: Path) -> Dialog:
        dialogs.append(Dialog(desktop, folder, artifacts))
        return dialogs[-1]

    yield start
    for dialog in dialogs:
        dialog.stop()


def _differ(first: Image.Image, second: Image.Image) -> bool:
    return ImageChops.difference(first, second).getbbox() is not None


def pixels_of(image: Image.Image, colour: str) -> int:
    """How many pixels have exactly this colour (the banner background is a flat fill)."""
    wanted = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return sum(count for count, rgb in image.getcolors(1 << 24) or [] if rgb == wanted)


def halo_users(emu: Emulator) -> list[dict[str, Any]]:
    connection = HaloConnection(emu.base_url, emu.client_id, Secret(emu.client_secret))
    with HaloClient(connection) as halo:
        return [
            user
            for user in halo.iter_records("Users", {"includeinactive": "true"})
            if str(user.get("emailaddress", "")).startswith("dialog")
        ]


def test_typed_connection_validates_red_then_green_and_saves_what_auto_runs(
    desktop: Desktop,
    emulator: Emulator,
    open_dialog: Callable[[Path], Dialog],
    tmp_path: Path,
    artifacts: Path,
) -> None:
    folder = tmp_path / "Halo 5 Mins"
    folder.mkdir()
    (folder / "users.csv").write_text(USERS_CSV, encoding="utf-8")
    dialog = open_dialog(folder)

    # Nothing configured: the window opens on the welcome; Alt+B leads to the first field.
    dialog.settled().save(artifacts / "settings-welcome-cli.png")
    dialog.settled(lambda: desktop.key("alt+b"))
    desktop.type_text(emulator.base_url)
    desktop.key("Tab")
    desktop.type_text(emulator.client_id)
    desktop.key("Tab")
    desktop.type_text("not-the-secret")
    desktop.key("alt+v")
    failed = dialog.wait_for_line("Validation failed").lower()
    assert failed.count("invalid client credentials") == 1  # the title, not repeated
    red = dialog.settled()
    assert pixels_of(red, ERROR_BACKGROUND) > BANNER_PIXELS
    assert pixels_of(red, OK_BACKGROUND) == 0

    desktop.key(*["BackSpace"] * len("not-the-secret"))
    desktop.type_text(emulator.client_secret)
    desktop.key("alt+v")
    assert emulator.base_url in dialog.wait_for_line("Validation OK")
    green = dialog.settled()
    green.save(artifacts / "settings-basic.png")
    assert pixels_of(green, OK_BACKGROUND) > BANNER_PIXELS
    assert pixels_of(green, ERROR_BACKGROUND) == 0

    # Alt+I focuses the tab's first field (csv's Enabled); Tab selects an entry's text.
    dialog.settled(lambda: desktop.key("alt+i"))
    desktop.key("space", "Tab")
    desktop.type_text("5m")
    desktop.key("Tab")
    desktop.type_text("users.csv")
    dialog.settled().save(artifacts / "settings-integrations.png")
    desktop.key("ctrl+s")
    dialog.wait_for_line("Saved settings to")
    assert dialog.close() == 0

    saved = (folder / "appsettings.json").read_text()
    assert SECRET not in saved and '"Interval": "5m"' in saved
    auto = subprocess.run(
        [CLI, "AUTO", str(folder)], capture_output=True, text=True, timeout=60, check=False
    )
    assert auto.returncode == 0, auto.stdout + auto.stderr
    assert len(halo_users(emulator)) == 3


def test_processing_tab_runs_the_modules_and_shows_progress_and_log(
    desktop: Desktop,
    emulator: Emulator,
    open_dialog: Callable[[Path], Dialog],
    tmp_path: Path,
    artifacts: Path,
) -> None:
    folder = tmp_path / "prefilled"
    connection = HaloConnection(emulator.base_url, emulator.client_id, Secret(SECRET))
    settings = Settings.new(folder / "appsettings.json", connection)
    settings.modules.append(ModuleSettings(name="csv", options={"path": "users.csv"}))
    save_settings(settings)
    (folder / "users.csv").write_text(USERS_CSV, encoding="utf-8")
    dialog = open_dialog(folder)

    dialog.settled(lambda: desktop.key("alt+p"))
    desktop.key("space")  # Alt+P focused the first button: Start all
    dialog.wait_for_line("csv succeeded: 3 created")
    shot = dialog.settled()
    shot.save(artifacts / "settings-processing.png")
    assert pixels_of(shot, OK_BAR) > BAR_PIXELS  # the csv bar is full and green
    assert len(halo_users(emulator)) == 3

    dialog.settled(lambda: desktop.key("alt+a")).save(artifacts / "settings-about.png")
    assert dialog.close() == 0


def test_invalid_url_is_marked_and_nothing_is_saved(
    desktop: Desktop, open_dialog: Callable[[Path], Dialog], tmp_path: Path
) -> None:
    folder = tmp_path / "new"
    dialog = open_dialog(folder)
    dialog.settled(lambda: desktop.key("alt+b"))  # from the welcome to the first field
    desktop.type_text("acme.halopsa.com/api")
    desktop.key("Tab")
    desktop.type_text("client")
    desktop.key("Tab")
    desktop.type_text("secret")
    desktop.key("ctrl+s")
    line = dialog.wait_for_line("Settings not saved")
    assert "Halo.Url" in line and "not a web address" in line
    assert dialog.close_discarding() == 0
    assert not (folder / "appsettings.json").exists()


def test_a_corrupt_settings_file_is_reported_and_left_alone(
    desktop: Desktop, open_dialog: Callable[[Path], Dialog], tmp_path: Path
) -> None:
    folder = tmp_path / "corrupt"
    folder.mkdir()
    corrupt = (
        b'{\n  "Halo": {\n    "Url": "https://acme.halopsa.com"\n    "ClientId": "x"\n  }\n}\n'
    )
    (folder / "appsettings.json").write_bytes(corrupt)
    dialog = open_dialog(folder)
    line = dialog.wait_for_line("Cannot load the settings")
    assert "line 3" in line and "comma" in line
    assert pixels_of(dialog.settled(), ERROR_BACKGROUND) > BANNER_PIXELS
    assert dialog.close() == 0
    assert (folder / "appsettings.json").read_bytes() == corrupt


def test_the_tray_entry_point_focuses_one_window_and_uses_the_trays_callbacks(
    tk_desktop: Desktop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tk_root: Any
) -> None:
    """``open_settings_window`` on the tray's own root, in this process (no Halo needed)."""
    import logging

    from core.agent import Agent
    from core.run.runner import RunEvent
    from tray_agent.settings_dialog import open_settings_window
    from tray_agent.settings_dialog.window import _open_windows

    monkeypatch.setenv("DISPLAY", tk_desktop.display)
    folder = tmp_path / "tray"
    connection = HaloConnection("https://acme.halopsa.com", "client", Secret(SECRET))
    settings = Settings.new(folder / "appsettings.json", connection)
    settings.modules.append(ModuleSettings(name="csv", options={"path": "users.csv"}))
    save_settings(settings)
    agent = Agent(folder, origin="tray")
    engine_log = logging.getLogger("halo_integrator")
    handlers_before = list(engine_log.handlers)
    started: list[list[str] | None] = []
    saved: list[bool] = []
    root = tk_root

    top = open_settings_window(
        root, agent, run_now=started.append, on_saved=lambda: saved.append(True)
    )
    assert open_settings_window(root, agent, run_now=started.append) is top
    assert top.title() == TITLE
    window = _open_windows[root]
    window.processing.start_all_button.invoke()
    window.processing.rows["csv"].selected.set(True)
    window.processing.start_selected_button.invoke()
    assert started == [None, ["csv"]]

    # A run event from a worker thread reaches the csv row through the queue.
    listeners = list(agent._listeners)
    thread = threading.Thread(target=lambda: [f(RunEvent("started", "csv")) for f in listeners])
    thread.start()
    thread.join()
    pump_until(root, lambda: window.processing.rows["csv"].outcome.cget("text") == "running…")
    # While it runs, Start all and Start selected are greyed; its end enables them again.
    buttons = (window.processing.start_all_button, window.processing.start_selected_button)
    assert all(button.instate(["disabled"]) for button in buttons)
    thread = threading.Thread(target=lambda: [f(RunEvent("finished", "csv")) for f in listeners])
    thread.start()
    thread.join()
    pump_until(root, lambda: all(button.instate(["!disabled"]) for button in buttons))

    window.save()
    pump_until(root, lambda: saved == [True])
    assert window.status.cget("text").startswith("Saved")

    window.close()
    assert agent._listeners == [] and engine_log.handlers == handlers_before
    assert open_settings_window(root, agent) is not top  # closed: a new one opens
    _open_windows[root].close()


def test_instances_are_added_checked_and_removed_on_the_integrations_tab(
    tk_desktop: Desktop,
    emulator: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    artifacts: Path,
    tk_root: Any,
) -> None:
    """In this process, on a real display: what the tab does, then a screenshot to look at."""
    from core.agent import Agent
    from core.outcomes import RunCounts
    from core.settings.reader import load_settings
    from core.state.store import StateStore
    from tray_agent.settings_dialog import open_settings_window
    from tray_agent.settings_dialog.window import _open_windows

    monkeypatch.setenv("DISPLAY", tk_desktop.display)
    folder = tmp_path / "instances"
    connection = HaloConnection(emulator.base_url, emulator.client_id, Secret(SECRET))
    settings = Settings.new(folder / "appsettings.json", connection)
    settings.modules += [
        ModuleSettings(name="hr-users", type="csv", options={"path": "users.csv"}),
        ModuleSettings(name="old-assets", type="csv", options={"path": "assets.csv"}),
    ]
    save_settings(settings)
    (folder / "users.csv").write_text(USERS_CSV, encoding="utf-8")
    state = StateStore(folder)
    state.finish_run(state.start_run("old-assets", "cli"), "old-assets", "failed", RunCounts(), "x")
    root = tk_root

    top = open_settings_window(root, Agent(folder))
    window = _open_windows[root]
    tab = window.integrations
    window.notebook.select(tab)
    assert [(s.name, s.type) for s in tab.sections] == [
        ("hr-users", "csv"),
        ("old-assets", "csv"),
    ]
    # A name already taken is refused; a new one adds an enabled section.
    tab.new_name.set("HR-USERS")
    tab.add_from_row()
    assert "already used" in tab.add_message.cget("text") and len(tab.sections) == 2
    tab.new_name.set("inventory")
    tab.add_from_row()
    inventory = tab.sections[-1]
    assert (inventory.name, inventory.enabled.get()) == ("inventory", True)
    inventory.fields["path"].variable.set("missing.csv")
    inventory.fields["target"].variable.set("assets")

    # Validate checks the connection, then every enabled instance's source: green for a
    # readable file, red naming the missing one. Check source does it for one instance.
    window.validate()
    pump_until(root, lambda: "✘" in inventory.check_result.cget("text"))
    tab.sections[0].check_result.configure(text="")
    tab.sections[0].check_button.invoke()
    pump_until(root, lambda: "✔" in tab.sections[0].check_result.cget("text"))
    assert "does not exist" in inventory.check_result.cget("text")
    assert "3 rows" in tab.sections[0].check_result.cget("text")

    tab.remove(tab.sections[1])  # old-assets
    root.update()
    tab.scroller.canvas.yview_moveto(1.0)  # the new section's check result and Add
    for _ in range(10):
        root.update()
        time.sleep(0.05)
    tk_desktop.screenshot(artifacts / "settings-instances.png", window=top.winfo_id())

    window.save()
    pump_until(root, lambda: window.status.cget("text").startswith("Saved"))
    saved = load_settings(folder)
    assert [(m.name, m.type) for m in saved.modules] == [
        ("hr-users", "csv"),
        ("inventory", "csv"),
    ]
    assert saved.modules[1].options["target"] == "assets"
    assert state.status("old-assets") is None  # the removed instance's state is gone
    window.close()


@dataclass(frozen=True)
class SiteRule:
    ou: str = option(help="OU")
    site_id: int = option(help="Halo site id", minimum=1)


@dataclass(frozen=True)
class RuleOptions:
    site_rules: list[SiteRule] = option(
        default_factory=list, help="OU -> site", example=[{"ou": "OU=Leeds", "site_id": 3}]
    )


class RuleModule(SyncModule):
    type_name, display_name, description, Options = "rules", "Rules", "OU rules", RuleOptions

    def run(self, context: RunContext) -> None:
        raise NotImplementedError


def test_a_json_option_is_checked_as_it_is_typed(
    tk_desktop: Desktop,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    artifacts: Path,
    tk_root: Any,
) -> None:
    from core.agent import Agent
    from core.modules.registry import MODULES
    from core.settings.reader import load_settings
    from tray_agent.settings_dialog import open_settings_window
    from tray_agent.settings_dialog.window import _open_windows

    monkeypatch.setenv("DISPLAY", tk_desktop.display)
    monkeypatch.setitem(MODULES, "rules", RuleModule)
    folder = tmp_path / "json"
    connection = HaloConnection("https://acme.halopsa.com", "client", Secret(SECRET))
    save_settings(Settings.new(folder / "appsettings.json", connection))
    root = tk_root
    top = open_settings_window(root, Agent(folder))
    window = _open_windows[root]
    window.notebook.select(window.integrations)
    section = window.integrations.add("rules", "directory")
    box = section.fields["site_rules"].text
    assert box is not None
    message = section.fields["site_rules"].message

    pump_until(root, lambda: bool(box.winfo_viewable()))

    def type_into(text: str) -> None:
        box.delete("1.0", "end")
        box.insert("1.0", text)
        box.focus_force()  # Tk delivers key events to the focused widget only
        root.update()
        box.event_generate("<KeyRelease>", when="now")
        root.update()

    type_into('[{"ou": "OU=Leeds", "site_id": ')
    assert message.cget("text").startswith("not valid JSON")
    type_into('[{"ou": "OU=Leeds", "site_id": 0}]')
    assert message.cget("text") == "site_rules[0].site_id: must be at least 1"
    window.integrations.scroller.canvas.yview_moveto(1.0)
    for _ in range(10):
        root.update()
        time.sleep(0.05)
    tk_desktop.screenshot(artifacts / "settings-json-option.png", window=top.winfo_id())
    type_into('[{"ou": "OU=Leeds", "site_id": 3}]')
    assert message.cget("text") == ""
    window.save()
    pump_until(root, lambda: window.status.cget("text").startswith("Saved"))
    [saved] = load_settings(folder).modules
    assert (saved.name, saved.type) == ("directory", "rules")
    assert saved.options["site_rules"] == [{"ou": "OU=Leeds", "site_id": 3}]
    window.close()
