"""``python -m core.run.child [--origin O] SETTINGS REQUEST``: one run in a process of its own.

The tray starts every module run this way (``tray_agent.child_runs``), so a module that
crashes, hangs or leaks takes down only this process, and its memory goes back to the system
when the run ends. The run itself is ``Agent.run``: the path AUTO and ``sync`` take. What it
does is reported on stdout in event lines (``core.run.event_lines``), the engine's log
records included; anything else written to stdout goes to stderr instead.

Stopping: a line ``stop`` on stdin, or stdin closing (the parent is gone), asks the run to
stop at its next safe point (right after a committed batch). The process then exits with
``EXIT_STOPPED`` and leaves the run's row "running", for the next run to close as
interrupted, as a tray that parked a run at a safe point and exited always did.

Exit codes: 0 every module succeeded, 1 one failed, 2 the run could not start, 3 stopped.
"""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import IO

from core.errors import IntegratorError
from core.run.event_lines import alive_line, cannot_run_line, event_line, log_line
from core.run.events import RunEvent
from core.run.logs import ENGINE_LOGGER, redact
from core.run.request import RunRequest

EXIT_OK, EXIT_FAILED, EXIT_CANNOT_RUN, EXIT_STOPPED = 0, 1, 2, 3
HEARTBEAT_SECONDS = 2.0
STOP = "stop"


class EventWriter:
    """Writes event lines to the parent, whole lines only, from any thread."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def write(self, line: str) -> None:
        with self._lock:
            try:
                self._stream.write(line + "\n")
                self._stream.flush()
            except (OSError, ValueError):  # the parent is gone: nobody to tell
                pass


class LineHandler(logging.Handler):
    """Sends each engine log record to the parent, which logs it as its own."""

    def __init__(self, writer: EventWriter) -> None:
        super().__init__(logging.INFO)
        self._writer = writer
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = redact(self.format(record))
        except Exception:  # a record that cannot be formatted must not end the run
            self.handleError(record)
            return
        self._writer.write(log_line(record.name, record.levelno, message))


class ChildRun:
    """One run's listener: relays its events and stops at a safe point when asked."""

    def __init__(self, writer: EventWriter, stop_requested: threading.Event) -> None:
        self._writer = writer
        self._stop_requested = stop_requested

    def __call__(self, event: RunEvent) -> None:
        self._writer.write(event_line(event))
        if event.kind == "safe-point" and self._stop_requested.is_set():
            logging.getLogger(ENGINE_LOGGER).info(
                "%s stopped at a safe point (after a committed batch)", event.module
            )
            os._exit(EXIT_STOPPED)  # no cleanup that could write: the batch is committed


def watch_stdin(stop_requested: threading.Event, stdin: IO[str]) -> None:
    """Set ``stop_requested`` on a ``stop`` line or at end of input."""
    for line in stdin:
        if line.strip() == STOP:
            break
    stop_requested.set()


def beat(writer: EventWriter) -> None:
    while True:
        writer.write(alive_line())
        threading.Event().wait(HEARTBEAT_SECONDS)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.run.child", description=__doc__)
    parser.add_argument("--origin", default="tray", help="who asked for the run (state DB)")
    parser.add_argument("settings", help="settings folder or appsettings.json")
    parser.add_argument("request", help="the RunRequest as JSON (RunRequest.to_json)")
    args = parser.parse_args(argv)
    request = RunRequest.from_json(args.request)
    faulthandler.enable()  # a crash in C code still leaves a traceback on stderr
    if hasattr(signal, "SIGUSR1"):  # kill -USR1: where is a run that seems stuck?
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    writer = EventWriter(sys.stdout)
    sys.stdout = sys.stderr  # a stray print must not break the event lines
    engine_log = logging.getLogger(ENGINE_LOGGER)
    engine_log.addHandler(LineHandler(writer))
    engine_log.setLevel(logging.INFO)
    stop_requested = threading.Event()
    threading.Thread(
        target=watch_stdin, args=(stop_requested, sys.stdin), name="stdin", daemon=True
    ).start()
    threading.Thread(target=beat, args=(writer,), name="heartbeat", daemon=True).start()
    return run(args.settings, args.origin, request, writer, stop_requested)


def run(
    settings: str,
    origin: str,
    request: RunRequest,
    writer: EventWriter,
    stop_requested: threading.Event,
) -> int:
    from core.agent import Agent

    agent = Agent(settings, origin=origin)
    agent.subscribe(ChildRun(writer, stop_requested))
    try:
        results = agent.run(request)
    except IntegratorError as exc:
        writer.write(cannot_run_line(exc.title, str(exc), getattr(exc, "path", None)))
        return EXIT_CANNOT_RUN
    return EXIT_OK if all(result.ok for result in results) else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
