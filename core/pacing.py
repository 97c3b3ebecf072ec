"""Client-side pacing under Halo's rolling rate limit.

Hosted Halo answers 429 once an API application sends more than 300 requests in any rolling
five minutes. Running into that wall and backing off wastes the whole window, so the client
keeps its own sliding log of send times and waits *before* a request would exceed the limit.
A small headroom is kept for the other tools (and the tray's Validate) sharing the
application's quota.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable


class RequestPacer:
    """A thread-safe sliding-window limiter: at most ``max_requests`` per ``window_seconds``.

    ``acquire()`` blocks until one more request fits in the window and returns the seconds it
    waited, so callers can report how much pacing cost. ``hold_off()`` pauses everyone after
    the server said 429, because the server's count (shared with other clients) is the truth.
    """

    def __init__(
        self,
        max_requests: int,
        window_seconds: float,
        *,
        headroom: float = 0.02,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_requests < 1 or window_seconds <= 0:
            raise ValueError("a rate limit needs at least one request per positive window")
        self.budget = max(1, int(max_requests * (1.0 - headroom)))
        self.window_seconds = window_seconds
        self._clock = clock
        self._sleep = sleep
        self._sent: collections.deque[float] = collections.deque()
        self._blocked_until = 0.0
        self._lock = threading.Lock()
        self.total_wait_seconds = 0.0

    def acquire(self) -> float:
        """Wait until a request may be sent, record it, and return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                delay = self._delay_locked(self._clock())
                if delay <= 0:
                    self._sent.append(self._clock())
                    self.total_wait_seconds += waited
                    return waited
            self._sleep(delay)
            waited += delay

    def hold_off(self, seconds: float) -> None:
        """Let no request out for ``seconds`` (after a 429 from the server)."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + seconds)

    def _delay_locked(self, now: float) -> float:
        if now < self._blocked_until:
            return self._blocked_until - now
        self._forget_old(now)
        if len(self._sent) < self.budget:
            return 0.0
        return self._sent[0] + self.window_seconds - now

    def _forget_old(self, now: float) -> None:
        while self._sent and self._sent[0] <= now - self.window_seconds:
            self._sent.popleft()
