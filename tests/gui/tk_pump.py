"""Running a Tk root in the test's own process until something holds."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

TIMEOUT_SECONDS = 20


def pump_until(root: Any, condition: Callable[[], bool], timeout: float = TIMEOUT_SECONDS) -> None:
    """Run a Tk root in this process until ``condition`` holds (or fail after a while)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the window did not get there"
        root.update()
        time.sleep(0.02)


def pump_for(root: Any, seconds: float) -> None:
    """Let Tk draw (for a screenshot): there is no condition to wait for."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        root.update()
        time.sleep(0.02)
