"""Whatever process creates a settings folder's parts first, they are owner-only."""

from __future__ import annotations

import logging
import os
import stat
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
