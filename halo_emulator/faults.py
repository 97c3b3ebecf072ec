"""Fault injection: the knobs that let tests and benchmarks make the emulator misbehave.

A real Halo is slow at times, answers 500 now and then, throttles, drops connections and
invalidates tokens early. `FaultSettings` holds the knobs (all off by default);
`FaultInjector` turns them into one decision per request so the server stays simple.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import random
import threading
from dataclasses import dataclass
from typing import Any


@dataclass
class FaultSettings:
    """What should go wrong, and how often. Every field defaults to "nothing goes wrong"."""

    latency_ms: float = 0.0
    """Added before answering each /api and token request."""
    error_rate: float = 0.0
    """Probability (0..1) that a request answers HTTP 500."""
    error_next: int = 0
    """The next N requests answer HTTP 500."""
    burst_429: int = 0
    """The next N requests answer 429 with the rate-limit body."""
    drop_rate: float = 0.0
    """Probability (0..1) that the connection is closed without any response."""
    drop_next: int = 0
    """The next N requests get their connection closed without any response."""
    lose_answer_next: int = 0
    """The next N POSTs to /api are carried out, then the connection is closed without an
    answer: the one failure where a client that resends blindly creates duplicates."""
    token_early_expiry: float | None = None
    """Tokens issued from now on really expire after this many seconds, whatever
    `expires_in` claimed (tokens already issued keep their lifetime; see expire_tokens)."""

    def update(self, **changes: Any) -> None:
        """Change fields by name; raises TypeError on an unknown name, ValueError on a bad value."""
        known = {field.name for field in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise TypeError(f"unknown fault setting(s): {', '.join(unknown)}")
        for name, value in changes.items():
            setattr(self, name, _coerce(name, value))

    def as_dict(self) -> dict[str, Any]:
        """The settings as plain JSON-able values (for the admin endpoint)."""
        return dataclasses.asdict(self)


def _coerce(name: str, value: Any) -> Any:
    """Check one value: counters are non-negative ints, rates lie in 0..1, None turns expiry off."""
    if name == "token_early_expiry" and value in (None, "", "off"):
        return None
    if name in ("error_next", "burst_429", "drop_next", "lose_answer_next"):
        count = int(value)
        if count < 0:
            raise ValueError(f"{name} must be >= 0")
        return count
    number = float(value)
    if not math.isfinite(number) or number < 0 or (name.endswith("_rate") and number > 1):
        raise ValueError(f"{name} out of range: {value!r}")
    return number


class Fault(enum.Enum):
    """What the injector decided for one request."""

    NONE = "none"
    DROP = "drop"
    RATE_LIMITED = "429"
    SERVER_ERROR = "500"


class FaultInjector:
    """Draws one decision per request from the current settings.

    The counters (`*_next`, `burst_429`) are decremented as they fire, so `error_next=2`
    really means "the next two requests". A lock guards them because `Emulator.set_faults`
    runs on the caller's thread while requests run on the server's loop.
    """

    def __init__(self, settings: FaultSettings | None = None) -> None:
        self.settings = settings or FaultSettings()
        self._lock = threading.Lock()

    def update(self, **changes: Any) -> None:
        """Change settings at runtime (all-or-nothing: a bad value changes nothing)."""
        with self._lock:
            trial = dataclasses.replace(self.settings)
            trial.update(**changes)
            self.settings = trial

    def decide(self) -> Fault:
        """Return the fault for the next request, consuming one-shot counters."""
        with self._lock:
            settings = self.settings
            if settings.drop_next > 0:
                settings.drop_next -= 1
                return Fault.DROP
            if settings.drop_rate and random.random() < settings.drop_rate:
                return Fault.DROP
            if settings.burst_429 > 0:
                settings.burst_429 -= 1
                return Fault.RATE_LIMITED
            if settings.error_next > 0:
                settings.error_next -= 1
                return Fault.SERVER_ERROR
            if settings.error_rate and random.random() < settings.error_rate:
                return Fault.SERVER_ERROR
            return Fault.NONE

    def take_lost_answer(self) -> bool:
        """True (and one fewer to go) when this write's answer is to be lost."""
        with self._lock:
            if self.settings.lose_answer_next > 0:
                self.settings.lose_answer_next -= 1
                return True
            return False

    @property
    def latency_seconds(self) -> float:
        """Delay to add before answering, in seconds."""
        return self.settings.latency_ms / 1000.0

    @property
    def token_early_expiry(self) -> float | None:
        """Real token lifetime in seconds when early expiry is on, else None."""
        return self.settings.token_early_expiry
