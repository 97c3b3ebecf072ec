"""A rolling-window rate limiter shaped like hosted Halo's (300 requests per rolling 5 minutes).

Halo documents a *rolling* window (halo-api.md section 4), so this keeps a sliding log of
the timestamps of accepted requests instead of fixed buckets: the N+1st request inside any
window of `window_seconds` is refused, and requests pass again as soon as the oldest
logged one leaves the window.

Refused requests (429s) are NOT logged. Halo does not say either way; not counting them
means a client that backs off recovers exactly when the window rolls, and one that
hammers does not lock itself out forever.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable

DEFAULT_LIMIT = (300, 300.0)
"""Hosted Halo's limit: 300 requests per rolling 5 minutes."""


class RollingWindowLimiter:
    """Sliding log limiter; `limit=None` turns it off."""

    def __init__(
        self,
        limit: tuple[int, float] | None = DEFAULT_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._log: collections.deque[float] = collections.deque()
        self.limit = limit

    @property
    def limit(self) -> tuple[int, float] | None:
        """(requests, window_seconds), or None when the limiter is off."""
        return self._limit

    @limit.setter
    def limit(self, value: tuple[int, float] | None) -> None:
        if value is not None:
            requests, window = int(value[0]), float(value[1])
            if requests < 1 or window <= 0:
                raise ValueError("rate limit needs requests >= 1 and window > 0")
            value = (requests, window)
        with self._lock:
            self._limit = value
            self._log.clear()

    def acquire(self) -> float | None:
        """Log a request if the window has room and return None; else the seconds to wait."""
        with self._lock:
            if self._limit is None:
                return None
            requests, window = self._limit
            now = self._clock()
            while self._log and self._log[0] <= now - window:
                self._log.popleft()
            if len(self._log) < requests:
                self._log.append(now)
                return None
            return max(self._log[0] + window - now, 0.0)

    def message(self) -> str:
        """Halo's 429 text with the configured numbers (Halo's own: 300 per rolling 5 minutes)."""
        requests, window = self._limit or DEFAULT_LIMIT
        window_text = describe_window(window)
        return f"Rate Limit Reached - {requests} Requests per rolling {window_text} window"


def describe_window(window_seconds: float) -> str:
    """'5 minute' for 300 s (Halo's wording), '1 second' for 1 s."""
    if window_seconds >= 60 and window_seconds % 60 == 0:
        return f"{int(window_seconds // 60)} minute"
    if window_seconds == int(window_seconds):
        return f"{int(window_seconds)} second"
    return f"{window_seconds:g} second"


def parse_rate_limit(text: str | None) -> tuple[int, float] | None:
    """Parse '300/300' (requests/seconds) or 'off' into a limit; raises ValueError otherwise."""
    if text is None or text.strip().lower() in ("off", "none", "0", ""):
        return None
    requests, _, window = text.partition("/")
    if not window:
        raise ValueError(f"rate limit must look like 300/300 or off, not {text!r}")
    limit = int(requests), float(window)
    if limit[0] < 1 or not limit[1] > 0:
        raise ValueError(f"rate limit needs at least 1 request per positive window, not {text!r}")
    return limit


def format_rate_limit(limit: tuple[int, float] | None) -> str:
    """The inverse of parse_rate_limit, for stats and the CLI banner."""
    return "off" if limit is None else f"{limit[0]}/{limit[1]:g}"
