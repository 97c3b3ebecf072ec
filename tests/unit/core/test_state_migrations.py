"""The state DB evolves by numbered migrations: old files keep their data, newer are refused."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.outcomes import RunCounts
from core.state.migrations import SCHEMA_VERSION, VERSION_1
from core.state.store import MappedRecord, StateStore


def version_zero_db(folder: Path) -> Path:
    """A state.db as the agent before migrations wrote it (no user_version)."""
    path = folder / "state.db"
    db = sqlite3.connect(path)
    db.executescript(VERSION_1)
    db.execute(
        "INSERT INTO runs (module, origin, started_at, finished_at, outcome, created) "
        "VALUES ('csv', 'auto', 1000.0, 1010.0, 'succeeded', 5)"
    )
    db.execute(
        "INSERT INTO module_status (module, last_run_at, last_outcome, last_success_at, "
        "consecutive_failures) VALUES ('csv', 1010.0, 'succeeded', 1010.0, 0)"
    )
    db.executemany(
        "INSERT INTO record_map VALUES ('csv', 'Users', ?, ?, 'f', 1, 1000.0)",
        [("a@example.com", 11), ("b@example.com", 12), ("dup@example.com", 11)],
    )
    db.execute("INSERT INTO checkpoints VALUES ('csv', 'reported_failures', '[]')")
    db.commit()
    db.close()
    return path


def test_an_old_state_db_is_migrated_once_and_keeps_its_data(tmp_path: Path) -> None:
    path = version_zero_db(tmp_path)
    store = StateStore(tmp_path)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    mapped = store.mapped_records("csv", "Users")
    # Two keys on one Halo record cannot both own it: the first mapping is kept.
    assert {key: entry.halo_id for key, entry in mapped.items()} == {
        "a@example.com": 11,
        "b@example.com": 12,
    }
    status = store.status("csv")
    assert status is not None and status.last_started_at == 1000.0
    assert store.checkpoint("csv", "reported_failures") is None
    assert store.recent_runs("csv")[0]["created"] == 5
    StateStore(tmp_path)  # opening again migrates nothing and loses nothing
    assert len(StateStore(tmp_path).mapped_records("csv", "Users")) == 2


def test_two_processes_opening_an_old_db_at_once_migrate_it_once(tmp_path: Path) -> None:
    version_zero_db(tmp_path)
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            StateStore(tmp_path)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(StateStore(tmp_path).mapped_records("csv", "Users")) == 2


def test_a_state_db_from_a_newer_version_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(ConfigError, match="newer Halo Integrator"):
        StateStore(tmp_path)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 99


def test_one_halo_record_has_one_owner(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.save_mappings("first", "Users", [MappedRecord("a@example.com", 7, "f", True)])
    assert store.owners("Users", [7, 8]) == {7: ("first", "a@example.com")}
    with pytest.raises(sqlite3.IntegrityError):
        store.save_mappings("second", "Users", [MappedRecord("a@example.com", 7, "f", True)])
    store.forget_module("first")
    assert store.owners("Users", [7]) == {}


def test_finishing_a_run_records_details_and_started_time(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    run_id = store.start_run("csv", "cli")
    started = store.status("csv")
    assert started is not None and started.last_started_at is not None
    details = [{"entity": "Users", "created": 2}]
    store.finish_run(run_id, "csv", "refused", RunCounts(created=2), "refused", details)
    status = store.status("csv")
    assert status is not None and status.consecutive_failures == 1
    assert status.last_outcome == "refused"
    assert store.recent_runs("csv")[0]["details"] == '[{"entity": "Users", "created": 2}]'
