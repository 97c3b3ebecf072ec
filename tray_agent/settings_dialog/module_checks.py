"""Check source and Preview: one instance's form, tried as it stands, before it is saved.

Check source reads the source (``core.run.checks``); Preview runs the instance as a dry
run (``Agent.preview``), reading Halo and writing nothing. Both build the entry from the
form exactly as Save would, run on the window's worker threads and show their answer in the
instance's section.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

from core.run.checks import SourceCheck, check_source
from tray_agent.settings_dialog import form as forms
from tray_agent.settings_dialog.integrations_tab import ModuleSection
from tray_agent.settings_dialog.preview import preview_text

if TYPE_CHECKING:
    from tray_agent.settings_dialog.window import SettingsWindow

log = logging.getLogger("halo_integrator.settings")


class ModuleChecks:
    """The Integrations tab's Check source and Preview buttons, for one window."""

    def __init__(self, window: SettingsWindow) -> None:
        self.window = window

    def check(self, section: ModuleSection) -> None:
        """Check source: this instance's form, checked as it stands."""
        window = self.window
        stored = window.stored.module(section.name) if window.stored else None
        entry, problems = forms.module_from_form(section.form(), stored, force=True)
        section.show_problems(problems)
        if entry is None:
            message = "Fix the marked fields, then check again."
            section.show_check(SourceCheck(section.name, section.type, False, message))
            return
        section.checking()
        folder = window.agent.settings_path.parent
        window.in_background(
            lambda: check_source(entry, folder),
            functools.partial(self._checked, section),
            lambda exc: section.show_check(
                SourceCheck(section.name, section.type, False, str(exc))
            ),
        )

    def _checked(self, section: ModuleSection, check: SourceCheck) -> None:
        section.show_check(check)
        if check.ok:
            log.info("Source check OK: %s", check)
        else:
            log.warning("Source check failed: %s", check)

    def preview(self, section: ModuleSection) -> None:
        """Preview: this instance's form as a dry run; Halo is read, nothing is written."""
        window = self.window
        stored = window.stored
        entry, problems = forms.module_from_form(
            section.form(), stored.module(section.name) if stored else None, force=True
        )
        section.show_problems(problems)
        connection, connection_problems = forms.connection_from_form(
            window.basic.form(), stored.halo if stored else None
        )
        if entry is None or connection_problems:
            where = "on Basic Configuration" if connection_problems else "above"
            section.show_preview(f"Fix the marked fields {where}, then preview again.", False)
            window.basic.show_problems(connection_problems)
            return
        section.previewing()
        window.in_background(
            lambda: window.agent.preview(entry, connection),
            lambda result: section.show_preview(*preview_text(result)),
            lambda exc: section.show_preview(f"Preview failed: {exc}", False),
        )
