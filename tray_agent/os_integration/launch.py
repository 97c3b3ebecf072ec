"""What the system starts: the integrator's executables, one AUTO job, names and quoting.

Schedulers and login items run with a bare environment (no activated venv, a short PATH), so
every definition names the executable by absolute path: the ``halo-integrator`` script of
the installation that is running now, else ``<python> -m tray_agent.cli``. Several settings
folders ("5 Mins", "Daily") can be scheduled side by side; ``slug`` names their files apart.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import sysconfig
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from core.settings.model import Interval, default_settings_folder

CLI_SCRIPT = "halo-integrator"
TRAY_SCRIPT = "halo-integrator-tray"  # the GUI entry point: no console window on Windows
SLUG_NAME_MAX_CHARACTERS = 40
SLUG_DIGEST_CHARACTERS = 6
PLAIN_WORD = re.compile(r"[A-Za-z0-9_.=-]+")  # needs no quotes in any of the command lines


@dataclass(frozen=True)
class Command:
    """An executable and the arguments that always come first (``-m tray_agent.cli``)."""

    program: Path
    leading_arguments: tuple[str, ...] = ()

    def argv(self, *arguments: str) -> tuple[str, ...]:
        """Return the whole command line as a tuple: program, leading arguments, ``arguments``."""
        return (str(self.program), *self.leading_arguments, *arguments)


@dataclass(frozen=True)
class Job:
    """One AUTO job to schedule: which settings file, which command, how often."""

    settings_path: Path
    cli: Command
    interval: Interval
    only_due: bool = False  # AUTO --due: each module on its own interval

    @property
    def folder(self) -> Path:
        return self.settings_path.parent

    @property
    def title(self) -> str:
        return f"Halo Integrator ({self.folder.name})"

    @property
    def slug(self) -> str:
        return slug(self.folder)

    def argv(self) -> tuple[str, ...]:
        due = ("--due",) if self.only_due else ()
        return self.cli.argv("AUTO", *due, str(self.settings_path))


def find_cli() -> Command:
    """Return the command that runs ``halo-integrator`` from this installation."""
    found = find_script({CLI_SCRIPT: ()})
    return found or Command(Path(sys.executable), ("-m", "tray_agent.cli"))


def find_tray() -> Command:
    """Return the command that starts the tray; the caller appends ``--settings FOLDER``.

    Prefers the GUI script; else the CLI's ``tray`` command, on Windows through
    ``pythonw.exe`` so that no console window opens at login.
    """
    found = find_script({TRAY_SCRIPT: (), CLI_SCRIPT: ("tray",)})
    if found:
        return found
    python = Path(sys.executable)
    windowless = python.with_name("pythonw.exe")
    if os.name == "nt" and windowless.is_file():
        python = windowless
    return Command(python, ("-m", "tray_agent.cli", "tray"))


def find_script(choices: dict[str, tuple[str, ...]]) -> Command | None:
    """Return the first installed script of ``choices`` (name -> leading arguments), or None.

    Looks beside the running interpreter first (a venv's ``bin``/``Scripts``), then in the
    interpreter's and the user's scripts folders, then on PATH; within a folder, in the order
    of ``choices``. Symlinks are kept as they are: a venv's python is often a link to the
    system one, whose folder has no script.
    """
    suffix = ".exe" if os.name == "nt" else ""
    folders = [
        Path(sys.executable).parent,
        Path(sysconfig.get_path("scripts")),
        Path(sysconfig.get_path("scripts", sysconfig.get_preferred_scheme("user"))),
    ]
    for folder in folders:
        for name, leading_arguments in choices.items():
            candidate = folder / (name + suffix)
            if candidate.is_file():
                return Command(candidate.absolute(), leading_arguments)
    for name, leading_arguments in choices.items():
        found = shutil.which(name)
        if found:
            return Command(Path(found).absolute(), leading_arguments)
    return None


def slug(folder: Path) -> str:
    """Return ``halo-integrator-<folder name>-<hash>``, a file/unit/registry name per folder.

    The readable part is the folder's name in lowercase ASCII; the hash of the full path keeps
    two folders with the same name (``C:/A/Daily``, ``D:/B/Daily``) apart.
    """
    folder = Path(folder)
    if folder == default_settings_folder().absolute():
        readable = "default"
    else:
        ascii_name = unicodedata.normalize("NFKD", folder.name).encode("ascii", "ignore").decode()
        readable = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
        readable = readable[:SLUG_NAME_MAX_CHARACTERS].strip("-") or "settings"
    digest = hashlib.sha256(os.path.normcase(str(folder)).encode("utf-8")).hexdigest()
    return f"halo-integrator-{readable}-{digest[:SLUG_DIGEST_CHARACTERS]}"


def config_home() -> Path:
    """Return ``$XDG_CONFIG_HOME`` or ``~/.config`` (XDG: a relative value must be ignored)."""
    value = os.environ.get("XDG_CONFIG_HOME", "")
    return Path(value) if os.path.isabs(value) else Path.home() / ".config"


def windows_quote(argument: str) -> str:
    """Return ``argument`` in double quotes, escaped so that Windows programs split it back.

    The Microsoft C runtime's rules: backslashes are literal except before a quote, so those
    (and the trailing ones, which come before our closing quote) are doubled.
    """
    escaped = re.sub(r'(\\*)"', r'\1\1\\"', argument)
    escaped = re.sub(r"(\\+)$", r"\1\1", escaped)
    return f'"{escaped}"'


def windows_command_line(argv: tuple[str, ...]) -> str:
    """Return a command line for the Run key or a task's Arguments.

    Plain words (``AUTO``, ``--settings``) stay bare; everything else, paths above all, is
    quoted even without spaces, so an admin who edits the line keeps it quoted.
    """
    return " ".join(
        argument if PLAIN_WORD.fullmatch(argument) else windows_quote(argument) for argument in argv
    )
