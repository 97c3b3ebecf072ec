"""Driving the real tray process on the test desktop: start it, find its icon, use its menu.

The menu is driven with the keyboard (Tk, like GTK, skips the greyed status lines and
separators), so a test names the entry it wants and does not depend on how tall the status
lines are.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from core.settings.model import HaloConnection, ModuleSettings, Settings
from core.settings.secrets import Secret
from core.settings.writer import save_settings
from core.state.store import StateStore
from halo_emulator import Emulator
from tray_agent.tk_tray_menu import MENU_NAME, TOOLTIP_NAME

from .desktop import Desktop

CLI = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "halo-integrator"
WM_CLASS = "halo-integrator"
SECRET = "tray-test-secret-4411"
# The menu's entries that take the keyboard, in order (tray_agent/tray_menu.py).
MENU_ENTRIES = (
    "Sync now",
    "Sync module",
    "Pause schedules",
    "Settings…",
    "View last log",
    "Open logs folder",
    "Quit",
)
ALLOW_ONCE = "Allow once"
# Stands in for xdg-open: logs what it was asked to open, exits with $FAKE_OPEN_EXIT.
FAKE_OPENER = """#!/bin/sh
printf '%s\\n' "$1" >> "$FAKE_OPEN_LOG"
if [ "${FAKE_OPEN_EXIT:-0}" != 0 ]; then
    echo "xdg-open: no method available for opening '$1'" >&2
fi
exit "${FAKE_OPEN_EXIT:-0}"
"""


def make_settings(
    folder: Path, emulator: Emulator, modules: list[ModuleSettings] | None = None
) -> Path:
    connection = HaloConnection(emulator.base_url, emulator.client_id, Secret(SECRET))
    settings = Settings.new(folder / "appsettings.json", connection)
    settings.modules += modules or []
    save_settings(settings)
    return folder


def users_csv(count: int = 3) -> str:
    return "emailaddress,firstname,surname\n" + "".join(
        f"user{n}@example.com,User,N{n}\n" for n in range(count)
    )


def fake_opener(folder: Path, exit_code: int) -> dict[str, str]:
    """Environment for a tray whose xdg-open is the fake one (see ``FAKE_OPENER``)."""
    bin_folder = folder / "fake-bin"
    bin_folder.mkdir(parents=True, exist_ok=True)
    script = bin_folder / "xdg-open"
    script.write_text(FAKE_OPENER)
    script.chmod(0o755)
    return {
        "PATH": f"{bin_folder}{os.pathsep}{os.environ['PATH']}",
        "FAKE_OPEN_LOG": str(folder / "opened.txt"),
        "FAKE_OPEN_EXIT": str(exit_code),
    }


class Tray:
    """``halo-integrator tray`` as a child process; output goes to a file for failures."""

    def __init__(self, desktop: Desktop, folder: Path, env: dict[str, str] | None = None) -> None:
        self.desktop, self.folder = desktop, folder
        self.output = (folder.parent / f"tray-output-{folder.name}.txt").open("w")
        self.process = subprocess.Popen(
            [str(CLI), "tray", "--settings", str(folder)],
            env={**desktop.env, **(env or {})},
            stdout=self.output,
            stderr=subprocess.STDOUT,
        )

    def icon(self) -> dict[str, Any]:
        """This tray's docked icon; with several trays, the one whose hover text (also the
        icon window's name) starts with this folder's title."""
        docked = self.desktop.docked_icon(WM_CLASS, timeout=20)
        title = f"Halo Integrator ({self.folder.name}):"

        def own() -> dict[str, Any] | None:
            icons = [w for w in self.desktop.find(WM_CLASS) if not w["parent_is_root"]]
            if len(icons) == 1:
                return icons[0]
            return next((w for w in icons if str(w["name"]).startswith(title)), None)

        return own() or wait_for(own, f"the icon of {self.folder.name}") or docked

    def icon_pixels(self, shot: Path) -> Image.Image:
        window = self.icon()
        image = Image.open(self.desktop.screenshot(shot)).convert("RGB")
        return image.crop(
            (window["x"], window["y"], window["x"] + window["w"], window["y"] + window["h"])
        )

    def _icon_drawn(self) -> bool:
        """A uniform panel has a colour or two; a drawn disc with its badge, dozens."""
        pixels = self.icon_pixels(self.desktop.folder / "icon-drawn.png")
        colours = pixels.getcolors(maxcolors=1024)  # None: more than that
        return colours is None or len(colours) > 10

    def icon_showing(self, colour: Callable[[int, int, int], bool], shot: Path) -> Any:
        """The docked icon's pixels if more than 50 of them have ``colour``, else None."""
        icon = self.icon_pixels(shot)
        return icon if count(icon, colour) > 50 else None

    def click_icon(self, button: int) -> None:
        """Click the icon once it is drawn, as an admin would: a click at the moment trayer
        embeds it can land on the panel (seen once in CI: no window opened)."""
        wait_for(self._icon_drawn, "the icon to be drawn")
        window = self.icon()
        self.desktop.click(window["x"] + window["w"] // 2, window["y"] + window["h"] // 2, button)

    def open_menu(self) -> dict[str, Any]:
        self.click_icon(3)
        menu = wait_for(lambda: next(iter(menus(self.desktop)), None), "the popup menu")
        # Keys reach the menu once it holds the keyboard; earlier ones would be lost.
        wait_for(self.desktop.keyboard_grabbed, "the menu to take the keyboard")
        # Its final size: a menu just mapped can still be at its first, smaller geometry.
        return wait_for(lambda: settled_menu(self.desktop, menu["id"]), "the menu's size")

    def choose(self, entry: str, *, greyed: tuple[str, ...] = (), idle: bool = True) -> None:
        """Open the menu and activate ``entry`` with the keyboard.

        The keyboard skips greyed entries, so a test names those above ``entry`` (``Sync
        now`` while a run is going); by default it first waits for the tray to be idle.
        ``ALLOW_ONCE`` is the first entry under the status lines of a refused module.
        """
        if idle:
            self.wait_idle()
        self.open_menu()
        if entry == ALLOW_ONCE:
            downs = 1
        else:
            above = MENU_ENTRIES[: MENU_ENTRIES.index(entry)]
            downs = len(above) + 1 - len([name for name in greyed if name in above])
        self.desktop.key(*["Down"] * downs, "Return")
        wait_for(lambda: not menus(self.desktop), "the menu to close")

    def pointer_off_icon(self) -> None:
        """Move the pointer to an empty corner (an open menu keeps its selection) and wait
        for the icon's tooltip to go."""
        subprocess.run(["xdotool", "mousemove", "5", "760"], env=self.desktop.env, check=True)
        wait_for(lambda: not tooltips(self.desktop), "the tooltip to go")
        time.sleep(0.3)  # let the panel repaint what the tooltip covered

    def run_children(self) -> list[int]:
        """The tray's child processes running a module (``python -m core.run.child``)."""
        found = []
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                fields = dict(
                    line.split(":\t", 1)
                    for line in status.read_text().splitlines()
                    if ":\t" in line
                )
                command = (status.parent / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if fields.get("PPid") == str(self.process.pid) and b"core.run.child" in command:
                found.append(int(status.parent.name))
        return found

    def wait_idle(self, timeout: float = 60) -> None:
        """No run going and the icon no longer syncing: the menu was rebuilt after it."""
        shot = self.folder.parent / f"idle-{self.folder.name}.png"
        wait_for(
            lambda: not self.run_children() and not self.icon_showing(blue, shot),
            "the tray to be idle",
            timeout,
        )

    def runs(self, module: str = "csv") -> list[dict[str, Any]]:
        return [run for run in StateStore(self.folder).recent_runs(module) if run["finished_at"]]

    def log(self) -> str:
        path = self.folder / "logs" / "tray.log"
        return path.read_text() if path.exists() else ""

    def zombies(self) -> list[str]:
        """The tray's child processes that ended and were never reaped."""
        found = []
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                lines = status.read_text().splitlines()
            except OSError:
                continue
            fields = dict(line.split(":\t", 1) for line in lines if ":\t" in line)
            if fields.get("PPid") == str(self.process.pid) and fields.get("State", "")[:1] == "Z":
                found.append(fields.get("Name", "?"))
        return found

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.output.close()


def named(window: dict[str, Any], prefix: str) -> bool:
    """The tray's Tk windows by their instance name (the first half of WM_CLASS)."""
    return bool(window["wm_class"]) and str(window["wm_class"][0]).startswith(prefix)


def menus(desktop: Desktop) -> list[dict[str, Any]]:
    """The tray's open popup menus, found by name: the tooltip (a top-level window too) is
    another window, even in the moment before its window type is set."""
    return [
        window
        for window in desktop.find()
        if named(window, MENU_NAME) and window["parent_is_root"] and window["w"] > 50
    ]


def settled_menu(desktop: Desktop, window_id: int) -> dict[str, Any] | None:
    """The menu ``window_id`` once two looks 0.1 s apart see the same geometry."""

    def look() -> dict[str, Any] | None:
        return next((w for w in menus(desktop) if w["id"] == window_id), None)

    first = look()
    time.sleep(0.1)
    second = look()
    keys = ("x", "y", "w", "h")
    if first and second and all(first[k] == second[k] for k in keys):
        return second
    return None


def tooltips(desktop: Desktop) -> list[dict[str, Any]]:
    return [
        window
        for window in desktop.find()
        if named(window, TOOLTIP_NAME)
        and window["parent_is_root"]
        and desktop.window_type(window["id"]) == "TOOLTIP"
    ]


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def open_sync_module_submenu(desktop: Desktop, menu: dict[str, Any]) -> dict[str, Any]:
    """With ``menu`` open: select "Sync module" and open its submenu; return the submenu."""
    desktop.key(*["Down"] * (MENU_ENTRIES.index("Sync module") + 1), "Right")
    wait_for(lambda: len(menus(desktop)) == 2, "the Sync module submenu")
    time.sleep(0.3)
    return next(window for window in menus(desktop) if window["id"] != menu["id"])


def count(image: Image.Image, test: Callable[[int, int, int], bool]) -> int:
    return sum(
        1 for x in range(image.width) for y in range(image.height) if test(*image.getpixel((x, y)))
    )  # type: ignore[misc]


def blue(r: int, g: int, b: int) -> bool:
    """The "syncing" disc (assets/tray_palette.json: 37, 110, 214)."""
    return abs(r - 37) < 30 and abs(g - 110) < 30 and abs(b - 214) < 30


def green(r: int, g: int, b: int) -> bool:
    return g > 130 and r < 100 and b < 110


def red(r: int, g: int, b: int) -> bool:
    return r > 180 and g < 80 and b < 80


def purple(r: int, g: int, b: int) -> bool:
    """The "not run yet" disc (assets/tray_palette.json: 92, 84, 170)."""
    return abs(r - 92) < 30 and abs(g - 84) < 30 and abs(b - 170) < 30
