"""The rolling-window rate limit (halo-api.md section 4)."""

from __future__ import annotations

import time

import pytest

from halo_emulator.rate_limit import (
    RollingWindowLimiter,
    describe_window,
    format_rate_limit,
    parse_rate_limit,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_window_rolls_request_by_request_not_in_fixed_buckets() -> None:
    clock = FakeClock()
    limiter = RollingWindowLimiter((3, 10.0), clock=clock)
    for offset in (0.0, 4.0, 8.0):
        clock.now = 1000.0 + offset
        assert limiter.acquire() is None
    clock.now = 1009.0
    assert limiter.acquire() == pytest.approx(1.0)  # the first request leaves at 1010
    clock.now = 1010.0
    assert limiter.acquire() is None  # one slot freed, not a whole new bucket
    assert limiter.acquire() == pytest.approx(4.0)


def test_refused_requests_do_not_count() -> None:
    clock = FakeClock()
    limiter = RollingWindowLimiter((1, 5.0), clock=clock)
    assert limiter.acquire() is None
    for _ in range(10):
        assert limiter.acquire() is not None
    clock.now += 5.0
    assert limiter.acquire() is None


def test_halo_s_message_and_the_config_syntax() -> None:
    assert RollingWindowLimiter().message() == (
        "Rate Limit Reached - 300 Requests per rolling 5 minute window"
    )
    assert describe_window(1.0) == "1 second"
    assert parse_rate_limit("300/300") == (300, 300.0)
    assert parse_rate_limit("off") is None
    assert format_rate_limit((5, 1.0)) == "5/1"
    with pytest.raises(ValueError):
        parse_rate_limit("300")


def test_the_n_plus_first_request_is_429_until_the_window_rolls(make_emulator, make_api) -> None:
    # A 3 s window: the six requests below fit in it even on a slow, busy CI machine.
    emulator = make_emulator(rate_limit=(5, 3.0))
    api = make_api(emulator)  # the token request is request 1
    started = time.monotonic()
    statuses = [api.get("Status").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    refused = api.get("Status")
    assert refused.status_code == 429
    body = refused.json()
    assert (
        body["error"]
        == body["message"]
        == ("Rate Limit Reached - 5 Requests per rolling 3 second window")
    )
    assert "Retry-After" not in refused.headers
    time.sleep(max(0.0, started + 3.05 - time.monotonic()))
    assert api.get("Status").status_code == 200


def test_retry_after_says_when_the_oldest_request_leaves(make_emulator, make_api) -> None:
    emulator = make_emulator(rate_limit=(2, 1.0), retry_after=True)
    api = make_api(emulator)
    api.get("Status")
    refused = api.get("Status")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"


def test_the_limit_can_be_switched_off_and_changed_at_runtime(make_emulator, make_api) -> None:
    emulator = make_emulator(rate_limit=(2, 60.0))
    api = make_api(emulator)
    api.get("Status")
    assert api.get("Status").status_code == 429
    emulator.configure(rate_limit=None)
    assert all(api.get("Status").status_code == 200 for _ in range(10))
    response = api.admin("POST", "config", json={"rate_limit": "1/60", "retry_after": True})
    assert response.json()["rate_limit"] == "1/60"
    assert api.get("Status").status_code == 200
    assert api.get("Status").headers["Retry-After"]
    assert api.admin("POST", "config", json={"rate_limit": "nonsense"}).status_code == 400
    assert api.admin("POST", "config", json={"rate_limit": 5}).status_code == 400
    config = api.admin("POST", "config", json={"rate_limit": [7, 30], "retry_after": "false"})
    assert config.json() == {
        "rate_limit": "7/30",
        "retry_after": False,
        "token_lifetime": 3600,
        "tenant": None,
    }


def test_admin_endpoints_are_never_rate_limited(make_emulator, make_api) -> None:
    emulator = make_emulator(rate_limit=(1, 60.0))
    api = make_api(emulator)
    assert api.get("Status").status_code == 429
    assert all(api.admin("GET", "stats").status_code == 200 for _ in range(5))
