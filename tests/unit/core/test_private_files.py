"""Whatever process creates a settings folder's parts first, they are owner-only."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from core.private_files import (
    create_private_file,
    private_folder,
    warn_if_open_to_others,
    write_private_text,
)
from core.run.locks import module_lock
from core.run.logs import run_log_file
from core.state.store import StateStore


@pytest.fixture
def open_umask():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_engine_folders_are_created_owner_only(tmp_path: Path, open_umask: None) -> None:
    folder = tmp_path / "new" / "settings"
    StateStore(folder)
    with module_lock(folder, "csv"):
        pass
    with run_log_file(folder / "logs", "csv"):
        pass
    assert mode(folder) == 0o700
    assert mode(folder.parent) == 0o700  # a missing parent, created on the way
    assert mode(folder / "locks") == 0o700
    assert mode(folder / "logs") == 0o700


def test_existing_folders_keep_the_admins_mode(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    private_folder(shared)
    assert mode(shared) == 0o755


def test_private_text_is_owner_only_even_when_it_existed(tmp_path: Path, open_umask: None) -> None:
    target = tmp_path / "tray.port"
    target.write_text("old")
    target.chmod(0o644)
    write_private_text(target, "12345 token")
    assert target.read_text() == "12345 token"
    assert mode(target) == 0o600


@pytest.fixture
def owner_bits_umask():
    """A umask that would take even the owner's write bit away."""
    previous = os.umask(0o277)
    yield
    os.umask(previous)


def test_a_created_file_is_exactly_owner_read_write_whatever_the_umask(
    tmp_path: Path, owner_bits_umask: None
) -> None:
    target = tmp_path / "state.db"
    assert create_private_file(target) is True
    assert mode(target) == 0o600 and target.read_bytes() == b""


def test_an_existing_file_is_neither_truncated_nor_changed(tmp_path: Path) -> None:
    target = tmp_path / "state.db"
    target.write_bytes(b"history")
    target.chmod(0o640)
    assert create_private_file(target) is False
    assert target.read_bytes() == b"history" and mode(target) == 0o640


def test_a_planted_symlink_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep")
    victim.chmod(0o644)
    (tmp_path / "run.log").symlink_to(victim)
    assert create_private_file(tmp_path / "run.log") is False
    assert victim.read_text() == "keep" and mode(victim) == 0o644


def test_a_folder_others_can_open_is_reported_once_per_process(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shared, private = tmp_path / "shared", tmp_path / "private"
    shared.mkdir()
    shared.chmod(0o755)
    private.mkdir()
    private.chmod(0o700)
    with caplog.at_level(logging.WARNING, logger="halo_integrator"):
        for _ in range(3):
            warn_if_open_to_others(shared)
            warn_if_open_to_others(private)
    [warning] = caplog.records
    assert str(shared) in warning.getMessage() and "755" in warning.getMessage()
    assert "chmod 700" in warning.getMessage()


RUN_FILES_SCRIPT = """
import logging, sys
from pathlib import Path
from core.run.locks import module_lock
from core.run.logs import log_to_file, run_log_file
folder = Path(sys.argv[1])
log = logging.getLogger("halo_integrator.test")
assert log_to_file(folder / "logs" / "auto.log", role="auto")
with module_lock(folder, "csv"), run_log_file(folder / "logs", "csv"):
    log.warning("a line for every file")
[auto_log] = [h for h in logging.getLogger("halo_integrator").handlers if h.halo_role == "auto"]
auto_log.doRollover()
log.warning("a line for the new auto.log")
"""


def test_logs_rotated_logs_and_lock_files_are_owner_only_under_umask_0(tmp_path: Path) -> None:
    """In a child process: the test process's own umask stays as it is."""
    folder = tmp_path / "settings"
    done = subprocess.run(
        [sys.executable, "-c", RUN_FILES_SCRIPT, str(folder)],
        umask=0,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    modes = {path.relative_to(folder).as_posix(): mode(path) for path in folder.rglob("*")}
    files = {name for name in modes if (folder / name).is_file()}
    assert {"logs/auto.log", "logs/auto.log.1", "locks/csv.lock"} <= files
    assert any(name.startswith("logs/csv-") for name in files)
    assert "a line for the new auto.log" in (folder / "logs" / "auto.log").read_text()
    assert {name: modes[name] for name in files} == dict.fromkeys(files, 0o600)
    assert modes["logs"] == modes["locks"] == 0o700
