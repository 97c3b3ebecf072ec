"""Failing runs end at their deadline and say what really happened; counts cover every request.

Real sockets on loopback: a server that accepts connections and never answers, a closed port,
and the emulator answering 429 or 500 to everything. Timeouts and deadlines are configured in
tenths of seconds, so each case takes about a second; the wall time is measured and every
number in the error message is checked against it and against what the server received.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from servers.silent_http import SilentServer

from core.halo.client import HaloClient
from core.halo.pacing import RequestPacer
from core.halo.retry import RetryPolicy
from core.halo.validate import validate_connection
from core.run.runner import Runner
from core.settings.model import Settings
from halo_emulator import Emulator

from .conftest import connection_for, user_rows, write_csv

TIMEOUT_SECONDS = 0.3
DEADLINE_SECONDS = 1.0
# Thread start-up, process noise on a busy two-core machine: not another try's worth.
SLACK_SECONDS = 0.7


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


@pytest.fixture
def closed_port_url() -> str:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def tries_and_seconds(message: str) -> tuple[int, float]:
    found = re.search(r"after (\d+) tr(?:y|ies) in ([\d.]+) s", message)
    assert found, message
    return int(found.group(1)), float(found.group(2))


def settings_for_url(make_settings: Callable[..., Settings], url: str) -> Settings:
    """A saved csv settings folder pointed at ``url``, with short timeout and deadline."""
    settings = make_settings()
    write_csv(settings.folder / "users.csv", user_rows(3))
    settings.halo = replace(
        settings.halo,
        url=url,
        timeout_seconds=TIMEOUT_SECONDS,
        deadline_seconds=DEADLINE_SECONDS,
    )
    return settings


def run_timed(settings: Settings, **runner_options: object) -> tuple[float, str]:
    started = time.monotonic()
    [result] = Runner(settings, **runner_options).run()  # type: ignore[arg-type]
    elapsed = time.monotonic() - started
    assert not result.ok and result.error
    return elapsed, result.error


def test_a_run_against_a_server_that_never_answers_ends_at_its_deadline_and_says_so(
    make_settings: Callable[..., Settings], silent_server: SilentServer
) -> None:
    settings = settings_for_url(make_settings, silent_server.url)

    elapsed, error = run_timed(settings, client_factory=quick_client(settings))

    assert elapsed < DEADLINE_SECONDS + SLACK_SECONDS  # retries' timeouts end with it
    tries, said = tries_and_seconds(error)
    # Every try was a new connection, and no status report followed the last one.
    assert tries == len(silent_server.connections) >= 2
    assert said == pytest.approx(elapsed, abs=0.3)
    assert error.startswith(f"No answer from {silent_server.url} after {tries} tries")
    assert "stopped by DeadlineSeconds (1.0 s)" in error
    assert f"each try waited up to {TIMEOUT_SECONDS} s" in error


def test_a_run_against_a_closed_port_ends_at_its_deadline_and_says_so(
    make_settings: Callable[..., Settings], closed_port_url: str
) -> None:
    settings = settings_for_url(make_settings, closed_port_url)
    elapsed, error = run_timed(settings)
    assert elapsed < DEADLINE_SECONDS + SLACK_SECONDS
    tries, said = tries_and_seconds(error)
    assert tries >= 1 and said == pytest.approx(elapsed, abs=0.3)
    assert error.startswith(f"Nothing answers at {closed_port_url} (")
    assert "stopped by DeadlineSeconds" in error or tries == RetryPolicy().max_attempts


def emulator_settings(
    make_settings: Callable[..., Settings], emulator: Emulator, **faults: object
) -> Settings:
    settings = make_settings()
    write_csv(settings.folder / "users.csv", user_rows(3))
    settings.halo = replace(settings.halo, deadline_seconds=DEADLINE_SECONDS)
    emulator.set_faults(**faults)
    emulator.reset_stats()
    return settings


def quick_client(settings: Settings) -> Callable[[], HaloClient]:
    """The runner's client with short waits after a 429 (the default waits 5 s at least)."""
    policy = RetryPolicy(rate_limit_min_wait_seconds=0.1, backoff_base_seconds=0.05)
    return lambda: HaloClient(settings.halo, retry=policy, pacer=RequestPacer(10_000, 1.0))


def report_tries(caplog: pytest.LogCaptureFixture) -> tuple[int, float]:
    """The Last Error report's tries and seconds, from its warning (it gets the time left)."""
    [warning] = [r.getMessage() for r in caplog.records if "Could not report" in r.getMessage()]
    return tries_and_seconds(warning)


def test_a_429_storm_ends_the_run_at_its_deadline_with_the_true_number_of_tries(
    make_settings: Callable[..., Settings], emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    settings = emulator_settings(make_settings, emulator, burst_429=1_000_000)

    elapsed, error = run_timed(settings, client_factory=quick_client(settings))

    assert elapsed < DEADLINE_SECONDS + SLACK_SECONDS
    tries, said = tries_and_seconds(error)
    stats = emulator.stats()
    reported_tries, reported_seconds = report_tries(caplog)
    assert stats["by_status"]["429"] == stats["total"] == tries + reported_tries
    assert tries > 2 and said + reported_seconds == pytest.approx(elapsed, abs=0.3)
    assert error.startswith(f"Halo kept answering 429 (rate limit reached) after {tries} tries")


def test_server_errors_end_the_run_at_its_deadline_with_the_true_number_of_tries(
    make_settings: Callable[..., Settings], emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    settings = emulator_settings(make_settings, emulator, error_rate=1.0)
    policy = RetryPolicy(max_attempts=1_000, backoff_base_seconds=0.05, backoff_cap_seconds=0.2)
    factory = lambda: HaloClient(settings.halo, retry=policy, pacer=RequestPacer(10_000, 1.0))  # noqa: E731

    elapsed, error = run_timed(settings, client_factory=factory)

    assert elapsed < DEADLINE_SECONDS + SLACK_SECONDS
    tries, said = tries_and_seconds(error)
    reported_tries, reported_seconds = report_tries(caplog)
    assert emulator.stats()["by_status"]["500"] == tries + reported_tries
    assert said + reported_seconds == pytest.approx(elapsed, abs=0.3)
    assert error.startswith(f"Halo failed POST /auth/token with HTTP 500 after {tries} tries")


def test_validate_against_a_server_that_never_answers_takes_one_deadline(
    emulator: Emulator, silent_server: SilentServer
) -> None:
    connection = connection_for(
        emulator, url=silent_server.url, deadline_seconds=DEADLINE_SECONDS, timeout_seconds=30
    )
    started = time.monotonic()
    result = validate_connection(connection)
    elapsed = time.monotonic() - started
    assert not result.ok
    # Its tries are cut to the deadline too: an admin waits in front of the dialog.
    assert elapsed < DEADLINE_SECONDS + SLACK_SECONDS
    tries, said = tries_and_seconds(result.message)
    assert "stopped by Validate's deadline (1.0 s)" in result.message
    assert tries == len(silent_server.connections)
    assert said == pytest.approx(elapsed, abs=0.3)


def test_a_runs_request_count_is_what_halo_received_token_and_status_report_included(
    make_settings: Callable[..., Settings], emulator: Emulator
) -> None:
    settings = make_settings()
    write_csv(settings.folder / "users.csv", user_rows(5))
    for expected_summary in ("5 created", "5 unchanged"):
        emulator.reset_stats()
        [result] = Runner(settings).run()
        assert result.ok and expected_summary in result.summary()
        received = emulator.stats()["total"]
        assert received >= 2  # a token and the Last Sync report, even when nothing changed
        assert result.counts.requests == received
        [run] = Runner(settings).state.recent_runs("csv", limit=1)
        assert run["requests"] == received


def test_the_deadline_is_a_setting_saved_and_read_back(
    make_settings: Callable[..., Settings],
) -> None:
    from core.settings.reader import load_settings
    from core.settings.writer import save_settings

    settings = make_settings()
    assert settings.halo.deadline_seconds == 180  # the default: a few minutes
    settings.halo = replace(settings.halo, deadline_seconds=42.5)
    save_settings(settings)
    assert load_settings(settings.folder).halo.deadline_seconds == 42.5
