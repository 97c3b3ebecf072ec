"""The file-backed pacer: several pacers (standing for several processes) share one budget."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from core.halo.pacing import SharedRequestPacer


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
