"""The client-side sliding-window pacer, on a fake clock (no real waiting)."""

from __future__ import annotations

import pytest

from core.halo.pacing import RequestPacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def pacer(clock: FakeClock, limit: int = 10, window: float = 60.0) -> RequestPacer:
    return RequestPacer(
        limit, window, headroom=0.0, safety_seconds=0.0, clock=clock, sleep=clock.sleep
    )


def test_requests_within_the_budget_do_not_wait() -> None:
    clock = FakeClock()
    limiter = pacer(clock)
    assert [limiter.acquire() for _ in range(10)] == [0.0] * 10
    assert clock.slept == []


def test_the_request_over_the_budget_waits_until_the_oldest_leaves_the_window() -> None:
    clock = FakeClock()
    limiter = pacer(clock)
    for _ in range(10):
        limiter.acquire()
        clock.now += 1.0  # one request a second
    waited = limiter.acquire()
    # The first request was at t=1000, the window is 60 s, now is 1010: wait 50 s.
    assert waited == pytest.approx(50.0)


def test_window_is_rolling_not_fixed() -> None:
    clock = FakeClock()
    limiter = pacer(clock, limit=2, window=10.0)
    limiter.acquire()  # t=1000
    clock.now += 6
    limiter.acquire()  # t=1006
    clock.now += 5  # t=1011: the first left the window, the second has not
    assert limiter.acquire() == 0.0
    assert limiter.acquire() == pytest.approx(5.0)  # until t=1016, when the t=1006 one leaves


def test_hold_off_after_a_429_blocks_everyone() -> None:
    clock = FakeClock()
    limiter = pacer(clock)
    limiter.hold_off(7.5)
    assert limiter.acquire() == pytest.approx(7.5)


def test_headroom_leaves_part_of_the_quota_to_other_tools() -> None:
    assert RequestPacer(300, 300.0).budget == 294


def test_the_window_is_stretched_by_a_safety_margin() -> None:
    """The server counts arrivals, the pacer sends: a slow request must not free a slot early."""
    assert RequestPacer(300, 300.0).window_seconds == 306.0
    assert RequestPacer(10, 1.0).window_seconds == 1.5


def test_nonsense_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        RequestPacer(0, 300.0)
