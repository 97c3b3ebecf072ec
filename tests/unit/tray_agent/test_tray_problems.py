"""Which problem the tray shows, and when a settings file counts as changed."""

from __future__ import annotations

import os
from pathlib import Path

from core.errors import ConfigError, IntegratorError
from tray_agent.tray_problems import TrayProblems, short_message


def test_the_tooltip_names_the_settings_file_not_its_whole_path(tmp_path: Path) -> None:
    path = str(tmp_path / "appsettings.json")
    error = ConfigError("not an interval", path=path, line=22, field="Modules[0].Interval")
    assert short_message(error) == "appsettings.json, line 22, field Modules[0].Interval: " + (
        "not an interval"
    )
    assert short_message(IntegratorError("plain")) == "plain"


def test_a_missing_file_is_a_setup_hint_until_settings_were_read_once(tmp_path: Path) -> None:
    problems = TrayProblems(tmp_path / "appsettings.json")
    missing = ConfigError("the settings file does not exist", hint="Run configure.")
    problems.reading()
    problems.read(missing)
    assert problems.current() is None and problems.setup_hint() is not None
    (tmp_path / "appsettings.json").write_text("{}")
    assert problems.file_changed()
    problems.reading()
    problems.read(None)
    problems.runs["csv"] = IntegratorError("the state DB is locked")
    assert problems.current() is problems.runs["csv"]
    (tmp_path / "appsettings.json").unlink()  # deleted while in use: now an error
    problems.reading()
    problems.read(missing)
    assert problems.current() is missing and problems.setup_hint() is None


def test_only_a_new_mtime_or_size_counts_as_a_change(tmp_path: Path) -> None:
    path = tmp_path / "appsettings.json"
    path.write_text("{}")
    problems = TrayProblems(path)
    problems.reading()
    assert not problems.file_changed()
    os.utime(path, ns=(1, 1))
    assert problems.file_changed()
