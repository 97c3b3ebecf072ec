"""The run's retry deadline, driven by an injected clock: every wait and timeout is simulated.

A fake transport stands in for Halo; each try that "times out" moves the clock on by the
request timeout, each back-off sleep by its wait, so minutes of failing pass in microseconds
and every number in a message can be checked against what really happened.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest

from core.errors import HaloConnectionError, HaloRateLimitError, HaloServerError
from core.halo.client import HaloClient
from core.halo.pacing import RequestPacer
from core.halo.retry import Deadline, RetryPolicy, Tries
from core.settings.model import HaloConnection
from core.settings.secrets import Secret

URL = "https://halo.example.com"
TOKEN = {"access_token": "token-value", "expires_in": 3600}


class FakeTime:
    """A clock and a sleep that only move when told; sleeps are recorded with their start."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[tuple[float, float]] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append((self.now, seconds))
        self.now += seconds


Handler = Callable[[httpx.Request], httpx.Response]


def make_client(
    time: FakeTime,
    handler: Handler,
    *,
    timeout: float = 30.0,
    deadline: float = 100.0,
    retry: RetryPolicy | None = None,
) -> HaloClient:
    connection = HaloConnection(
        url=URL,
        client_id="id",
        client_secret=Secret("secret-for-unit-tests"),
        timeout_seconds=timeout,
        deadline_seconds=deadline,
    )
    pacer = RequestPacer(10_000, 1.0, clock=time.clock, sleep=time.sleep)
    return HaloClient(
        connection,
        transport=httpx.MockTransport(handler),
        retry=retry or RetryPolicy(max_attempts=100),
        pacer=pacer,
        sleep=time.sleep,
        clock=time.clock,
    )


def never_answers(time: FakeTime, calls: list[httpx.Request]) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        time.now += request.extensions["timeout"]["read"]  # it passes, then httpx gives up
        raise httpx.ReadTimeout("timed out", request=request)

    return handle


def numbers_in(message: str) -> tuple[int, float]:
    found = re.search(r"after (\d+) tr(?:y|ies) in ([\d.]+) s", message)
    assert found, message
    return int(found.group(1)), float(found.group(2))


def test_a_server_that_never_answers_is_retried_only_until_the_deadline() -> None:
    time, calls = FakeTime(), []
    started = time.now
    client = make_client(time, never_answers(time, calls), timeout=30.0, deadline=100.0)

    with pytest.raises(HaloConnectionError) as raised:
        client.get("Users")

    elapsed = time.now - started
    assert elapsed <= 100.0  # a retry's own timeout is cut to the time left
    deadline_at = started + 100.0
    assert all(at + wait < deadline_at for at, wait in time.sleeps)  # no wait past it began
    tries, said_seconds = numbers_in(str(raised.value))
    assert tries == len(calls) >= 2
    assert said_seconds == pytest.approx(elapsed, abs=0.5)
    assert f"No answer from {URL} after" in str(raised.value)
    assert "stopped by DeadlineSeconds (100 s)" in str(raised.value)
    assert "each try waited up to 30 s" in str(raised.value)
    timeouts = [call.extensions["timeout"]["read"] for call in calls]
    assert timeouts[0] == 30.0 and all(0 < timeout <= 30.0 for timeout in timeouts)


def test_the_token_request_and_the_request_after_it_share_one_deadline() -> None:
    """The old way: six token tries, then a whole new retry cycle for the next request."""
    time, calls = FakeTime(), []
    client = make_client(time, never_answers(time, calls), timeout=30.0, deadline=100.0)
    started = time.now
    with pytest.raises(HaloConnectionError):
        client.get("Users")
    first_request_tries = len(calls)
    with pytest.raises(HaloConnectionError) as raised:
        client.post("Integration", [{"lasterror": "..."}], idempotent=True)
    assert len(calls) == first_request_tries + 1  # no retry: the deadline has passed
    assert numbers_in(str(raised.value))[0] == 1
    # The second request's first try, in full (plus the pacer's spacing, which is measured
    # on the real clock and grows a little on a loaded machine).
    assert time.now - started <= 100.0 + 30.0 + 1.0


def test_a_good_answer_renews_the_deadline_so_a_long_healthy_run_keeps_its_retries() -> None:
    time = FakeTime()
    failures = iter([True, False])

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json=TOKEN)
        time.now += 0.5
        if request.url.path.endswith("/Slow"):
            time.now += 500.0  # a run that has been busy far past its deadline
            return httpx.Response(200, json=[])
        return httpx.Response(500 if next(failures) else 200, json=[])

    client = make_client(time, handle, deadline=100.0)
    client.get("Slow")
    assert client.get("Users") == []  # its 500 was retried: Halo answered a moment ago
    assert client.stats.retries == 1


def test_a_retry_that_would_wait_past_the_deadline_does_not_start() -> None:
    time, calls = FakeTime(), []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(429, headers={"Retry-After": "50"}, json={"message": "slow"})

    client = make_client(time, handle, deadline=30.0)
    with pytest.raises(HaloRateLimitError) as raised:
        client.authenticate()
    assert len(calls) == 1
    assert time.sleeps == []  # not even the 50 s wait it would have needed
    assert "kept answering 429 (rate limit reached) after 1 try in 0.0 s" in str(raised.value)
    assert "stopped by DeadlineSeconds (30 s)" in str(raised.value)


def test_a_429_storm_ends_within_the_deadline_with_the_true_count() -> None:
    time, calls = FakeTime(), []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        time.now += 0.2
        return httpx.Response(429, json={"message": "Rate Limit Reached"})

    policy = RetryPolicy(rate_limit_min_wait_seconds=5.0, rate_limit_patience_seconds=1_000)
    client = make_client(time, handle, deadline=60.0, retry=policy)
    started = time.now
    with pytest.raises(HaloRateLimitError) as raised:
        client.get("Users")
    tries, said_seconds = numbers_in(str(raised.value))
    assert tries == len(calls) == client.stats.rate_limited > 1
    assert said_seconds == pytest.approx(time.now - started, abs=0.5)  # whole seconds
    assert time.now - started <= 60.0


def test_server_errors_say_how_often_and_how_long_they_were_retried() -> None:
    time, calls = FakeTime(), []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        time.now += 1.0
        return httpx.Response(503, json={"message": "maintenance"})

    client = make_client(time, handle, retry=RetryPolicy(max_attempts=3))
    started = time.now
    with pytest.raises(HaloServerError) as raised:
        client.authenticate()
    tries, said_seconds = numbers_in(str(raised.value))
    assert tries == len(calls) == 3  # the attempts ran out before the deadline
    assert said_seconds == pytest.approx(time.now - started, abs=0.1)
    assert "DeadlineSeconds" not in str(raised.value)
    assert str(raised.value).startswith("Halo failed POST /auth/token with HTTP 503 after 3 tries")


def test_a_deadline_allows_what_starts_before_it_and_renews_from_now() -> None:
    time = FakeTime()
    deadline = Deadline(10.0, time.clock)
    assert deadline.allows(9.9) and not deadline.allows(10.0)
    time.now += 8
    assert not deadline.allows(2.0)
    deadline.renew()
    assert deadline.allows(9.9)


def test_tries_read_as_an_admin_would_say_them() -> None:
    assert Tries(started_at=0.0, sent=1).summary(0.04) == "after 1 try in 0.0 s"
    assert Tries(started_at=0.0, sent=4).summary(95.4) == "after 4 tries in 95 s"
    stopped = Tries(started_at=0.0, sent=2, stopped_by=Deadline(180.0))
    assert stopped.summary(3.25) == "after 2 tries in 3.2 s, stopped by DeadlineSeconds (180 s)"
    validate = Tries(started_at=0.0, sent=1, stopped_by=Deadline(20.0, name="Validate's deadline"))
    assert validate.summary(20.0) == "after 1 try in 20 s, stopped by Validate's deadline (20 s)"
