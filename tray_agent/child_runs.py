"""The tray's runs, each in a child process (``python -m core.run.child``).

Why a child: a module that crashes, hangs or leaks must not take the tray down, and the
memory a run needed must go back to the system when it ends (the tray lives all day). The
child runs ``Agent.run``, the path AUTO takes, and reports in event lines, which are handed
to the tray's ``Agent`` listeners and logger as if the run had happened here: the icon, the
notifications and the settings window see no difference.

A child that ends without finishing its module (killed, crashed, or silent for longer than
``silence_seconds`` and then stopped here) is a failed run: it is recorded as one in the
state DB, under the module's lock, so the status, the history and the icon all say so.
A child stopped by ``stop_all`` (Quit) is not: it was asked to stop, at a safe point if it
reached one in time, and its run is closed as interrupted by the next run.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from core.agent import Agent
from core.errors import AlreadyRunningError, IntegratorError, StateError
from core.outcomes import Outcome
from core.run.event_lines import Alive, CannotRun, LogLine, parse_line
from core.run.events import ModuleRunResult, RunEvent
from core.run.locks import module_lock
from core.run.request import RunRequest
from core.state.store import StateStore

log = logging.getLogger("halo_integrator.tray.runs")

# A child sends a heartbeat every 2 s; this much silence means it is frozen or stopped.
CHILD_SILENCE_SECONDS = 60.0
SILENCE_ENVIRONMENT_VARIABLE = "HALO_INTEGRATOR_CHILD_SILENCE_SECONDS"
WATCH_EVERY_SECONDS = 0.5
# Windows: the child of a GUI process would otherwise open a console window of its own.
NO_WINDOW = getattr(subprocess, "CREATE_NO_WINDOW", 0)


class ChildRunError(IntegratorError):
    """The child could not start the run (settings or state DB unusable), in its words;
    ``path`` is the settings file a settings problem's message starts with."""

    def __init__(self, title: str, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.title = title
        self.path = path


@dataclass
class _Child:
    request: RunRequest
    process: subprocess.Popen[str]
    last_heard: float = field(default_factory=time.monotonic)
    silenced: bool = False  # stopped here after too long a silence
    stopped: bool = False  # stopped by stop_all (Quit)


def silence_seconds_from_environment() -> float:
    """The silence allowed before a child counts as hung (an environment variable can make
    it shorter, as the GUI tests do, or longer for a source that is slow to answer)."""
    try:
        return float(os.environ.get(SILENCE_ENVIRONMENT_VARIABLE, CHILD_SILENCE_SECONDS))
    except ValueError:
        return CHILD_SILENCE_SECONDS


class ChildRuns:
    """Starts runs in child processes and relays what they say; safe from several threads."""

    def __init__(self, agent: Agent, *, silence_seconds: float | None = None) -> None:
        self.agent = agent
        self.silence_seconds = (
            silence_seconds_from_environment() if silence_seconds is None else silence_seconds
        )
        self._lock = threading.Lock()
        self._children: list[_Child] = []
        self._stopping = False
        self._watcher: threading.Thread | None = None

    def run(self, request: RunRequest) -> list[ModuleRunResult]:
        """Run ``request`` (its modules named) in a child; blocks until the child ends.

        Returns one result per module, the lost ones as failures; raises ``ChildRunError``
        when the child could not start the run at all.
        """
        child = self._start(request)
        if child is None:
            return []
        results: list[ModuleRunResult] = []
        cannot_run: CannotRun | None = None
        assert child.process.stdout is not None
        for line in child.process.stdout:
            child.last_heard = time.monotonic()
            message = parse_line(line)
            if isinstance(message, RunEvent):
                if message.kind == "finished" and message.result is not None:
                    results.append(message.result)
                self.agent.publish(message)
            elif isinstance(message, LogLine):
                logging.getLogger(message.logger).log(message.level, "%s", message.message)
            elif isinstance(message, CannotRun):
                cannot_run = message
            elif not isinstance(message, Alive) and line.strip():
                log.warning("Run of %s said: %s", ", ".join(request.modules), line.rstrip())
        exit_code = child.process.wait()
        with self._lock:
            self._children.remove(child)
        _close_pipes(child.process)
        if child.stopped:
            return results
        if cannot_run is not None:
            raise ChildRunError(cannot_run.title, cannot_run.message, cannot_run.path)
        finished = {result.module for result in results}
        for module in request.modules:
            if module not in finished:
                results.append(self._lost(module, _how_it_ended(child, exit_code)))
        return results

    def stop_all(self, grace_seconds: float) -> None:
        """Start nothing new; ask every child to stop at a safe point, kill what has not
        stopped after ``grace_seconds``. Returns once all children have ended."""
        with self._lock:
            self._stopping = True
            children = list(self._children)
        for child in children:
            child.stopped = True
            _ask_to_stop(child.process)
        deadline = time.monotonic() + grace_seconds
        for child in children:
            try:
                child.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning(
                    "Run of %s did not stop in time; killed", ", ".join(child.request.modules)
                )
                child.process.kill()
                child.process.wait()

    def running_pids(self) -> list[int]:
        with self._lock:
            return [child.process.pid for child in self._children]

    # -- helpers ----------------------------------------------------------------------------

    def _start(self, request: RunRequest) -> _Child | None:
        command = [
            sys.executable,
            "-m",
            "core.run.child",
            "--origin",
            self.agent.origin,
            str(self.agent.settings_path),
            request.to_json(),
        ]
        with self._lock:
            if self._stopping:
                return None
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                encoding="utf-8",
                errors="replace",
                creationflags=NO_WINDOW,
            )
            child = _Child(request, process)
            self._children.append(child)
            if self._watcher is None:
                self._watcher = threading.Thread(target=self._watch, name="run-watch", daemon=True)
                self._watcher.start()
        log.info("Run of %s started in process %d", ", ".join(request.modules), process.pid)
        return child

    def _watch(self) -> None:
        """Stop children that stopped answering (frozen, stopped, hung with the GIL held);
        runs while there are children, so an idle tray has no thread waking up for it."""
        while True:
            time.sleep(WATCH_EVERY_SECONDS)
            now = time.monotonic()
            with self._lock:
                if not self._children:  # the next run starts a new watcher
                    self._watcher = None
                    return
                silent = [
                    child
                    for child in self._children
                    if not child.silenced and now - child.last_heard > self.silence_seconds
                ]
            for child in silent:
                child.silenced = True
                log.error(
                    "Run of %s sent nothing for %.0f s; stopping process %d",
                    ", ".join(child.request.modules),
                    self.silence_seconds,
                    child.process.pid,
                )
                child.process.kill()

    def _lost(self, module: str, how: str) -> ModuleRunResult:
        """A module whose child ended without its result: a failed run, recorded as one."""
        message = f"The run of {module} ended unexpectedly: {how}. The tray kept running."
        log.error("%s", message)
        folder = self.agent.settings_path.parent
        try:
            with module_lock(folder, module):
                StateStore(folder).record_lost_run(module, self.agent.origin, message)
        except AlreadyRunningError:
            log.warning("%s is running elsewhere now; its lost run was not recorded", module)
        except StateError as exc:
            log.error("The lost run of %s was not recorded: %s", module, exc)
        result = ModuleRunResult(module, Outcome.FAILED, error=message)
        self.agent.publish(RunEvent("finished", module, result))
        return result


def _ask_to_stop(process: subprocess.Popen[str]) -> None:
    """A ``stop`` line, then end of input: the child stops at its next safe point."""
    try:
        assert process.stdin is not None
        process.stdin.write("stop\n")
        process.stdin.close()
    except (OSError, ValueError):  # it has ended already
        pass


def _close_pipes(process: subprocess.Popen[str]) -> None:
    for pipe in (process.stdin, process.stdout):
        try:
            if pipe is not None:
                pipe.close()
        except OSError:  # a broken pipe on a child that is gone: nothing left to flush
            pass


def _how_it_ended(child: _Child, exit_code: int) -> str:
    if child.silenced:
        return "it stopped answering and was stopped"
    if exit_code < 0:
        try:
            name = signal.Signals(-exit_code).name
        except ValueError:
            name = f"signal {-exit_code}"
        return f"its process was killed ({name})"
    return f"its process exited with code {exit_code} before reporting a result"
