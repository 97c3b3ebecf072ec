"""Event lines (``core.run.event_lines``): what a child run writes is what its parent reads."""

from __future__ import annotations

from pathlib import Path

from core.outcomes import EntityResult, Outcome, RecordFailure, RunCounts
from core.run.event_lines import (
    Alive,
    CannotRun,
    LogLine,
    alive_line,
    cannot_run_line,
    event_line,
    log_line,
    parse_line,
)
from core.run.events import ModuleRunResult, RunEvent
from core.run.request import RunRequest


def test_a_finished_event_comes_back_with_its_whole_result_but_the_plan() -> None:
    part = EntityResult(
        "Users",
        counts=RunCounts(created=2, failed=1),
        failures=[RecordFailure("a@example.com", "Ann", "Halo said no")],
        refusal="Refused to deactivate 7 of 10 records",
        withheld=["b@example.com", "c@example.com"],
        plan=object(),
    )
    result = ModuleRunResult(
        "csv",
        Outcome.REFUSED,
        counts=RunCounts(created=2, failed=1, requests=4),
        error="Refused to deactivate 7 of 10 records",
        parts=[part],
        log_file=Path("/logs/csv/csv-1.log"),
        duration_seconds=1.5,
        recovered=True,
    )
    read = parse_line(event_line(RunEvent("finished", "csv", result)))
    assert isinstance(read, RunEvent) and read.result is not None
    part.plan = None
    assert read.result == result
    assert read.result.summary() == result.summary()


def test_progress_log_heartbeat_and_a_run_that_could_not_start_come_back_as_written() -> None:
    progress = RunEvent("progress", "csv", phase="create", done=5, total=10)
    assert parse_line(event_line(progress)) == progress
    assert parse_line(log_line("halo_integrator.x", 40, "bad")) == LogLine(
        "halo_integrator.x", 40, "bad"
    )
    assert parse_line(alive_line()) == Alive()
    assert parse_line(cannot_run_line("Settings problem", "x", "/a.json")) == CannotRun(
        "Settings problem", "x", "/a.json"
    )


def test_a_line_that_is_not_an_event_is_none_not_an_error() -> None:
    for line in ("Traceback (most recent call last):", "[1, 2]", '{"kind": "finished"}', ""):
        assert parse_line(line) is None


def test_a_run_request_survives_its_trip_to_a_child_whole() -> None:
    request = RunRequest.of(["csv", "ldap"], allow_mass_deactivation=True, full=True)
    assert RunRequest.from_json(request.to_json()) == request
