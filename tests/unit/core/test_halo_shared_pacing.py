"""The file-backed pacer: several pacers (standing for several processes) share one budget,
and a file that cannot be used is started afresh."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
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


def test_the_shared_budget_keeps_headroom_and_a_safety_margin(tmp_path: Path) -> None:
    shared = SharedRequestPacer(tmp_path / "pacing.db", "app", 300, 300.0)
    assert (shared.budget, shared.window_seconds) == (294, 306.0)
    tight = SharedRequestPacer(tmp_path / "pacing.db", "app", 1, 0.5, headroom=0.5)
    assert (tight.budget, tight.window_seconds) == (1, 1.0)
    exact = SharedRequestPacer(tmp_path / "pacing.db", "app", 10, 60.0, safety_seconds=2.5)
    assert exact.window_seconds == 62.5


@pytest.mark.parametrize(("requests", "window"), [(0, 60.0), (5, 0.0), (5, -1.0)])
def test_nonsense_shared_limits_are_refused_before_any_file_is_made(
    tmp_path: Path, requests: int, window: float
) -> None:
    with pytest.raises(ValueError, match=r"^a rate limit needs at least one request per positive"):
        SharedRequestPacer(tmp_path / "state" / "pacing.db", "app", requests, window)
    assert not (tmp_path / "state").exists()


def test_the_pacing_file_and_its_folder_are_created_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "state" / "deeper" / "pacing.db"
    SharedRequestPacer(path, "app", 10, 60.0)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    tables = sqlite3.connect(path).execute(
        "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
    )
    assert [name for (name,) in tables] == ["hold", "sent", "sent_by_time"]


def test_a_shared_request_exactly_one_window_old_has_left_it(tmp_path: Path) -> None:
    clock = FakeClock()
    shared = SharedRequestPacer(
        tmp_path / "pacing.db",
        "app",
        1,
        10.0,
        headroom=0.0,
        safety_seconds=0.0,
        clock=clock,
        sleep=clock.sleep,
    )
    assert shared.acquire() == 0.0
    clock.now += 10.0
    assert shared.acquire() == 0.0
    assert shared.acquire() == pytest.approx(10.0)
    assert shared.total_wait_seconds == pytest.approx(10.0)


def test_the_shared_request_after_a_hold_off_counts_and_waits_add_up(tmp_path: Path) -> None:
    clock = FakeClock()
    shared = SharedRequestPacer(
        tmp_path / "pacing.db",
        "app",
        1,
        60.0,
        headroom=0.0,
        safety_seconds=0.0,
        clock=clock,
        sleep=clock.sleep,
    )
    shared.hold_off(30.0)
    shared.hold_off(5.0)  # a shorter hold-off never shortens a longer one
    assert shared.acquire() == pytest.approx(30.0)
    assert shared.acquire() == pytest.approx(60.0)
    assert shared.total_wait_seconds == pytest.approx(90.0)


def test_a_hold_off_then_a_full_window_are_waited_in_one_acquire(tmp_path: Path) -> None:
    clock = FakeClock()
    shared = SharedRequestPacer(
        tmp_path / "pacing.db",
        "app",
        1,
        60.0,
        headroom=0.0,
        safety_seconds=0.0,
        clock=clock,
        sleep=clock.sleep,
    )
    shared.acquire()
    shared.hold_off(4.0)
    assert shared.acquire() == pytest.approx(60.0)  # 4 s held off, then 56 s for the window


def test_a_hold_off_of_one_application_leaves_the_others_alone(tmp_path: Path) -> None:
    clock = FakeClock()
    held = pacer(tmp_path / "pacing.db", clock, "https://a id-1")
    other = pacer(tmp_path / "pacing.db", clock, "https://a id-2")
    held.hold_off(12.0)
    assert other.acquire() == 0.0
    assert held.acquire() == pytest.approx(12.0)


def test_the_default_shared_clock_is_wall_time(tmp_path: Path) -> None:
    """Processes share the file, so their clock must be one they share: the wall clock."""
    shared = SharedRequestPacer(tmp_path / "pacing.db", "app", 10, 60.0)
    before = time.time()
    shared.acquire()
    [(at,)] = sqlite3.connect(tmp_path / "pacing.db").execute("SELECT at FROM sent")
    assert before <= at <= time.time()
    shared.hold_off(0.01)
    assert 0.0 < shared.acquire() < 1.0


def test_setting_a_damaged_file_aside_says_what_was_lost(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    damaged = tmp_path / "pacing.db"
    damaged.write_bytes(b"garbage " * 1000)
    Path(f"{damaged}-wal").write_bytes(b"old wal")
    Path(f"{damaged}-shm").write_bytes(b"old shm")
    with caplog.at_level(logging.WARNING, logger="halo_integrator.pacing"):
        pacer(damaged, FakeClock())
    [message] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert message == (
        f"The pacing history {damaged} cannot be used (file is not a database); it was moved "
        "to pacing.db.unreadable and a new one started. Only the last few minutes of request "
        "times are lost."
    )
    assert not Path(f"{damaged}-wal").exists() and not Path(f"{damaged}-shm").exists()


def test_a_damaged_file_another_process_already_moved_is_simply_started_afresh(
    tmp_path: Path,
) -> None:
    shared = pacer(tmp_path / "pacing.db", FakeClock())
    (tmp_path / "pacing.db").unlink()
    shared._start_afresh(sqlite3.DatabaseError("file is not a database"))
    assert shared.acquire() == 0.0
    assert not (tmp_path / "pacing.db.unreadable").exists()


def test_work_that_fails_inside_a_transaction_leaves_nothing_behind(tmp_path: Path) -> None:
    shared = pacer(tmp_path / "pacing.db", FakeClock())

    def claim_then_fail(db: sqlite3.Connection) -> None:
        shared._claim_in(db)
        raise KeyError("stopped half-way")

    with pytest.raises(KeyError):
        shared._write(claim_then_fail)
    assert (
        sqlite3.connect(tmp_path / "pacing.db").execute("SELECT count(*) FROM sent").fetchone()[0]
        == 0
    )


def sqlite_error(code: int | None) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError("database is locked")
    if code is not None:
        error.sqlite_errorcode = code  # type: ignore[attr-defined]
    return error


@pytest.mark.parametrize(
    ("code", "busy"),
    [
        (sqlite3.SQLITE_BUSY, True),
        (sqlite3.SQLITE_LOCKED, True),
        (sqlite3.SQLITE_BUSY | (2 << 8), True),  # SQLITE_BUSY_SNAPSHOT: an extended code
        (sqlite3.SQLITE_LOCKED | (1 << 8), True),  # SQLITE_LOCKED_SHAREDCACHE
        (sqlite3.SQLITE_CORRUPT, False),
        (sqlite3.SQLITE_NOTADB, False),
        (None, False),
    ],
)
def test_only_busy_and_locked_count_as_busy(code: int | None, busy: bool) -> None:
    assert pacing._is_busy(sqlite_error(code)) is busy


def test_the_state_folder_is_the_platforms_unless_the_environment_names_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[tuple[object, ...], dict[str, object]]] = []

    def platform_folder(*args: object, **kwargs: object) -> str:
        asked.append((args, kwargs))
        return str(tmp_path / "platform")

    monkeypatch.setattr(pacing, "user_state_dir", platform_folder)
    monkeypatch.delenv(pacing.STATE_FOLDER_VARIABLE)
    assert pacing.user_state_folder() == tmp_path / "platform"
    # No author folder on Windows: %LOCALAPPDATA%\halo-integrator, as the docs say.
    assert asked == [(("halo-integrator",), {"appauthor": False})]
    monkeypatch.setenv(pacing.STATE_FOLDER_VARIABLE, "")
    assert pacing.user_state_folder() == tmp_path / "platform"
    monkeypatch.setenv(pacing.STATE_FOLDER_VARIABLE, "~/agent-state")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert pacing.user_state_folder() == tmp_path / "home" / "agent-state"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(pacing.STATE_FOLDER_VARIABLE, "relative")
    assert pacing.user_state_folder() == tmp_path / "relative"


def test_the_application_pacer_uses_the_connections_limits(tmp_path: Path) -> None:
    connection = HaloConnection(
        url="https://acme.halopsa.com",
        client_id="id",
        client_secret=None,
        requests_per_window=100,
        window_seconds=60.0,
    )
    shared = application_pacer(connection, tmp_path)
    assert isinstance(shared, SharedRequestPacer)
    assert shared.path == tmp_path / "pacing.db"
    assert (shared.budget, shared.window_seconds) == (98, 61.2)
    upper = HaloConnection(url="https://ACME.HALOX/", client_id="id", client_secret=None)
    assert application_pacer(upper, tmp_path).application == "https://acme.halox id"  # type: ignore[attr-defined]


def test_a_process_pacing_alone_says_where_and_how_to_fix_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    not_a_folder = tmp_path / "state"
    not_a_folder.write_text("a file where the folder should be")
    connection = HaloConnection(
        url="https://acme.halopsa.com", client_id="id", client_secret=None, requests_per_window=50
    )
    with caplog.at_level(logging.WARNING, logger="halo_integrator.pacing"):
        fallback = application_pacer(connection, not_a_folder)
    [message] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert message == (
        f"Cannot keep the pacing history in {not_a_folder / 'pacing.db'} ([Errno 17] File "
        f"exists: '{not_a_folder}'); this run paces on its own. Set HALO_INTEGRATOR_STATE_DIR "
        "to a folder this account can write."
    )
    assert isinstance(fallback, RequestPacer) and fallback.budget == 49


def test_one_in_process_pacer_serves_every_client_of_an_application() -> None:
    def connection(url: str, client_id: str = "id", requests: int = 40) -> HaloConnection:
        return HaloConnection(
            url=url, client_id=client_id, client_secret=None, requests_per_window=requests
        )

    first = pacing.shared_pacer(connection("https://shared.halopsa.com"))
    assert pacing.shared_pacer(connection("https://Shared.HaloPSA.com/")) is first
    assert pacing.shared_pacer(connection("https://shared.halopsa.com", "other")) is not first
    assert pacing.shared_pacer(connection("https://shared.halopsa.com", requests=41)) is not first
    assert first.budget == 39 and first.window_seconds == 306.0
