"""Under a service's umask of 000, every file the agent writes is still owner-only."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from core.halo.pacing import STATE_FOLDER_VARIABLE
from halo_emulator import Emulator

from .conftest import user_rows, write_csv
from .test_cli import cli, configure

HOLD_OPEN = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("SELECT count(*) FROM runs").fetchall()
print("open", flush=True)
sys.stdin.read()
"""


def modes_under(folder: Path) -> dict[str, int]:
    """Modes of ``folder`` and everything in it by relative path, folders ending in "/"."""
    return {
        path.relative_to(folder).as_posix() + ("/" if path.is_dir() else ""): stat.S_IMODE(
            path.lstat().st_mode
        )
        for path in [folder, *folder.rglob("*")]
    }


def owner_only(modes: dict[str, int]) -> dict[str, int]:
    """The modes ``modes`` should have: 0700 for folders, 0600 for files."""
    return {name: 0o700 if name.endswith("/") else 0o600 for name in modes}


def test_every_file_a_sync_and_an_auto_run_create_is_owner_only_under_umask_0(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each command runs in its own process with umask 0; the test process keeps its own."""
    state_folder = tmp_path / "user-state"
    monkeypatch.setenv(STATE_FOLDER_VARIABLE, str(state_folder))
    folder = tmp_path / "Daily"
    configured = configure(folder, emulator, umask=0)
    assert configured.returncode == 0, configured.stderr
    write_csv(folder / "users.csv", user_rows(5))
    (folder / "users.csv").chmod(0o600)  # the admin's file, not the agent's
    enabled = cli(
        "module", "enable", "csv", "--settings", str(folder), "--set", "path=users.csv", umask=0
    )
    assert enabled.returncode == 0, enabled.stderr
    synced = cli("sync", "--settings", str(folder), umask=0)
    assert synced.returncode == 0, synced.stdout + synced.stderr

    # A reader holding state.db open keeps its -wal and -shm while AUTO writes through them.
    with subprocess.Popen(
        [sys.executable, "-c", HOLD_OPEN, str(folder / "state.db")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        umask=0,
    ) as reader:
        assert reader.stdout is not None and reader.stdout.readline() == "open\n"
        auto = cli("AUTO", str(folder), umask=0)
        settings_modes, state_modes = modes_under(folder), modes_under(state_folder)
        reader.communicate("")
    assert auto.returncode == 0, auto.stdout + auto.stderr

    expected_files = {
        "appsettings.json",
        "appsettings.key",
        "state.db",
        "state.db-wal",
        "state.db-shm",
        "locks/csv.lock",
        "logs/auto.log",
    }
    assert expected_files <= settings_modes.keys()
    assert len([name for name in settings_modes if name.startswith("logs/csv/csv-")]) == 2
    assert "pacing.db" in state_modes
    assert settings_modes == owner_only(settings_modes)
    assert state_modes == owner_only(state_modes)
