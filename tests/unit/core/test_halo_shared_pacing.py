"""The file-backed pacer: several pacers (standing for several processes) share one budget,
and a file that cannot be used is started afresh."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

import pytest

from core.halo import pacing
from core.halo.pacing import RequestPacer, SharedRequestPacer, application_pacer
from core.settings.model import HaloConnection


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def pacer(path: Path, clock: FakeClock, application: str = "https://a x") -> SharedRequestPacer:
    return SharedRequestPacer(
        path,
        application,
        5,
        60.0,
        headroom=0.0,
        safety_seconds=0.0,
        clock=clock,
        sleep=clock.sleep,
    )


def test_two_pacers_on_one_file_share_the_budget(tmp_path: Path) -> None:
    clock = FakeClock()
    tray, auto_run = pacer(tmp_path / "pacing.db", clock), pacer(tmp_path / "pacing.db", clock)
    for _ in range(3):
        assert tray.acquire() == 0.0
    for _ in range(2):
        assert auto_run.acquire() == 0.0
    assert auto_run.acquire() == pytest.approx(60.0)  # the sixth waits for the window to roll


def test_applications_have_separate_budgets(tmp_path: Path) -> None:
    clock = FakeClock()
    first = pacer(tmp_path / "pacing.db", clock, "https://a id-1")
    other = pacer(tmp_path / "pacing.db", clock, "https://a id-2")
    for _ in range(5):
        first.acquire()
    assert other.acquire() == 0.0


def test_a_hold_off_stops_every_pacer_of_the_application(tmp_path: Path) -> None:
    clock = FakeClock()
    tray, auto_run = pacer(tmp_path / "pacing.db", clock), pacer(tmp_path / "pacing.db", clock)
    tray.hold_off(12.0)
    assert auto_run.acquire() == pytest.approx(12.0)


def test_concurrent_claims_never_exceed_the_budget(tmp_path: Path) -> None:
    """Real clock, real threads: the exclusive transaction is what keeps the count right."""
    pacers = [
        SharedRequestPacer(tmp_path / "pacing.db", "app", 20, 600.0, headroom=0.0) for _ in range(4)
    ]
    claimed: list[float] = []
    lock = threading.Lock()

    def claim(shared: SharedRequestPacer) -> None:
        for _ in range(5):
            waited = shared._claim()
            with lock:
                claimed.append(waited)

    threads = [threading.Thread(target=claim, args=(p,)) for p in pacers for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(1 for waited in claimed if waited == 0.0) == 20


def test_a_file_that_is_not_a_database_is_set_aside_and_started_afresh(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    damaged = tmp_path / "pacing.db"
    damaged.write_bytes(b"garbage " * 1000)
    clock = FakeClock()
    with caplog.at_level(logging.WARNING, logger="halo_integrator"):
        shared = pacer(damaged, clock)
    assert shared.acquire() == 0.0
    assert (tmp_path / "pacing.db.unreadable").read_bytes().startswith(b"garbage")
    [warning] = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert str(damaged) in warning.getMessage()
    assert "pacing.db.unreadable" in warning.getMessage()


def test_a_file_damaged_while_in_use_is_rebuilt_at_the_next_claim(tmp_path: Path) -> None:
    path = tmp_path / "pacing.db"
    clock = FakeClock()
    shared = pacer(path, clock)
    for _ in range(5):
        shared.acquire()
    with path.open("r+b") as handle:  # overwrite every page after the header's
        handle.seek(100)
        handle.write(b"\xff" * (path.stat().st_size - 100))
    assert shared.acquire() == 0.0  # a fresh file: the history of five sends is gone
    assert (tmp_path / "pacing.db.unreadable").exists()


def test_a_leftover_journal_is_not_rolled_back_into_the_new_file(tmp_path: Path) -> None:
    path = tmp_path / "pacing.db"
    path.write_bytes(b"garbage " * 1000)
    Path(f"{path}-journal").write_bytes(b"a journal of some other file " * 100)
    shared = pacer(path, FakeClock())
    assert shared.acquire() == 0.0
    assert not Path(f"{path}-journal").exists()
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_busy_file_is_waited_for_not_set_aside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "pacing.db"
    shared = pacer(path, FakeClock())
    monkeypatch.setattr(pacing, "BUSY_TIMEOUT_SECONDS", 0.2)
    other_process = sqlite3.connect(path, isolation_level=None)
    other_process.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            shared.acquire()
    finally:
        other_process.execute("ROLLBACK")
        other_process.close()
    assert not (tmp_path / "pacing.db.unreadable").exists()
    assert shared.acquire() == 0.0


def test_the_pacing_file_lives_in_the_state_folder_the_environment_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(pacing.STATE_FOLDER_VARIABLE, str(tmp_path / "state"))
    connection = HaloConnection(url="https://acme.halopsa.com/", client_id="id", client_secret=None)
    shared = application_pacer(connection)
    assert isinstance(shared, SharedRequestPacer)
    assert shared.path == tmp_path / "state" / "pacing.db"
    assert shared.application == "https://acme.halopsa.com id"


def test_two_settings_folders_on_one_application_draw_on_one_budget(tmp_path: Path) -> None:
    five_minutes = HaloConnection(
        url="https://Acme.HaloPSA.com", client_id="id", client_secret=None, requests_per_window=3
    )
    daily = HaloConnection(
        url="https://acme.halopsa.com/", client_id="id", client_secret=None, requests_per_window=3
    )
    other_application = HaloConnection(
        url="https://acme.halopsa.com", client_id="other", client_secret=None
    )
    first, second = application_pacer(five_minutes, tmp_path), application_pacer(daily, tmp_path)
    assert isinstance(first, SharedRequestPacer) and isinstance(second, SharedRequestPacer)
    for _ in range(first.budget):
        assert first.acquire() == 0.0
    assert second._claim() > 0  # no room left for the other folder
    assert application_pacer(other_application, tmp_path).acquire() == 0.0


def test_a_state_folder_that_cannot_be_made_paces_this_process_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    not_a_folder = tmp_path / "state"
    not_a_folder.write_text("a file where the folder should be")
    connection = HaloConnection(url="https://acme.halopsa.com", client_id="id", client_secret=None)
    with caplog.at_level(logging.WARNING, logger="halo_integrator"):
        fallback = application_pacer(connection, not_a_folder)
    assert isinstance(fallback, RequestPacer)
    assert fallback.acquire() == 0.0
    assert pacing.STATE_FOLDER_VARIABLE in caplog.text and str(not_a_folder) in caplog.text
