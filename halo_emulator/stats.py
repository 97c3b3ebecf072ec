"""Request counting for the admin endpoint: how many requests, to which endpoint, with what status.

Benchmarks compare clients by how many requests they needed, so endpoint keys are
normalised: method + lower-cased path with numeric id segments replaced by `{id}`.
"""

from __future__ import annotations

import collections
import re
import threading
from typing import Any

_ID_SEGMENT = re.compile(r"^\d+(\.\d+)?$")


def endpoint_key(method: str, path: str) -> str:
    """'GET /api/Users/5' -> 'GET /api/users/{id}'."""
    segments = path.lower().rstrip("/").split("/")
    normalised = ["{id}" if _ID_SEGMENT.match(segment) else segment for segment in segments]
    return f"{method.upper()} {'/'.join(normalised) or '/'}"


class RequestStats:
    """Thread-safe counters; the server loop writes, any thread may read or reset."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget every count (records in the store are not touched)."""
        with self._lock:
            self._total = 0
            self._dropped = 0
            self._bare_object_posts = 0
            self._by_endpoint: collections.Counter[str] = collections.Counter()
            self._by_status: collections.Counter[str] = collections.Counter()

    def record(self, method: str, path: str, status: int | None) -> None:
        """Count one request; `status=None` means the connection was dropped on purpose."""
        with self._lock:
            self._total += 1
            self._by_endpoint[endpoint_key(method, path)] += 1
            if status is None:
                self._dropped += 1
            else:
                self._by_status[str(status)] += 1

    def note_bare_object_post(self) -> None:
        """A POST whose body was one object, not the array Halo documents (accepted anyway,
        for lenient clients; counted so tests can prove the agent always sends arrays)."""
        with self._lock:
            self._bare_object_posts += 1

    def snapshot(self) -> dict[str, Any]:
        """Counts as JSON-able dicts (without the record counts, which the store supplies)."""
        with self._lock:
            return {
                "total": self._total,
                "by_endpoint": dict(sorted(self._by_endpoint.items())),
                "by_status": dict(sorted(self._by_status.items())),
                "dropped": self._dropped,
                "bare_object_posts": self._bare_object_posts,
            }
