"""What a run tells its listeners: ``RunEvent``s, ending with the ``ModuleRunResult``.

Kept apart from the runner (which imports every module and the Halo client) so that a front
end can read results and relay events without loading the engine: the tray runs modules in
child processes and only ever sees these objects, rebuilt from the child's event lines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.outcomes import EntityResult, Outcome, RecordFailure, RunCounts, summary


@dataclass
class ModuleRunResult:
    """What one module instance's run did, for summaries, exit codes and notifications."""

    module: str
    outcome: Outcome
    counts: RunCounts = field(default_factory=RunCounts)
    error: str | None = None
    parts: list[EntityResult] = field(default_factory=list)
    log_file: Path | None = None
    duration_seconds: float = 0.0
    recovered: bool = False
    halo_unreachable: bool = False  # it failed because Halo never answered
    state_unusable: bool = False  # it failed because state.db could not be written

    @property
    def ok(self) -> bool:
        return self.outcome.ok

    @property
    def failures(self) -> list[RecordFailure]:
        return [failure for part in self.parts for failure in part.failures]

    def summary(self) -> str:
        return summary(self.counts, kinds={part.kind for part in self.parts} or None)


@dataclass(frozen=True)
class RunEvent:
    """``started`` / ``progress`` / ``safe-point`` / ``finished``; ``result`` when finished."""

    kind: str
    module: str
    result: ModuleRunResult | None = None
    phase: str = ""
    done: int = 0
    total: int = 0


Listener = Callable[[RunEvent], None]
