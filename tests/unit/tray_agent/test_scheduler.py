"""The tray's scheduler with the real ``schedule`` library and a fake runner.

Cadence, overlap, pause and back-off are driven by an injected clock, tick by tick: no test
depends on how fast a busy machine wakes a sleeping thread. ``schedule`` reads the time with
``datetime.datetime.now()`` and has no seam of its own, so the ``fake_time`` fixture gives
that one module a ``datetime`` whose ``now()`` is the fake clock.
"""

from __future__ import annotations

import datetime
import itertools
import threading
import time
import types
from collections import defaultdict
from collections.abc import Callable, Iterator

import pytest
import schedule

from core.settings.model import Interval
from tray_agent.scheduler import ModuleSchedule, Scheduler, backoff_seconds


def every(seconds: float) -> Interval:
    return Interval(every_seconds=seconds, daily_at=None, text=f"{seconds}s")  # type: ignore[arg-type]


class FakeTime:
    """Wall-clock seconds that only move when ``advance`` moves them."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def clock(self) -> float:
        return self.now


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTime]:
    fake = FakeTime()

    class FakeDatetime(datetime.datetime):
        @classmethod
        def now(cls, tz: datetime.tzinfo | None = None) -> datetime.datetime:
            return datetime.datetime.fromtimestamp(fake.now, tz)

    shim = types.SimpleNamespace(**vars(datetime))
    shim.datetime = FakeDatetime
    monkeypatch.setattr(schedule, "datetime", shim)
    yield fake


def advance(fake: FakeTime, scheduler: Scheduler, seconds: int, *, wait: bool = True) -> None:
    """Move the clock on one second at a time, ticking (and, with ``wait``, letting each
    started run finish before the next second)."""
    for _ in range(seconds):
        fake.now += 1
        scheduler.tick()
        if wait:
            wait_until(lambda: not scheduler.running())


class FakeRunner:
    """Records when each module started (by ``clock``) and how many ran at once.

    A run takes ``duration`` real seconds, or until ``release`` is set when one is given.
    """

    def __init__(
        self,
        duration: float = 0.0,
        succeed: bool = True,
        *,
        clock: Callable[[], float] = time.monotonic,
        release: threading.Event | None = None,
    ) -> None:
        self.duration, self.succeed = duration, succeed
        self.clock, self.release = clock, release
        self.starts: dict[str, list[float]] = defaultdict(list)
        self.active: dict[str, int] = defaultdict(int)
        self.most_at_once: dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()

    def __call__(self, name: str) -> bool:
        with self.lock:
            self.starts[name].append(self.clock())
            self.active[name] += 1
            self.most_at_once[name] = max(self.most_at_once[name], self.active[name])
        if self.release is not None:
            self.release.wait(10)
        else:
            time.sleep(self.duration)
        with self.lock:
            self.active[name] -= 1
        return self.succeed


def run_for(seconds: float, scheduler: Scheduler) -> None:
    scheduler.start()
    time.sleep(seconds)
    assert scheduler.stop(timeout_seconds=5)


def wait_until(condition: Callable[[], bool], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


def test_two_modules_run_on_their_own_cadence(fake_time: FakeTime) -> None:
    runner = FakeRunner(clock=fake_time.clock)
    scheduler = Scheduler(runner, clock=fake_time.clock)
    scheduler.set_modules([ModuleSchedule("fast", every(15)), ModuleSchedule("slow", every(40))])
    started = fake_time.now
    advance(fake_time, scheduler, 200)
    fast, slow = runner.starts["fast"], runner.starts["slow"]
    assert [start - started for start in fast] == [15.0 * n for n in range(1, 14)]
    assert [start - started for start in slow] == [40.0 * n for n in range(1, 6)]
    assert scheduler.stop(timeout_seconds=5)


def test_a_run_that_outlasts_its_interval_is_not_overlapped_and_the_skip_is_reported(
    fake_time: FakeTime,
) -> None:
    release = threading.Event()
    runner = FakeRunner(clock=fake_time.clock, release=release)
    skipped: list[str] = []
    scheduler = Scheduler(runner, on_skipped=skipped.append, clock=fake_time.clock)
    scheduler.set_modules([ModuleSchedule("slow-run", every(10))])
    advance(fake_time, scheduler, 10, wait=False)  # due at 10 s: starts, and keeps running
    wait_until(lambda: len(runner.starts["slow-run"]) == 1)
    advance(fake_time, scheduler, 25, wait=False)  # due at 20 s and 30 s: both skipped
    assert skipped == ["slow-run", "slow-run"]
    release.set()
    wait_until(lambda: not scheduler.running())
    advance(fake_time, scheduler, 5)  # due at 40 s: runs again
    assert len(runner.starts["slow-run"]) == 2
    assert runner.most_at_once["slow-run"] == 1
    assert scheduler.stop(timeout_seconds=5)


def test_sync_now_while_a_run_is_going_is_skipped() -> None:
    runner = FakeRunner(duration=0.5)
    scheduler = Scheduler(runner)
    scheduler.set_modules([ModuleSchedule("csv", every(3600))])
    assert scheduler.run_now() == ["csv"]
    assert scheduler.run_now(["csv"]) == []
    assert scheduler.stop(timeout_seconds=5)
    assert len(runner.starts["csv"]) == 1


def test_paused_schedules_do_not_run_but_sync_now_still_does(fake_time: FakeTime) -> None:
    runner = FakeRunner(clock=fake_time.clock)
    scheduler = Scheduler(runner, clock=fake_time.clock)
    scheduler.set_modules([ModuleSchedule("csv", every(10))])
    scheduler.pause()
    advance(fake_time, scheduler, 50)
    assert runner.starts["csv"] == []
    scheduler.run_now(["csv"])
    wait_until(lambda: len(runner.starts["csv"]) == 1)
    scheduler.resume()
    advance(fake_time, scheduler, 20)
    assert len(runner.starts["csv"]) == 3
    assert scheduler.stop(timeout_seconds=5)


def test_back_off_grows_after_repeated_failures_and_is_capped() -> None:
    assert backoff_seconds(300, 0) == 0
    assert backoff_seconds(300, 1) == 0
    assert backoff_seconds(300, 2) == 300
    assert backoff_seconds(300, 3) == 900
    assert backoff_seconds(300, 50) == 3600
    assert backoff_seconds(86_400, 50) == 86_400


def test_a_module_that_keeps_failing_runs_less_often(fake_time: FakeTime) -> None:
    failing = FakeRunner(succeed=False, clock=fake_time.clock)
    healthy = FakeRunner(clock=fake_time.clock)
    schedulers = [Scheduler(runner, clock=fake_time.clock) for runner in (failing, healthy)]
    for scheduler in schedulers:
        scheduler.set_modules([ModuleSchedule("m", every(10))])
    for _ in range(300):
        fake_time.now += 1
        for scheduler in schedulers:
            scheduler.tick()
        wait_until(lambda: not any(scheduler.running() for scheduler in schedulers))
    assert len(healthy.starts["m"]) == 30
    # From the second failure in a row, the next run waits backoff_seconds (10, 30, 70,
    # 150 s) after the last one ended: runs at 10, 20, 30, 60, 130 and 280 s.
    gaps = [b - a for a, b in itertools.pairwise(failing.starts["m"])]
    assert gaps == [10.0, 10.0, 30.0, 70.0, 150.0]
    for scheduler in schedulers:
        assert scheduler.stop(timeout_seconds=5)


def test_stop_gives_up_after_its_timeout_when_a_run_does_not_end() -> None:
    release = threading.Event()
    scheduler = Scheduler(lambda name: release.wait(10))
    scheduler.set_modules([ModuleSchedule("csv", every(3600))])
    scheduler.run_now()
    started = time.monotonic()
    assert scheduler.stop(timeout_seconds=0.3) is False
    assert 0.3 <= time.monotonic() - started < 1
    release.set()
    assert scheduler.run_now() == []  # nothing new starts once stopping


def test_next_run_follows_the_interval() -> None:
    scheduler = Scheduler(FakeRunner())
    scheduler.set_modules([ModuleSchedule("a", every(600)), ModuleSchedule("b", every(60))])
    assert scheduler.next_run("a") == pytest.approx(time.time() + 600, abs=2)
    assert scheduler.next_run() == pytest.approx(time.time() + 60, abs=2)


def test_daily_modules_are_scheduled_at_their_time() -> None:
    scheduler = Scheduler(FakeRunner())
    scheduler.set_modules([ModuleSchedule("nightly", Interval.parse("daily@02:00"))])
    next_run = time.localtime(scheduler.next_run("nightly"))
    assert (next_run.tm_hour, next_run.tm_min) == (2, 0)


def test_stop_without_time_to_wait_says_at_once_whether_runs_are_still_going() -> None:
    assert Scheduler(FakeRunner()).stop(timeout_seconds=0) is True
    release = threading.Event()
    scheduler = Scheduler(lambda name: release.wait(10))
    scheduler.set_modules([ModuleSchedule("csv", every(3600))])
    scheduler.run_now()
    assert scheduler.stop(timeout_seconds=0) is False
    release.set()


def test_changed_settings_keep_the_jobs_of_unchanged_modules() -> None:
    scheduler = Scheduler(FakeRunner())
    scheduler.set_modules([ModuleSchedule("a", every(600)), ModuleSchedule("b", every(60))])
    next_a = scheduler.next_run("a")
    time.sleep(0.05)
    scheduler.set_modules([ModuleSchedule("a", every(600)), ModuleSchedule("b", every(120))])
    assert scheduler.next_run("a") == next_a
    assert scheduler.next_run("b") == pytest.approx(time.time() + 120, abs=2)
    scheduler.set_modules([ModuleSchedule("b", every(120))])
    assert scheduler.next_run("a") is None


def test_back_off_restored_from_the_state_db_holds_back_the_catch_up_and_the_schedule() -> None:
    now = time.time()
    scheduler = Scheduler(FakeRunner())
    scheduler.set_modules([ModuleSchedule("failing", every(300)), ModuleSchedule("ok", every(300))])
    # Ten failures in a row: an hour's back-off (the cap) from the last run, 20 minutes ago.
    scheduler.restore("failing", 10, now - 1200)
    scheduler.restore("ok", 0, now - 1200)
    assert not scheduler.overdue("failing", now - 1200, now)
    assert scheduler.overdue("failing", now - 1200, now + 2401)
    assert scheduler.overdue("ok", now - 1200, now)
    assert scheduler.next_run("failing") == pytest.approx(now + 2400, abs=1)


def test_catch_up_is_for_scheduled_modules_that_never_ran_or_missed_an_interval() -> None:
    now = time.time()
    scheduler = Scheduler(FakeRunner())
    scheduler.set_modules([ModuleSchedule("csv", every(300))])
    assert scheduler.overdue("csv", None, now)
    assert not scheduler.overdue("csv", now - 100, now)
    assert scheduler.overdue("csv", now - 301, now)
    assert not scheduler.overdue("not-scheduled", None, now)


def test_a_finished_run_is_reported_once_it_no_longer_counts_as_running() -> None:
    seen: list[tuple[str, set[str]]] = []
    done = threading.Event()
    scheduler: Scheduler

    def finished(name: str) -> None:
        seen.append((name, scheduler.running()))
        done.set()

    scheduler = Scheduler(lambda name: True, on_done=finished)
    scheduler.set_modules([ModuleSchedule("csv", every(3600))])
    scheduler.run_now()
    assert done.wait(5)
    assert seen == [("csv", set())]  # the menu rebuilt now shows Sync now enabled again
