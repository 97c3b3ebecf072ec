"""Fault injection for the Graph stand-in: the next N Graph requests are throttled.

Graph throttles with 429 (too many requests) and, under load, 503; both carry
``Retry-After`` in seconds. Token requests are never throttled here, so a test counts only
Graph calls.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Throttle:
    """One injected failure: the status to answer and the Retry-After to send (None: none)."""

    status: int
    retry_after_seconds: int | None


class GraphFaults:
    """A queue of throttled answers, consumed one per Graph request; thread-safe."""

    def __init__(self) -> None:
        self._pending: list[Throttle] = []
        self._lock = threading.Lock()

    def throttle_next(
        self, count: int, *, status: int = 429, retry_after_seconds: int | None = 1
    ) -> None:
        """The next ``count`` Graph requests answer ``status`` (429 or 503) with Retry-After."""
        if status not in (429, 503):
            raise ValueError("Graph throttles with 429 or 503")
        with self._lock:
            self._pending.extend([Throttle(status, retry_after_seconds)] * count)

    def take(self) -> Throttle | None:
        """The failure for this request, or None when it should be answered normally."""
        with self._lock:
            return self._pending.pop(0) if self._pending else None

    def clear(self) -> None:
        """Forget every pending failure."""
        with self._lock:
            self._pending.clear()
