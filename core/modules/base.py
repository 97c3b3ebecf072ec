"""The one interface every integration implements, and what a run hands to it.

A module reads its source and turns items into ``SourceRecord``s; ``RunContext.record_sync``
gives it the shared engine (matching, fingerprints, guard, batches, dry run). Everything else
a run needs (locks, logs, status in the state DB and in Halo) is the runner's job.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from core.halo.client import HaloClient
from core.state.store import StateStore
from core.sync.engine import RecordSync, SyncResult
from core.sync.plan import DeactivationGuard
from core.sync.records import HaloTarget

ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True)
class StatusRecord:
    """Where Halo shows this module's Last Sync / Last Error.

    Integrations with their own record (``LDAPConnection``, ``Mailbox`` ...) need the record's
    id from the settings; integrations configured on the ``Control`` object use a field prefix
    such as ``halointegrator_xlsimports_``.
    """

    endpoint: str
    field_prefix: str = "halointegrator_"
    needs_id: bool = True


@dataclass
class RunContext:
    """What a module may use during one run."""

    client: HaloClient
    state: StateStore
    module: str
    settings_folder: Path
    dry_run: bool
    allow_mass_deactivation: bool
    progress: ProgressCallback
    log: logging.Logger

    def record_sync(
        self,
        target: HaloTarget,
        *,
        deactivate_missing: bool = True,
        max_deactivate_percent: float = 10.0,
    ) -> RecordSync:
        """The shared engine, bound to this run and this module's part of the state DB."""
        return RecordSync(
            client=self.client,
            state=self.state,
            module=self.module,
            target=target,
            dry_run=self.dry_run,
            deactivate_missing=deactivate_missing,
            guard=DeactivationGuard(max_percent=max_deactivate_percent),
            allow_mass_deactivation=self.allow_mass_deactivation,
            progress=self.progress,
        )

    def resolve(self, path: str) -> Path:
        """Relative paths in options are relative to the settings folder, as admins expect."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self.settings_folder / candidate


class SyncModule(ABC):
    """Base class of every integration; subclasses set the class attributes and ``run``."""

    name: ClassVar[str]
    display_name: ClassVar[str]
    description: ClassVar[str]
    Options: ClassVar[type]
    status_record: ClassVar[StatusRecord | None] = None

    def __init__(self, options: Any) -> None:
        self.options = options

    @abstractmethod
    def run(self, context: RunContext) -> SyncResult:
        """Read the source and sync it; raise ``ModuleError`` when the source is unusable."""
