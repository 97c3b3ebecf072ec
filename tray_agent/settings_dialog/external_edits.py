"""The settings window against changes made to ``appsettings.json`` while it is open.

``module enable csv --interval 2h``, the tray's own reload or an editor may change the file
while an admin edits the dialog. Every ``FILE_POLL_MILLISECONDS`` (and again before a save)
the window compares the file with what it last loaded; a change is merged field by field
(``form_merge``): untouched fields show the file's values at once, edits stay, and fields
both sides changed are asked about when the admin saves. Runs on the Tk thread: a stat per
poll, and a read only when the content changed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from core.errors import ConfigError
from tray_agent.settings_dialog import form as forms
from tray_agent.settings_dialog.choice import ChoiceDialog
from tray_agent.settings_dialog.file_watch import FileWatch
from tray_agent.settings_dialog.form_merge import (
    Conflict,
    Key,
    Values,
    changed,
    connection_of,
    form_values,
    label,
    merge,
    modules_of,
)

if TYPE_CHECKING:
    from tray_agent.settings_dialog.window import SettingsWindow

log = logging.getLogger("halo_integrator.settings")

FILE_POLL_MILLISECONDS = 1_000
KEEP_MINE, USE_FILE, CANCEL = "Keep mine", "Use the file's", "Cancel"


class ExternalEdits:
    """Owned by one ``SettingsWindow``; ``base`` is what the form showed at the last load."""

    def __init__(self, window: SettingsWindow) -> None:
        self.window = window
        self.watch = FileWatch(window.agent.settings_path)
        self.base: Values = self.current()
        self.conflicts: dict[Key, Conflict] = {}
        self.question: ChoiceDialog | None = None
        self._poll_id: str | None = window.top.after(FILE_POLL_MILLISECONDS, self._poll)

    def current(self) -> Values:
        return form_values(self.window.basic.form(), self.window.integrations.forms())

    def edited(self) -> list[Key]:
        """The fields changed in the form since the last load or save."""
        return changed(self.base, self.current())

    def saved(self) -> None:
        """The form was just written: it is the new base, and the file is as we wrote it."""
        self.watch.loaded()
        self.base = self.current()
        self.conflicts.clear()

    def stop(self) -> None:
        if self._poll_id is not None:
            self.window.top.after_cancel(self._poll_id)
            self._poll_id = None

    def _poll(self) -> None:
        self._poll_id = None
        if self.watch.changed():
            self.reload()
        self._poll_id = self.window.top.after(FILE_POLL_MILLISECONDS, self._poll)

    def reload(self) -> bool:
        """Merge the file's new content into the form; False when it cannot be read."""
        window = self.window
        path = window.agent.settings_path
        self.watch.loaded()  # a change made while reading is seen at the next poll
        try:
            settings = window.agent.reload()
        except ConfigError as exc:
            window.status.show(
                f"{path.name} was changed elsewhere and cannot be read: {exc} "
                "Saving replaces it with this form.",
                "error",
            )
            log.warning("The settings file changed and cannot be read: %s", exc)
            return False
        theirs = form_values(forms.connection_form(settings), forms.module_forms(settings))
        merged = merge(self.base, self.current(), theirs)
        order = [section.name for section in window.integrations.sections]
        window.basic.set_form(connection_of(merged.values))
        window.integrations.set_forms(modules_of(merged.values, order))
        window.reloaded(settings)
        self.base = theirs
        for key in merged.reloaded:
            self.conflicts.pop(key, None)
        self.conflicts.update({conflict.key: conflict for conflict in merged.conflicts})
        self._say_reloaded(merged.reloaded)
        return True

    def _say_reloaded(self, reloaded: list[Key]) -> None:
        fields = ", ".join(label(key) for key in reloaded if key[-1] != "Type")
        text = f"{self.window.agent.settings_path.name} was changed elsewhere"
        text += f": now showing its {fields}." if fields else "."
        if self.conflicts:
            text += f" {len(self.conflicts)} of your edits differ from it: Save asks which to keep."
        log.info("%s", text)
        self.window.status.show(text, "busy")

    def before_save(self, save: Callable[[], None]) -> None:
        """Reload a changed file, then ``save()`` unless a conflict needs an answer first."""
        if self.watch.changed() and not self.reload():
            save()  # unreadable: the banner says Save replaces it
            return
        mine = self.current()
        open_conflicts = [c for c in self.conflicts.values() if mine.get(c.key) != c.theirs]
        if not open_conflicts:
            self.conflicts.clear()
            save()
            return
        lines = "\n".join(
            f"• {c.label}: yours {_text(c.mine)}, in the file {_text(c.theirs)}"
            for c in open_conflicts
        )
        self.question = ChoiceDialog(
            self.window.top,
            "Changed in both places",
            f"{self.window.agent.settings_path.name} was changed elsewhere while you edited "
            f"the same fields:\n{lines}",
            (KEEP_MINE, USE_FILE, CANCEL),
            lambda answer: self._resolve(answer, open_conflicts, save),
        )

    def _resolve(
        self, answer: str | None, conflicts: list[Conflict], save: Callable[[], None]
    ) -> None:
        if answer not in (KEEP_MINE, USE_FILE):
            self.window.status.show("Not saved: the file and the form still differ.", "error")
            self.window.cancelled_save()
            return
        if answer == USE_FILE:
            values = self.current()
            for conflict in conflicts:
                if conflict.theirs is None:
                    values.pop(conflict.key, None)
                else:
                    values[conflict.key] = conflict.theirs
            order = [section.name for section in self.window.integrations.sections]
            self.window.basic.set_form(connection_of(values))
            self.window.integrations.set_forms(modules_of(values, order))
        log.info("Conflicting edits: %s (%s)", answer, ", ".join(c.label for c in conflicts))
        self.conflicts.clear()
        save()


def _text(value: object) -> str:
    if value is None:
        return "(removed)"
    if isinstance(value, bool):
        return "on" if value else "off"
    return f'"{value}"'
