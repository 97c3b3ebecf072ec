"""When a module instance is due again: the arithmetic behind AUTO --due and ``status``.

One scheduled task every few minutes runs ``AUTO --due``; each instance then runs only when
its own interval has passed since its last run started. A little tolerance keeps a 5-minute
module on a 5-minute task from slipping to every 10 minutes when the task fires a moment
early.
"""

from __future__ import annotations

import datetime

from core.settings.model import Interval

MAX_TOLERANCE_SECONDS = 30.0
TOLERANCE_SHARE = 0.1


def next_due_at(interval: Interval, last_started_at: float | None) -> float | None:
    """The time the instance is next due; None when it never ran (it is due now)."""
    if last_started_at is None:
        return None
    if interval.every_seconds is not None:
        return last_started_at + interval.every_seconds
    assert interval.daily_at is not None
    started = datetime.datetime.fromtimestamp(last_started_at).astimezone()
    candidate = started.replace(
        hour=interval.daily_at.hour, minute=interval.daily_at.minute, second=0, microsecond=0
    )
    if candidate <= started:
        candidate += datetime.timedelta(days=1)
    return candidate.timestamp()


def is_due(interval: Interval, last_started_at: float | None, now: float) -> bool:
    """Whether AUTO --due runs the instance at ``now``."""
    due_at = next_due_at(interval, last_started_at)
    if due_at is None:
        return True
    tolerance = 0.0
    if interval.every_seconds is not None:
        tolerance = min(MAX_TOLERANCE_SECONDS, interval.every_seconds * TOLERANCE_SHARE)
    return now >= due_at - tolerance
