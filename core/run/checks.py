"""Source checks: can each enabled module instance reach and read its source?

``halo-integrator validate`` and the dialog's Validate ask this after the Halo connection:
bind to the directory, log in to the mailbox, find the file. One answer per instance, green
or red, with the cause and the next step, so an admin sees every broken source at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from core.errors import IntegratorError
from core.modules.registry import build_module
from core.run.context import SourceContext
from core.run.logs import redact
from core.settings.model import ModuleSettings, Settings

log = logging.getLogger("halo_integrator.checks")


@dataclass(frozen=True)
class SourceCheck:
    """One instance's answer: ``message`` says what was found, or what is wrong and what to do."""

    module: str
    type: str
    ok: bool
    message: str

    def __str__(self) -> str:
        return f"{self.module} ({self.type}): {self.message}"


def check_sources(settings: Settings) -> list[SourceCheck]:
    """Check every enabled instance's source, in settings order."""
    return [check_source(entry, settings.folder) for entry in settings.modules if entry.enabled]


def check_source(entry: ModuleSettings, settings_folder: Path) -> SourceCheck:
    """Check one instance (also one that is not saved yet: the dialog checks its form)."""
    module, problems = build_module(entry)
    if module is None:
        listed = "; ".join(f"{path}: {message}" for path, message in problems)
        return SourceCheck(entry.name, entry.type, False, f"cannot be built: {listed}.")
    if missing := module.missing_extra():
        return SourceCheck(entry.name, entry.type, False, f"{missing}.")
    context = SourceContext(
        instance=entry.name,
        settings_folder=settings_folder,
        log=logging.getLogger(f"halo_integrator.modules.{entry.name}"),
    )
    try:
        found = module.check(context)
    except IntegratorError as exc:
        return SourceCheck(entry.name, entry.type, False, redact(str(exc)))
    except Exception as exc:  # a module's bug is that module's red line, not a traceback
        log.exception("The source check of %s failed unexpectedly", entry.name)
        message = f"unexpected error: {type(exc).__name__}: {exc}"
        return SourceCheck(entry.name, entry.type, False, redact(message))
    return SourceCheck(entry.name, entry.type, True, found)
