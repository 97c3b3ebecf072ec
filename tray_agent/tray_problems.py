"""Why the tray cannot use its settings right now, and whether the file changed since.

Three sources, each cleared by what proves it gone: reading ``appsettings.json`` (the next
good read), opening the state DB (the next good read of it) and a run that could not start
(that module's next run, or a good read of the settings). A settings file that does not
exist yet is no problem: the tray is "not configured", and says what to do.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

from core.errors import IntegratorError
from core.run.health import ModuleHealth


class TrayProblems:
    """The status thread's record of problems; runs add theirs from worker threads."""

    def __init__(self, settings_path: Path) -> None:
        self.settings_path = settings_path
        self.settings: IntegratorError | None = None
        self.status: IntegratorError | None = None
        self.runs: dict[str, IntegratorError] = {}
        self.has_settings = False  # read once: a later bad file leaves them in use
        self._stamp: tuple[int, int] | None = None

    def file_changed(self) -> bool:
        """True when the file's (mtime, size) differ from the last read: one stat a poll."""
        return settings_stamp(self.settings_path) != self._stamp

    def reading(self) -> None:
        """Call just before reading the file: a change made while reading is seen next poll."""
        self._stamp = settings_stamp(self.settings_path)

    def read(self, error: IntegratorError | None) -> None:
        """The outcome of that read: None for settings now in use."""
        self.settings = error
        if error is None:
            self.has_settings = True
            self.runs.clear()

    def current(self) -> IntegratorError | None:
        """The problem to show (first source first); None when all is usable or unconfigured."""
        if self.settings is not None and not self.unconfigured():
            return self.settings
        return self.status or next(iter(list(self.runs.values())), None)

    def setup_hint(self) -> str | None:
        """What to do when no settings file exists yet (and none was ever read)."""
        return str(self.settings) if self.settings is not None and self.unconfigured() else None

    def unconfigured(self) -> bool:
        return self._stamp is None and not self.has_settings


def short_message(error: IntegratorError) -> str:
    """The error's message with its file named, not its whole path: the tooltip is short."""
    path = getattr(error, "path", None)  # ConfigError's, or a child run's (ChildRunError)
    if isinstance(path, str) and path and error.message.startswith(path):
        return Path(path).name + error.message[len(path) :]
    return error.message


def with_file_name(healths: Sequence[ModuleHealth], path: Path) -> list[ModuleHealth]:
    """The healths with ``path`` in their errors shortened to its file name, and files in its
    folder to their names relative to it, for the tooltip and the menu (the runner records
    invalid options with the settings file's whole path, a source file with its own)."""
    folder = f"{path.parent}{os.sep}"
    return [
        dataclasses.replace(
            health,
            last_error=health.last_error.replace(str(path), path.name).replace(folder, ""),
        )
        if health.last_error
        else health
        for health in healths
    ]


def settings_stamp(path: Path) -> tuple[int, int] | None:
    """(mtime in ns, size) of the settings file; None if it is missing."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size
