"""A state DB the agent cannot write ends the run with one sentence naming the file and what to
do: never a traceback. The files are real; the runs are the real command."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.outcomes import Outcome
from core.run.runner import ModuleRunResult, RunEvent, Runner
from core.settings.model import Settings
from core.state import store
from halo_emulator import Emulator

from .conftest import halo_users, user_rows, write_csv
from .test_cli import COMMAND, configured_folder

EXIT_CONFIG = 2


def unprivileged() -> list[str]:
    """A command prefix under which file modes hold: root (as in CI containers) writes
    anything, unless its capabilities to override them are dropped."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    command = [str(setpriv), "--bounding-set", "-dac_override,-dac_read_search"]
    if setpriv is None or subprocess.run([*command, "true"], check=False).returncode != 0:
        pytest.skip("root cannot drop its file-mode override here (setpriv)")
    return command


def auto(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*unprivileged(), COMMAND, "AUTO", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def synced_folder(tmp_path: Path, emulator: Emulator) -> Path:
    folder = configured_folder(tmp_path, emulator)
    first = auto(folder)
    assert first.returncode == 0, first.stderr
    return folder


def test_a_read_only_state_db_ends_the_auto_run_with_one_sentence(
    tmp_path: Path, emulator: Emulator
) -> None:
    folder = synced_folder(tmp_path, emulator)
    state_db = folder / "state.db"
    state_db.chmod(0o400)

    run = auto(folder)

    assert run.returncode == EXIT_CONFIG, run.stdout + run.stderr
    sentence = f"{state_db}: the state database is read-only for this account."
    assert sentence in run.stderr and "write access" in run.stderr
    assert "Traceback" not in run.stderr
    assert sentence in (folder / "logs" / "auto.log").read_text()


def leave_a_crashed_reader(state_db: Path) -> None:
    """A process that had the DB open and was killed: its -shm (and -wal) stay behind."""
    with subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); "
            "db.execute('SELECT count(*) FROM runs').fetchall(); print('open', flush=True); "
            "sys.stdin.read()",
            str(state_db),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        holder.send_signal(signal.SIGKILL)


def test_a_leftover_read_only_shm_is_named_with_what_to_do(
    tmp_path: Path, emulator: Emulator
) -> None:
    folder = synced_folder(tmp_path, emulator)
    leave_a_crashed_reader(folder / "state.db")
    shm = folder / "state.db-shm"
    assert shm.stat().st_size > 0
    shm.chmod(0o444)  # as if another account's run had left it

    run = auto(folder)

    assert run.returncode == EXIT_CONFIG, run.stdout + run.stderr
    assert f"{shm}: SQLite's shared-memory file is read-only" in run.stderr
    assert "Delete it while no halo-integrator is running" in run.stderr
    assert "Traceback" not in run.stderr
    shm.unlink()  # what the sentence says to do
    again = auto(folder)
    assert again.returncode == 0, again.stderr


def test_a_state_db_locked_past_the_busy_timeout_is_a_config_error_naming_it(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings()
    write_csv(settings.folder / "users.csv", user_rows(3))
    assert all(result.ok for result in Runner(settings).run())
    monkeypatch.setattr(store, "BUSY_TIMEOUT_MILLISECONDS", 1_000)  # not the real 30 s
    other_process = sqlite3.connect(settings.folder / "state.db", isolation_level=None)
    other_process.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(ConfigError) as raised:
            Runner(settings).run()
    finally:
        other_process.execute("ROLLBACK")
        other_process.close()
    assert str(raised.value).startswith(f"{settings.folder / 'state.db'}: another process kept")
    assert "locked for 1 s" in str(raised.value)


def test_a_settings_folder_others_can_open_is_reported_once(
    tmp_path: Path, emulator: Emulator
) -> None:
    folder = configured_folder(tmp_path, emulator)
    folder.chmod(0o755)
    run = auto(folder)
    assert run.returncode == 0, run.stderr
    assert run.stderr.count("can be opened by other accounts (mode 755)") == 1
    assert f"chmod 700 {folder}" in run.stderr


class LockHolder:
    """Another process holding ``BEGIN EXCLUSIVE`` on the state DB until ``release()``."""

    def __init__(self, state_db: Path) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sqlite3, sys; db = sqlite3.connect(sys.argv[1], isolation_level=None); "
                "db.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); sys.stdin.read(); "
                "db.execute('ROLLBACK')",
                str(state_db),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline() == "locked\n"

    def release(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        assert self.process.wait(timeout=10) == 0
        self.process.stdout.close()


def run_locked_after_the_first_batch(settings: Settings) -> tuple[ModuleRunResult, LockHolder]:
    """Sync 10 users in batches of 2; once the first batch is committed, lock the DB."""
    holders: list[LockHolder] = []

    def lock_once(event: RunEvent) -> None:
        if event.kind == "progress" and event.phase == "create" and not holders:
            holders.append(LockHolder(settings.folder / "state.db"))

    [result] = Runner(settings, listeners=[lock_once]).run()
    return result, holders[0]


@pytest.fixture
def ten_users_in_batches_of_two(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> Settings:
    settings = make_settings()
    settings.halo = dataclasses.replace(settings.halo, batch_size=2)
    write_csv(settings.folder / "users.csv", user_rows(10))
    monkeypatch.setattr(store, "BUSY_TIMEOUT_MILLISECONDS", 1_000)  # not the real 30 s
    return settings


def test_a_state_db_locked_mid_run_fails_the_run_in_one_sentence_and_the_next_run_recovers(
    ten_users_in_batches_of_two: Settings, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    settings = ten_users_in_batches_of_two
    started = time.monotonic()
    result, holder = run_locked_after_the_first_batch(settings)
    elapsed = time.monotonic() - started
    holder.release()

    state_db = settings.folder / "state.db"
    assert result.outcome is Outcome.FAILED
    assert result.error == (
        f"{state_db}: another process kept the state database locked for 1 s. Close whatever "
        "holds it open (a database browser, a backup, a stuck halo-integrator) and run again."
    )
    assert result.counts.created >= 2  # the first batch, committed before the lock
    assert result.summary().startswith(f"{result.counts.created} created")
    assert not [record for record in caplog.records if record.exc_info]  # no traceback
    # The failed write and the run's own record waited one busy timeout each, no more.
    assert elapsed < 2 * 1.0 + 3.0

    again = Runner(settings).run()
    assert [r.outcome for r in again] == [Outcome.SUCCEEDED]
    emails = sorted(
        u["emailaddress"] for u in halo_users(emulator) if "@example.com" in u["emailaddress"]
    )
    assert emails == sorted(row["emailaddress"] for row in user_rows(10))  # none twice
    runs = Runner(settings).state.recent_runs("csv", limit=3)
    assert [run["outcome"] for run in runs][:2] == ["succeeded", "interrupted"]


def test_a_state_db_locked_mid_run_still_counts_every_record_that_reached_halo(
    ten_users_in_batches_of_two: Settings, emulator: Emulator
) -> None:
    result, holder = run_locked_after_the_first_batch(ten_users_in_batches_of_two)
    holder.release()
    in_halo = [u for u in halo_users(emulator) if u["emailaddress"].endswith("@example.com")]
    assert result.counts.created == len(in_halo)
