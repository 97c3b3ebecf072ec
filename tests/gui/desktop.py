"""A real desktop for GUI tests: Xvfb, a private D-Bus, dunst (logging every notification)
and trayer (an XEmbed system tray), each a child process stopped by PID.

Adapted from the environment notes' helper: Xvfb picks its own free display (-displayfd);
the private bus keeps GTK and notify-send from auto-launching daemons that outlive the tests;
dunst runs a script for every notification so a test can read what was raised.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import Xlib.display
import Xlib.X

DUNSTRC = """[global]
    monitor = 0
    follow = none
    history_length = 100
    dmenu = {folder}/dmenu.sh
[log_all]
    summary = "*"
    script = {folder}/notify-log.sh
"""
LOG_SCRIPT = """#!/bin/sh
# dunst runs this for every notification: appname summary body icon urgency
printf '%s\\t%s\\t%s\\t%s\\t%s\\n' "$1" "$2" "$3" "$4" "$5" >> {folder}/notifications.log
"""
# dunst's context menu (its actions, "#Label [summary]" a line) goes through dmenu: this one
# keeps what was offered and picks the first line holding the text in dmenu-choice.txt.
DMENU_SCRIPT = """#!/bin/sh
tee -a {folder}/dmenu-offered.txt | grep -F -- "$(cat {folder}/dmenu-choice.txt)" | head -n 1
"""


class Desktop:
    """``with Desktop() as desktop:`` then run GUI processes with ``env=desktop.env``."""

    def __init__(self, size: str = "1024x768x24") -> None:
        self.size = size
        self.processes: list[subprocess.Popen[Any]] = []
        self.folder = Path(tempfile.mkdtemp(prefix="desktop-"))
        self.env = dict(os.environ, NO_AT_BRIDGE="1")
        self.display = ""

    def __enter__(self) -> Desktop:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> Desktop:
        read_end, write_end = os.pipe()
        self._spawn(
            ["Xvfb", "-displayfd", str(write_end), "-screen", "0", self.size, "-nolisten", "tcp"],
            pass_fds=(write_end,),
        )
        os.close(write_end)
        with os.fdopen(read_end) as pipe:
            self.display = ":" + pipe.readline().strip()
        self.env["DISPLAY"] = self.display
        bus = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.processes.append(bus)
        assert bus.stdout is not None
        self.env["DBUS_SESSION_BUS_ADDRESS"] = bus.stdout.readline().strip()
        self._start_dunst()
        self._spawn(
            [
                "trayer",
                "--edge",
                "top",
                "--align",
                "right",
                "--widthtype",
                "request",
                "--height",
                "32",
                "--SetDockType",
                "true",
            ]
        )
        self._wait(lambda: self.tray_owner() is not None, "trayer")
        return self

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdout is not None:
                process.stdout.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _start_dunst(self) -> None:
        (self.folder / "dunstrc").write_text(DUNSTRC.format(folder=self.folder))
        for name, text in (("notify-log.sh", LOG_SCRIPT), ("dmenu.sh", DMENU_SCRIPT)):
            script = self.folder / name
            script.write_text(text.format(folder=self.folder))
            script.chmod(0o755)
        self._spawn(["dunst", "-config", str(self.folder / "dunstrc")])
        self._wait(
            lambda: (
                subprocess.run(
                    ["dunstctl", "is-paused"], env=self.env, capture_output=True
                ).returncode
                == 0
            ),
            "dunst",
        )

    def _spawn(self, command: list[str], **options: Any) -> subprocess.Popen[Any]:
        process = subprocess.Popen(
            command, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **options
        )
        self.processes.append(process)
        return process

    @staticmethod
    def _wait(condition: Callable[[], bool], what: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.05)
        raise TimeoutError(f"{what} did not start")

    # -- looking at the screen --------------------------------------------------------------

    def tray_owner(self) -> int | None:
        display = Xlib.display.Display(self.display)
        try:
            owner = display.get_selection_owner(display.intern_atom("_NET_SYSTEM_TRAY_S0"))
            return None if owner == Xlib.X.NONE else owner.id
        finally:
            display.close()

    def windows(self) -> list[dict[str, Any]]:
        """Every window: id, wm_class, name, x, y, w, h, viewable, parent_is_root."""
        display = Xlib.display.Display(self.display)
        found: list[dict[str, Any]] = []
        try:
            root = display.screen().root

            def walk(window: Any, parent_is_root: bool) -> None:
                for child in window.query_tree().children:
                    try:
                        attributes, geometry = child.get_attributes(), child.get_geometry()
                        position = child.translate_coords(root, 0, 0)
                        found.append(
                            dict(
                                id=child.id,
                                wm_class=child.get_wm_class() or (),
                                name=child.get_wm_name(),
                                x=-position.x,
                                y=-position.y,
                                w=geometry.width,
                                h=geometry.height,
                                viewable=attributes.map_state == Xlib.X.IsViewable,
                                parent_is_root=parent_is_root,
                            )
                        )
                        walk(child, False)
                    except Exception:  # noqa: S112 - the window vanished while we walked
                        continue

            walk(root, True)
        finally:
            display.close()
        return found

    def keyboard_grabbed(self) -> bool:
        """True when another client holds the keyboard grab (an open GTK menu takes one:
        keys sent before it has it are lost)."""
        display = Xlib.display.Display(self.display)
        try:
            root = display.screen().root
            status = root.grab_keyboard(False, Xlib.X.GrabModeAsync, Xlib.X.GrabModeAsync, 0)
            if status == Xlib.X.GrabSuccess:
                display.ungrab_keyboard(Xlib.X.CurrentTime)
                display.sync()
            return bool(status == Xlib.X.AlreadyGrabbed)
        finally:
            display.close()

    def window_type(self, window_id: int) -> str:
        """The window's _NET_WM_WINDOW_TYPE without its prefix: "POPUP_MENU", "TOOLTIP" ..."""
        display = Xlib.display.Display(self.display)
        try:
            window = display.create_resource_object("window", window_id)
            prefix = "_NET_WM_WINDOW_TYPE_"
            value = window.get_full_property(
                display.intern_atom(prefix[:-1]), Xlib.X.AnyPropertyType
            )
            if value is None or not len(value.value):
                return ""
            return str(display.get_atom_name(value.value[0])).removeprefix(prefix)
        except Exception:  # the window vanished
            return ""
        finally:
            display.close()

    def find(self, wm_class: str | None = None, name: str | None = None) -> list[dict[str, Any]]:
        return [
            window
            for window in self.windows()
            if window["viewable"]
            and (wm_class is None or wm_class in window["wm_class"])
            and (name is None or window["name"] == name)
        ]

    def wait_for_window(self, name: str, timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hits = self.find(name=name)
            if hits:
                return hits[0]
            time.sleep(0.05)
        raise TimeoutError(f"no window named {name!r}")

    def docked_icon(self, wm_class: str, timeout: float = 10) -> dict[str, Any]:
        """A tray icon window that trayer has embedded (reparented away from the root)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hits = [w for w in self.find(wm_class) if not w["parent_is_root"] and w["w"] > 1]
            if hits:
                return hits[0]
            time.sleep(0.1)
        raise TimeoutError(f"no docked tray icon with WM_CLASS {wm_class!r}")

    # -- acting -----------------------------------------------------------------------------

    def click(self, x: int, y: int, button: int = 1) -> None:
        # No --sync: "mousemove --sync" to where the pointer already is blocks for ~15 s.
        subprocess.run(
            ["xdotool", "mousemove", str(x), str(y), "click", str(button)], env=self.env, check=True
        )

    def type_text(self, text: str) -> None:
        subprocess.run(["xdotool", "type", "--delay", "20", text], env=self.env, check=True)

    def key(self, *keys: str) -> None:
        subprocess.run(["xdotool", "key", "--delay", "50", *keys], env=self.env, check=True)

    def screenshot(self, path: Path, window: int | str = "root") -> Path:
        subprocess.run(["import", "-window", str(window), str(path)], env=self.env, check=True)
        return path

    def close_notifications(self) -> None:
        subprocess.run(["dunstctl", "close-all"], env=self.env, check=True)

    def notification_default_action(self) -> None:
        """What a middle click on the newest notification does in dunst."""
        subprocess.run(["dunstctl", "action", "0"], env=self.env, check=True)

    def choose_notification_action(self, label: str) -> list[str]:
        """Pick the action labelled ``label`` from dunst's context menu (what its dmenu
        offers); returns the lines it offered."""
        (self.folder / "dmenu-choice.txt").write_text(label)
        offered = self.folder / "dmenu-offered.txt"
        offered.unlink(missing_ok=True)
        subprocess.run(["dunstctl", "context"], env=self.env, check=True)
        self._wait(lambda: offered.exists() and bool(offered.read_text()), "dunst's menu")
        return offered.read_text().splitlines()

    def notifications(self) -> list[tuple[str, ...]]:
        """(app, summary, body, icon, urgency) of every notification raised so far."""
        log = self.folder / "notifications.log"
        if not log.exists():
            return []
        return [tuple(line.rstrip("\n").split("\t")) for line in log.read_text().splitlines()]
