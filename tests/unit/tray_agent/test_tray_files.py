"""Small file helpers of the tray: run logs, the opener, the window's place, the file watch."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from tray_agent.desktop_open import open_path
from tray_agent.run_logs import log_for_run, newest_log
from tray_agent.settings_dialog.file_watch import FileWatch
from tray_agent.settings_dialog.geometry import (
    DEFAULT_GEOMETRY,
    GEOMETRY_FILE_NAME,
    save_geometry,
    saved_geometry,
)


def run_log(folder: Path, module: str, started_at: float) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started_at))
    path = folder / module / f"{module}-{stamp}-000001.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("log\n")
    os.utime(path, (started_at + 5, started_at + 5))
    return path


def test_a_run_s_log_is_the_newest_stamped_at_or_just_before_its_start(tmp_path: Path) -> None:
    start = time.time() - 3_600
    first, second = run_log(tmp_path, "csv", start), run_log(tmp_path, "csv", start + 600)
    assert log_for_run(tmp_path, "csv", start + 0.4) == first
    assert log_for_run(tmp_path, "csv", start + 600.9) == second
    assert log_for_run(tmp_path, "csv", start + 300) is None  # its log was pruned
    assert log_for_run(tmp_path, "ldap", start) is None


def test_the_newest_log_of_any_module_is_the_last_written(tmp_path: Path) -> None:
    start = time.time() - 3_600
    run_log(tmp_path, "csv", start)
    newest = run_log(tmp_path, "ldap", start + 60)
    assert newest_log(tmp_path, ["csv", "ldap"]) == newest
    assert newest_log(tmp_path, ["other"]) is None


@pytest.mark.skipif(os.name != "posix", reason="a fake xdg-open on PATH")
def test_an_opener_that_fails_is_reported_and_reaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opener = tmp_path / "xdg-open"
    opener.write_text("#!/bin/sh\necho 'xdg-open: no method available' >&2\nexit 3\n")
    opener.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    said: list[str] = []
    reported = threading.Event()
    open_path(tmp_path, lambda message: (said.append(message), reported.set()))
    assert reported.wait(10)
    assert "exited with 3: xdg-open: no method available" in said[0] and str(tmp_path) in said[0]
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    open_path(tmp_path, said.append)
    assert "could not start" in said[1]


def test_the_window_s_place_is_kept_only_while_it_fits_the_screen(tmp_path: Path) -> None:
    assert saved_geometry(tmp_path, 1024, 768) == DEFAULT_GEOMETRY
    save_geometry(tmp_path, "700x520+40+30")
    assert (tmp_path / GEOMETRY_FILE_NAME).stat().st_mode & 0o077 == 0
    assert saved_geometry(tmp_path, 1024, 768) == "700x520+40+30"
    assert saved_geometry(tmp_path, 640, 480) == "640x480+40+30"  # cut to the screen
    save_geometry(tmp_path, "700x520+900+700")  # on a monitor unplugged since
    assert saved_geometry(tmp_path, 1024, 768) == "700x520"
    save_geometry(tmp_path / "never-saved", "700x520+40+30")
    assert not (tmp_path / "never-saved").exists()


def test_the_file_watch_sees_content_not_a_touch(tmp_path: Path) -> None:
    path = tmp_path / "appsettings.json"
    path.write_text("{}")
    watch = FileWatch(path)
    stamp = path.stat().st_mtime_ns
    os.utime(path, ns=(stamp + 10**9, stamp + 10**9))
    assert not watch.changed()
    path.write_text('{"Halo": {}}')
    assert watch.changed()
    watch.loaded()
    assert not watch.changed()


def test_two_runs_in_one_second_each_find_their_own_log(tmp_path: Path) -> None:
    start = float(int(time.time() - 3_600))
    first, second = run_log(tmp_path, "csv", start), run_log(tmp_path, "csv", start + 0.5)
    second = second.rename(second.with_name(second.name.replace("000001", "000002")))
    first = run_log(tmp_path, "csv", start)
    os.utime(first, (start + 0.2, start + 0.2))
    os.utime(second, (start + 0.9, start + 0.9))
    assert log_for_run(tmp_path, "csv", start + 0.1, finished_at=start + 0.2) == first
    assert log_for_run(tmp_path, "csv", start + 0.6, finished_at=start + 0.9) == second


def test_a_history_row_says_how_long_a_run_took() -> None:
    from tray_agent.settings_dialog.run_history import row_of, took

    assert [took(0.42), took(12), took(185), took(7_800)] == [
        "0.4 s",
        "12 s",
        "3 min 05 s",
        "2 h 10 min",
    ]
    run = {"module": "csv", "origin": "auto", "started_at": 100.0, "finished_at": None}
    row = row_of({**run, "outcome": "running"})
    assert (row.duration, row.created, row.error) == ("running", 0, "")
