"""A run's events as lines of JSON: how a run in a child process reports to its parent.

The child (``core.run.child``) writes one JSON object per line on its stdout; the parent (the
tray) reads them back into the objects a run in its own process would have given its
listeners. Kinds:

* ``started`` / ``progress`` / ``safe-point`` / ``finished``: a ``RunEvent``; ``finished``
  carries the ``ModuleRunResult`` (its parts without the plan, which stays in the child);
* ``log``: one engine log record, already formatted, to go into the parent's own log;
* ``alive``: a heartbeat, so a child that stopped answering can be told from a slow run;
* ``cannot-run``: the run could not start (settings or state DB unusable): title, message
  and, for a settings problem, the settings file's path.

Plain JSON lines, not pickle: the parent never runs what a child sends, and a line it
cannot read (a crash's traceback on the same pipe) is just text to log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.outcomes import EntityResult, Outcome, RecordFailure, RunCounts
from core.run.events import ModuleRunResult, RunEvent

ALIVE, LOG, CANNOT_RUN = "alive", "log", "cannot-run"
EVENT_KINDS = ("started", "progress", "safe-point", "finished")


@dataclass(frozen=True)
class LogLine:
    """A log record of the child: logger name, level number and the formatted message."""

    logger: str
    level: int
    message: str


@dataclass(frozen=True)
class Alive:
    """The child's heartbeat."""


@dataclass(frozen=True)
class CannotRun:
    """The child's run did not start; ``title`` and ``message`` as IntegratorError has them,
    and ``path`` as ConfigError has it (the file the message starts with)."""

    title: str
    message: str
    path: str | None = None


Message = RunEvent | LogLine | Alive | CannotRun


def event_line(event: RunEvent) -> str:
    data: dict[str, Any] = {"kind": event.kind, "module": event.module}
    if event.kind == "progress":
        data |= {"phase": event.phase, "done": event.done, "total": event.total}
    if event.result is not None:
        data["result"] = result_data(event.result)
    return json.dumps(data)


def log_line(logger: str, level: int, message: str) -> str:
    return json.dumps({"kind": LOG, "logger": logger, "level": level, "message": message})


def alive_line() -> str:
    return json.dumps({"kind": ALIVE})


def cannot_run_line(title: str, message: str, path: str | None = None) -> str:
    return json.dumps({"kind": CANNOT_RUN, "title": title, "message": message, "path": path})


def parse_line(line: str) -> Message | None:
    """The message on one line; None for a line that is not one (plain text, a traceback)."""
    try:
        data = json.loads(line)
        if not isinstance(data, dict):
            return None
        kind = data.get("kind")
        if kind == ALIVE:
            return Alive()
        if kind == LOG:
            return LogLine(str(data["logger"]), int(data["level"]), str(data["message"]))
        if kind == CANNOT_RUN:
            path = data.get("path")
            return CannotRun(str(data["title"]), str(data["message"]), path and str(path))
        if kind in EVENT_KINDS:
            result = data.get("result")
            return RunEvent(
                kind=kind,
                module=str(data["module"]),
                result=result_from(result) if isinstance(result, dict) else None,
                phase=str(data.get("phase", "")),
                done=int(data.get("done", 0)),
                total=int(data.get("total", 0)),
            )
    except (ValueError, KeyError, TypeError):
        return None
    return None


def result_data(result: ModuleRunResult) -> dict[str, Any]:
    return {
        "module": result.module,
        "outcome": result.outcome.value,
        "counts": result.counts.as_dict(),
        "error": result.error,
        "parts": [_part_data(part) for part in result.parts],
        "log_file": str(result.log_file) if result.log_file else None,
        "duration_seconds": result.duration_seconds,
        "recovered": result.recovered,
        "halo_unreachable": result.halo_unreachable,
        "state_unusable": result.state_unusable,
    }


def result_from(data: dict[str, Any]) -> ModuleRunResult:
    """The result ``result_data`` wrote; KeyError, TypeError or ValueError if it is not one."""
    return ModuleRunResult(
        module=str(data["module"]),
        outcome=Outcome(data["outcome"]),
        counts=RunCounts(**data["counts"]),
        error=data.get("error"),
        parts=[_part_from(part) for part in data.get("parts", [])],
        log_file=Path(data["log_file"]) if data.get("log_file") else None,
        duration_seconds=float(data.get("duration_seconds", 0.0)),
        recovered=bool(data.get("recovered")),
        halo_unreachable=bool(data.get("halo_unreachable")),
        state_unusable=bool(data.get("state_unusable")),
    )


def _part_data(part: EntityResult) -> dict[str, Any]:
    return {
        "entity": part.entity,
        "kind": part.kind,
        "counts": part.counts.as_dict(),
        "failures": [[f.key, f.label, f.message] for f in part.failures],
        "refusal": part.refusal,
        "withheld": part.withheld,
    }


def _part_from(data: dict[str, Any]) -> EntityResult:
    return EntityResult(
        entity=str(data["entity"]),
        kind=str(data["kind"]),
        counts=RunCounts(**data["counts"]),
        failures=[RecordFailure(*failure) for failure in data.get("failures", [])],
        refusal=data.get("refusal"),
        withheld=list(data.get("withheld", [])),
    )
