"""The tray's scheduler with the real ``schedule`` library, short intervals and a fake runner."""

from __future__ import annotations

import itertools
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Callable

import pytest

from core.settings.model import Interval
from tray_agent.scheduler import ModuleSchedule, Scheduler, backoff_seconds


def every(seconds: float) -> Interval:
    return Interval(every_seconds=seconds, daily_at=None, text=f"{seconds}s")  # type: ignore[arg-type]


class FakeRunner:
    """Records when each module started and how many ran at once; takes ``duration`` each."""

    def __init__(self, duration: float = 0.0, succeed: bool = True) -> None:
        self.duration, self.succeed = duration, succeed
        self.starts: dict[str, list[float]] = defaultdict(list)
        self.active: dict[str, int] = defaultdict(int)
        self.most_at_once: dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()

    def __call__(self, name: str) -> bool:
        with self.lock:
            self.starts[name].append(time.monotonic())
            self.active[name] += 1
            self.most_at_once[name] = max(self.most_at_once[name], self.active[name])
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


def test_two_modules_run_on_their_own_cadence() -> None:
    runner = FakeRunner()
    scheduler = Scheduler(runner, tick_seconds=0.05)
    scheduler.set_modules([ModuleSchedule("fast", every(0.25)), ModuleSchedule("slow", every(0.8))])
    run_for(2.7, scheduler)
    fast, slow = runner.starts["fast"], runner.starts["slow"]
    assert 8 <= len(fast) <= 11
    assert 2 <= len(slow) <= 4
    assert statistics.median(b - a for a, b in itertools.pairwise(fast)) == pytest.approx(
        0.25, abs=0.08
    )
    assert statistics.median(b - a for a, b in itertools.pairwise(slow)) == pytest.approx(
        0.8, abs=0.1
    )


def test_a_run_that_outlasts_its_interval_is_not_overlapped_and_the_skip_is_reported() -> None:
    runner = FakeRunner(duration=0.7)
    skipped: list[str] = []
    scheduler = Scheduler(runner, on_skipped=skipped.append, tick_seconds=0.05)
    scheduler.set_modules([ModuleSchedule("slow-run", every(0.2))])
    run_for(2.0, scheduler)
    assert runner.most_at_once["slow-run"] == 1
    assert 2 <= len(runner.starts["slow-run"]) <= 3
    assert skipped and set(skipped) == {"slow-run"}
    starts = runner.starts["slow-run"]
    assert all(b - a >= 0.69 for a, b in itertools.pairwise(starts))


def test_sync_now_while_a_run_is_going_is_skipped() -> None:
    runner = FakeRunner(duration=0.5)
    scheduler = Scheduler(runner)
    scheduler.set_modules([ModuleSchedule("csv", every(3600))])
    assert scheduler.run_now() == ["csv"]
    assert scheduler.run_now(["csv"]) == []
    assert scheduler.stop(timeout_seconds=5)
    assert len(runner.starts["csv"]) == 1


def test_paused_schedules_do_not_run_but_sync_now_still_does() -> None:
    runner = FakeRunner()
    scheduler = Scheduler(runner, tick_seconds=0.05)
    scheduler.set_modules([ModuleSchedule("csv", every(0.1))])
    scheduler.pause()
    scheduler.start()
    time.sleep(0.5)
    assert runner.starts["csv"] == []
    scheduler.run_now(["csv"])
    wait_until(lambda: len(runner.starts["csv"]) == 1)
    scheduler.resume()
    wait_until(lambda: len(runner.starts["csv"]) >= 3)
    assert scheduler.stop(timeout_seconds=5)


def test_back_off_grows_after_repeated_failures_and_is_capped() -> None:
    assert backoff_seconds(300, 0) == 0
    assert backoff_seconds(300, 1) == 0
    assert backoff_seconds(300, 2) == 300
    assert backoff_seconds(300, 3) == 900
    assert backoff_seconds(300, 50) == 3600
    assert backoff_seconds(86_400, 50) == 86_400


def test_a_module_that_keeps_failing_runs_less_often() -> None:
    failing, healthy = FakeRunner(succeed=False), FakeRunner()
    schedulers = [Scheduler(runner, tick_seconds=0.05) for runner in (failing, healthy)]
    for scheduler in schedulers:
        scheduler.set_modules([ModuleSchedule("m", every(0.1))])
        scheduler.start()
    time.sleep(1.5)
    for scheduler in schedulers:
        assert scheduler.stop(timeout_seconds=5)
    assert len(failing.starts["m"]) < len(healthy.starts["m"]) / 2


def test_stop_waits_for_a_safe_point_then_returns() -> None:
    reached = threading.Event()
    scheduler: Scheduler

    def batches(name: str) -> bool:
        for _ in range(100):
            time.sleep(0.05)  # one batch
            scheduler.at_safe_point(name)  # what the tray does on a "safe-point" event
        reached.set()
        return True

    scheduler = Scheduler(batches)
    scheduler.set_modules([ModuleSchedule("csv", every(3600))])
    scheduler.run_now()
    started = time.monotonic()
    assert scheduler.stop(timeout_seconds=5)
    assert time.monotonic() - started < 1
    assert not reached.is_set()  # parked after a batch, not run to the end


def test_stop_gives_up_after_its_timeout_when_a_run_never_reaches_a_safe_point() -> None:
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
