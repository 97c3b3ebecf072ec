"""Start the tray at login: an XDG autostart entry on Linux, the HKCU Run key on Windows.

Both are per user and need no admin rights. One entry per settings folder (named by
``launch.slug``), so "5 Mins" and "Daily" can each have their own tray. The Run key was
chosen over a Startup-folder shortcut because writing a ``.lnk`` needs COM; the value starts
the GUI entry point, which opens no console window.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from tray_agent.os_integration.launch import (
    config_home,
    find_tray,
    slug,
    windows_command_line,
)

RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
# Characters that make the Desktop Entry spec require quoting an Exec argument.
_DESKTOP_RESERVED = re.compile(r"""[\s"'\\><~|&;$*?#()`]""")


def autostart_file(folder: Path) -> Path:
    """Return ``$XDG_CONFIG_HOME/autostart/<slug>.desktop`` for a settings folder."""
    return config_home() / "autostart" / f"{slug(folder)}.desktop"


def set_xdg_autostart(folder: Path, *, enabled: bool) -> None:
    """Write or remove the desktop entry that starts the tray for ``folder`` at login."""
    path = autostart_file(folder)
    if not enabled:
        if path.exists():
            path.unlink()
            print(f"Start at login is off: removed {path}")
        else:
            print(f"Start at login was already off ({path} does not exist).")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(desktop_entry(folder), encoding="utf-8", newline="\n")
    print(f"Start at login is on: wrote {path}")


def desktop_entry(folder: Path) -> str:
    """Return the ``.desktop`` text that starts the tray for ``folder``."""
    argv = find_tray().argv("--settings", str(folder))
    exec_line = " ".join(desktop_exec_argument(argument) for argument in argv)
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        f"Name={_desktop_string(f'Halo Integrator ({folder.name})')}\n"
        f"Comment={_desktop_string(f'Tray icon for the settings in {folder}')}\n"
        f"Exec={_desktop_string(exec_line)}\n"
        "Terminal=false\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


def desktop_exec_argument(argument: str) -> str:
    """Quote one Exec argument per the Desktop Entry spec; ``%`` is doubled (field codes)."""
    if _DESKTOP_RESERVED.search(argument):
        argument = '"' + re.sub(r'(["`$\\])', r"\\\1", argument) + '"'
    return argument.replace("%", "%%")


def set_windows_run_value(folder: Path, *, enabled: bool) -> None:
    """Set or delete the HKCU Run value that starts the tray for ``folder`` at login."""
    # Windows only: imported here so the module loads everywhere, and by name so that mypy
    # (whose winreg stubs exist only for Windows) checks this file on Linux too.
    winreg = importlib.import_module("winreg")

    name = slug(folder)
    with winreg.CreateKeyEx(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
        if enabled:
            command = windows_command_line(find_tray().argv("--settings", str(folder)))
            winreg.SetValueEx(key, name, 0, winreg.REG_SZ, command)
            print(f"Start at login is on: HKCU\\{RUN_KEY}\\{name} = {command}")
            return
        try:
            winreg.DeleteValue(key, name)
        except FileNotFoundError:
            print(f"Start at login was already off (no HKCU\\{RUN_KEY}\\{name}).")
            return
        print(f"Start at login is off: removed HKCU\\{RUN_KEY}\\{name}")


def _desktop_string(text: str) -> str:
    """Escape a value of type string: backslashes and control characters (spec, "Values")."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
