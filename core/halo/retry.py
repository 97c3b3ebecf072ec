"""How hard the Halo client tries: the retry policy, the run's deadline and one request's tries.

Each request used to have a retry budget of its own, so a run against a server that accepts
connections and never answers spent six 30 s tries on its token and then as many again on the
status report, and said "did not answer within 30 s" after seven minutes. Now one ``Deadline``
covers a whole run (or one Validate), whatever the number of requests: a retry whose wait would
end past it is not started, and the error says how many tries the request really made in how
long.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class RetryPolicy:
    """How hard to try: attempts for 5xx / connection errors, patience for 429s."""

    max_attempts: int = 6
    backoff_base_seconds: float = 1.0
    backoff_cap_seconds: float = 60.0
    # A whole 5-minute window and a little more; a run's Deadline (180 s) may end it sooner.
    rate_limit_patience_seconds: float = 330.0
    rate_limit_min_wait_seconds: float = 5.0  # after a 429 without Retry-After


class Deadline:
    """The moment after which a run starts no retry; shared by every request of the run.

    It lies ``seconds`` after the run's start, or after Halo's last good answer when that is
    later: it bounds how long a run keeps trying a Halo that fails, never how long a healthy
    run may take (a first sync of thousands of records paced under the rate limit takes
    hours, and a passing 500 late in it still deserves its retries). A failing run ends
    within the deadline plus at most one request timeout (a retry's own timeout is cut to
    the time left, so only a request's first try can outlast it).
    """

    def __init__(
        self,
        seconds: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        name: str = "DeadlineSeconds",
    ) -> None:
        self.seconds = seconds
        self.name = name  # what an admin changes to give it more time
        self._clock = clock
        self.ends_at = clock() + seconds

    def renew(self) -> None:
        """Halo answered: the time it may fail again before the run gives up starts now."""
        self.ends_at = self._clock() + self.seconds

    def remaining(self) -> float:
        """Seconds until the end (negative once it has passed)."""
        return self.ends_at - self._clock()

    def allows(self, wait_seconds: float) -> bool:
        """True when a retry that first waits ``wait_seconds`` would start before the end."""
        return self._clock() + wait_seconds < self.ends_at


@dataclass
class Tries:
    """How one request has fared so far: failures count toward attempts, 429s toward patience."""

    started_at: float
    sent: int = 0
    failures: int = 0
    rate_limits: int = 0
    first_rate_limit_at: float | None = None
    stopped_by: Deadline | None = None  # set when the deadline stopped the retries

    def summary(self, now: float) -> str:
        """``after 4 tries in 95 s``, and whether the run's deadline was what stopped them."""
        count = f"{self.sent} {'try' if self.sent == 1 else 'tries'}"
        text = f"after {count} in {seconds_text(now - self.started_at)} s"
        if self.stopped_by is not None:
            deadline = self.stopped_by
            text += f", stopped by {deadline.name} ({seconds_text(deadline.seconds)} s)"
        return text


def seconds_text(seconds: float) -> str:
    """Whole seconds from 10 s on, tenths below (a test's 0.4 s is not "0 s")."""
    return f"{seconds:.0f}" if seconds >= 10 else f"{seconds:.1f}"
