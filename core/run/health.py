"""Each configured module instance's health, read from the shared state DB.

The CLI's ``status`` and the tray's icon ask the same question: did every instance succeed
recently enough? One whose last success is older than twice its interval is ``stale`` (the
dead-man's switch: it also catches AUTO runs that silently stopped happening).
"""

from __future__ import annotations

import datetime
import json
import time
from dataclasses import asdict, dataclass, field

from core.outcomes import Outcome
from core.run.due import next_due_at
from core.settings.model import ModuleSettings, Settings
from core.state.store import StateStore

STALE_AFTER_INTERVALS = 2


@dataclass(frozen=True)
class ModuleHealth:
    module: str
    enabled: bool
    interval: str
    health: str  # ok | error | stale | never | disabled
    last_run_at: float | None
    last_success_at: float | None
    last_error: str | None
    consecutive_failures: int
    type: str = ""
    last_outcome: Outcome | None = None
    next_due_at: float | None = None  # None: due now (never ran)
    # The last run's counts per Halo entity or queue, as the runner recorded them.
    last_parts: list[dict[str, object]] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        return self.last_outcome is Outcome.REFUSED

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        for key in ("last_run_at", "last_success_at", "next_due_at"):
            data[key] = iso(data[key])
        data["last_outcome"] = self.last_outcome.value if self.last_outcome else None
        return data


def module_statuses(settings: Settings, state: StateStore | None = None) -> list[ModuleHealth]:
    store = state or StateStore(settings.folder)
    return [health_of(entry, store) for entry in settings.modules]


def health_of(entry: ModuleSettings, state: StateStore, now: float | None = None) -> ModuleHealth:
    status = state.status(entry.name)
    now = time.time() if now is None else now
    if not entry.enabled:
        health = "disabled"
    elif status is None or status.last_run_at is None:
        health = "never"
    elif status.consecutive_failures > 0:
        health = "error"
    elif (
        status.last_success_at or 0
    ) < now - STALE_AFTER_INTERVALS * entry.interval.seconds_hint():
        health = "stale"
    else:
        health = "ok"
    return ModuleHealth(
        module=entry.name,
        enabled=entry.enabled,
        interval=entry.interval.text,
        health=health,
        last_run_at=status.last_run_at if status else None,
        last_success_at=status.last_success_at if status else None,
        last_error=status.last_error if status else None,
        consecutive_failures=status.consecutive_failures if status else 0,
        type=entry.type,
        last_outcome=_outcome(status.last_outcome if status else None),
        next_due_at=next_due_at(entry.interval, status.last_started_at if status else None),
        last_parts=_last_parts(state, entry.name),
    )


def _outcome(value: str | None) -> Outcome | None:
    try:
        return Outcome(value) if value else None
    except ValueError:  # written by a newer version
        return None


def _last_parts(state: StateStore, module: str) -> list[dict[str, object]]:
    runs = state.recent_runs(module, limit=1)
    details = runs[0].get("details") if runs else None
    return json.loads(str(details)) if details else []


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    moment = datetime.datetime.fromtimestamp(timestamp).astimezone()
    return moment.isoformat(timespec="seconds")
