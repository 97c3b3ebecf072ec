"""``RunRequest``: what a run was asked to do, carried whole from the front end to the module.

Adding a flag touches this object and the one place that reads it, never the layers in
between (the CLI, the tray, the runner and the engine pass it on as it is).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RunRequest:
    """One run: which module instances (empty: every enabled one) and how.

    ``only_due`` is AUTO --due: run an instance only when its interval has passed since its
    last run, so one scheduled task every 5 minutes serves a 5-minute mailbox and a nightly
    directory import side by side. ``full`` asks a delta source for a full reconcile now
    (``sync NAME --full``) instead of waiting for its scheduled one.
    """

    modules: tuple[str, ...] = ()
    dry_run: bool = False
    allow_mass_deactivation: bool = False
    only_due: bool = False
    full: bool = False

    @classmethod
    def of(cls, modules: Sequence[str] | None = None, **flags: bool) -> RunRequest:
        return cls(modules=tuple(modules or ()), **flags)

    def to_json(self) -> str:
        """The request as one JSON object: how the tray hands it whole to a child process."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> RunRequest:
        """The request ``to_json`` wrote; ValueError (or TypeError) for anything else."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("a run request is a JSON object")
        return cls(**{**data, "modules": tuple(data.get("modules", ()))})
