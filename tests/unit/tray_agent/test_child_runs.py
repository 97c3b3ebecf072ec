"""The tray's runs in child processes (``ChildRuns``): real children of this process against
the Halo emulator, or against a server that never answers (a run that keeps retrying).

What the tray relies on: the child's events and log lines arrive as if the run had been
here; a child killed, crashed or frozen is a failed run recorded in the state DB; Quit
(``stop_all``) ends a child within its grace period, stopping at a safe point when it can.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from servers.silent_http import SilentServer

from core.agent import Agent
from core.outcomes import Outcome
from core.run.child import EXIT_STOPPED
from core.run.events import ModuleRunResult, RunEvent
from core.run.request import RunRequest
from core.settings.model import HaloConnection, ModuleSettings, Settings
from core.settings.secrets import Secret
from core.settings.writer import save_settings
from core.state.store import StateStore
from halo_emulator import Emulator
from tray_agent.child_runs import ChildRunError, ChildRuns

SECRET = "child-runs-secret-0042"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(client_secret=SECRET, rate_limit=None) as emu:
        yield emu


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def settings_folder(folder: Path, url: str, client_id: str, users: int = 3, **halo: float) -> Agent:
    connection = HaloConnection(url=url, client_id=client_id, client_secret=Secret(SECRET))
    settings = Settings.new(folder / "appsettings.json", replace(connection, **halo))
    settings.modules.append(ModuleSettings(name="csv", options={"path": "users.csv"}))
    save_settings(settings)
    rows = "".join(f"user{n}@example.com,User,N{n}\n" for n in range(users))
    (folder / "users.csv").write_text("emailaddress,firstname,surname\n" + rows)
    backdated = time.time() - 60  # a finished export: the csv module need not wait for it
    os.utime(folder / "users.csv", (backdated, backdated))
    return Agent(folder, origin="tray")


class Seen:
    """The events a listener of the agent received, with a way to wait for one."""

    def __init__(self, agent: Agent) -> None:
        self.events: list[RunEvent] = []
        self._arrived = threading.Condition()
        agent.subscribe(self._listen)

    def _listen(self, event: RunEvent) -> None:
        with self._arrived:
            self.events.append(event)
            self._arrived.notify_all()

    def wait_for(self, kind: str, timeout: float = 30) -> RunEvent:
        with self._arrived:
            found = self._arrived.wait_for(
                lambda: next((e for e in self.events if e.kind == kind), None), timeout
            )
        assert found, f"no {kind} event; got {[e.kind for e in self.events]}"
        return found


def in_background(runs: ChildRuns, request: RunRequest) -> tuple[threading.Thread, list]:
    outcome: list[list[ModuleRunResult]] = []
    thread = threading.Thread(target=lambda: outcome.append(runs.run(request)), daemon=True)
    thread.start()
    return thread, outcome


def test_a_run_in_a_child_reaches_the_agent_s_listeners_and_logger_as_if_it_ran_here(
    tmp_path: Path, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    agent = settings_folder(tmp_path / "ok", emulator.base_url, emulator.client_id)
    seen = Seen(agent)
    caplog.set_level(logging.INFO, logger="halo_integrator")

    [result] = ChildRuns(agent).run(RunRequest.of(["csv"]))

    assert result.outcome is Outcome.SUCCEEDED and result.counts.created == 3
    assert result.log_file is not None and "csv succeeded" in result.log_file.read_text()
    kinds = [event.kind for event in seen.events]
    assert kinds[0] == "started" and kinds[-1] == "finished" and "progress" in kinds
    assert seen.events[-1].result == result
    # The child's log records, under their own loggers, in this process's log.
    assert ("halo_integrator.modules.csv", logging.INFO) in [
        (record.name, record.levelno) for record in caplog.records
    ]
    assert SECRET not in caplog.text
    [run] = StateStore(agent.settings_path.parent).recent_runs("csv")
    assert (run["outcome"], run["origin"], run["created"]) == ("succeeded", "tray", 3)


def test_a_child_that_cannot_start_the_run_raises_its_settings_problem(
    tmp_path: Path, emulator: Emulator
) -> None:
    agent = settings_folder(tmp_path / "missing", emulator.base_url, emulator.client_id)
    with pytest.raises(ChildRunError) as raised:
        ChildRuns(agent).run(RunRequest.of(["no-such-module"]))
    assert raised.value.title == "Settings problem"
    assert "Not configured: no-such-module" in str(raised.value)
    assert raised.value.path == str(agent.settings_path)


def test_a_child_killed_mid_run_is_a_failed_run_in_the_state_db(
    tmp_path: Path, silent_server: SilentServer
) -> None:
    agent = settings_folder(tmp_path / "killed", silent_server.url, "id", deadline_seconds=60)
    runs = ChildRuns(agent)
    seen = Seen(agent)
    thread, outcome = in_background(runs, RunRequest.of(["csv"]))
    seen.wait_for("started")
    [pid] = runs.running_pids()
    os.kill(pid, signal.SIGKILL)
    thread.join(10)

    [[result]] = outcome
    assert result.outcome is Outcome.FAILED
    assert result.error == (
        "The run of csv ended unexpectedly: its process was killed (SIGKILL). "
        "The tray kept running."
    )
    assert seen.events[-1].kind == "finished" and seen.events[-1].result == result
    state = StateStore(agent.settings_path.parent)
    [run] = state.recent_runs("csv")  # the child's own row, closed as failed
    assert (run["outcome"], run["error"]) == ("failed", result.error)
    status = state.status("csv")
    assert status is not None and status.consecutive_failures == 1


def test_a_child_that_stops_answering_is_stopped_and_counted_as_failed(
    tmp_path: Path, silent_server: SilentServer
) -> None:
    agent = settings_folder(tmp_path / "frozen", silent_server.url, "id", deadline_seconds=60)
    runs = ChildRuns(agent, silence_seconds=1.5)
    seen = Seen(agent)
    thread, outcome = in_background(runs, RunRequest.of(["csv"]))
    seen.wait_for("started")
    [pid] = runs.running_pids()
    os.kill(pid, signal.SIGSTOP)  # frozen: no heartbeat, no event, nothing
    started = time.monotonic()
    thread.join(20)

    [[result]] = outcome
    assert 1.5 <= time.monotonic() - started < 10
    assert result.outcome is Outcome.FAILED and "stopped answering" in (result.error or "")
    assert StateStore(agent.settings_path.parent).recent_runs("csv")[0]["outcome"] == "failed"


def test_stop_all_ends_a_run_that_keeps_retrying_within_its_grace_and_records_no_failure(
    tmp_path: Path, silent_server: SilentServer
) -> None:
    agent = settings_folder(tmp_path / "retrying", silent_server.url, "id", deadline_seconds=60)
    runs = ChildRuns(agent)
    seen = Seen(agent)
    thread, outcome = in_background(runs, RunRequest.of(["csv"]))
    seen.wait_for("started")
    started = time.monotonic()

    runs.stop_all(grace_seconds=1.0)
    thread.join(5)

    # The 1 s grace, then the kill: far from the 60 s the run would retry. (The 2 s Quit
    # target is measured by bench/tray_idle.py; a loaded test machine must not fail on it.)
    assert time.monotonic() - started < 1.0 + 3.0
    assert outcome == [[]] and runs.running_pids() == []
    state = StateStore(agent.settings_path.parent)
    assert state.recent_runs("csv")[0]["outcome"] == "running"  # interrupted, next run says
    status = state.status("csv")
    assert status is None or status.consecutive_failures == 0
    assert runs.run(RunRequest.of(["csv"])) == []  # nothing new starts once stopping


def test_stop_all_lets_a_run_stop_at_its_next_safe_point(
    tmp_path: Path, emulator: Emulator
) -> None:
    agent = settings_folder(
        tmp_path / "batches", emulator.base_url, emulator.client_id, users=400, batch_size=20
    )
    emulator.set_faults(latency_ms=100)
    runs = ChildRuns(agent)
    seen = Seen(agent)
    thread, _ = in_background(runs, RunRequest.of(["csv"]))
    seen.wait_for("safe-point")
    [pid] = runs.running_pids()
    process = next(c.process for c in runs._children)

    runs.stop_all(grace_seconds=10)
    thread.join(10)

    assert process.returncode == EXIT_STOPPED  # it stopped there itself, not killed
    mapped = StateStore(agent.settings_path.parent).mapped_records("csv", "Users")
    assert 0 < len(mapped) < 400 and len(mapped) % 20 == 0  # whole batches only
    assert pid not in runs.running_pids()
