"""Whatever process creates a settings folder's parts first, they are owner-only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from core.private_files import private_folder, write_private_text
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
