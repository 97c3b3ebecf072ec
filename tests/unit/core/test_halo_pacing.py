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


def test_limits_at_their_smallest_are_accepted() -> None:
    assert RequestPacer(1, 0.5, headroom=0.5).budget == 1
    with pytest.raises(ValueError, match=r"^a rate limit needs at least one request per positive"):
        RequestPacer(5, 0.0)
    with pytest.raises(ValueError):
        RequestPacer(5, -1.0)


def test_an_explicit_safety_margin_replaces_the_computed_one() -> None:
    assert RequestPacer(10, 60.0, safety_seconds=0.0).window_seconds == 60.0
    assert RequestPacer(10, 60.0, safety_seconds=2.5).window_seconds == 62.5


def test_a_request_exactly_one_window_old_has_left_it() -> None:
    clock = FakeClock()
    limiter = pacer(clock, limit=1, window=10.0)
    limiter.acquire()  # t=1000
    clock.now += 10.0  # t=1010: the first one is out
    assert limiter.acquire() == 0.0
    assert limiter.acquire() == pytest.approx(10.0)


def test_the_request_after_a_hold_off_counts_against_the_budget() -> None:
    clock = FakeClock()
    limiter = pacer(clock, limit=1, window=60.0)
    limiter.hold_off(5.0)
    assert limiter.acquire() == pytest.approx(5.0)
    assert limiter.acquire() == pytest.approx(60.0)


def test_a_shorter_hold_off_never_shortens_a_longer_one() -> None:
    clock = FakeClock()
    limiter = pacer(clock)
    limiter.hold_off(30.0)
    limiter.hold_off(5.0)
    assert limiter.acquire() == pytest.approx(30.0)


def test_every_wait_is_added_to_the_total() -> None:
    clock = FakeClock()
    limiter = pacer(clock, limit=1, window=10.0)
    limiter.acquire()
    limiter.hold_off(4.0)
    # 4 s held off, then 6 s more until the first request leaves the window.
    assert limiter.acquire() == pytest.approx(10.0)
    assert clock.slept == [pytest.approx(4.0), pytest.approx(6.0)]
    assert limiter.acquire() == pytest.approx(10.0)
    assert limiter.total_wait_seconds == pytest.approx(20.0)


def test_the_default_clock_and_sleep_are_real_time() -> None:
    limiter = RequestPacer(300, 300.0)
    assert limiter.acquire() == 0.0
    limiter.hold_off(0.01)
    assert 0.0 < limiter.acquire() < 1.0
