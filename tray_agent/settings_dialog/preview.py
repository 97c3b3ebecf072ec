"""Preview: what a module would do now, shown before anything is written to Halo.

The Integrations tab's Preview button runs the instance's form as a dry run
(``Agent.preview``, a ``RunRequest`` with ``dry_run``) and shows here what would be created,
updated and deactivated, with the first names of each, as ``sync --dry-run`` prints them.
``preview_text`` is plain text (tested without a display); ``PreviewBox`` only shows it.
"""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk

from core.outcomes import QUEUE, Outcome
from core.run.runner import ModuleRunResult
from core.sync.plan import Plan
from tray_agent.console import planned_changes
from tray_agent.settings_dialog.widgets import ERROR_TEXT, HINT_TEXT, OK_TEXT

NAMES_PER_KIND = 8
BOX_LINES = 9


def preview_text(result: ModuleRunResult) -> tuple[str, bool]:
    """(the text to show, whether the preview worked) for a dry run's result."""
    if result.outcome is Outcome.FAILED or (result.error and result.outcome is not Outcome.REFUSED):
        return f"Preview failed: {result.error or 'the run did not finish'}", False
    counts = result.counts
    head = (
        f"Would create {counts.created}, update {counts.updated} and deactivate "
        f"{counts.deactivated} ({counts.unchanged} unchanged). Nothing was written to Halo."
    )
    if any(part.kind == QUEUE for part in result.parts):
        head = f"Would process {counts.processed}. Nothing was written to Halo."
    lines = [head]
    if result.outcome is Outcome.REFUSED:
        lines.append(f"A real run would be refused: {result.error}")
    for part in result.parts:
        if isinstance(part.plan, Plan):
            lines += [f"  {change}" for change in planned_changes(part.plan, NAMES_PER_KIND)]
    lines += [f"  would fail: {failure.label}: {failure.message}" for failure in result.failures]
    return "\n".join(lines), result.outcome is not Outcome.REFUSED


class PreviewBox(ttk.Frame):
    """A few read-only lines under a module's buttons; hidden until the first preview."""

    def __init__(self, parent: tk.Misc) -> None:
        super().__init__(parent)
        self.columnconfigure(0, weight=1)
        self.text = tk.Text(
            self, height=BOX_LINES, wrap="word", relief="flat", borderwidth=1, takefocus=False
        )
        scrollbar = ttk.Scrollbar(self, orient="vertical", command=self.text.yview)
        self.text.configure(yscrollcommand=scrollbar.set, state="disabled")
        self.text.grid(row=0, column=0, sticky="ew")
        scrollbar.grid(row=0, column=1, sticky="ns")

    def show(self, text: str, kind: str) -> None:
        """Show ``text`` in the colour of ``kind``: ok, error or busy."""
        colour = {"ok": OK_TEXT, "error": ERROR_TEXT}.get(kind, HINT_TEXT)
        self.text.configure(state="normal", foreground=colour)
        self.text.delete("1.0", "end")
        self.text.insert("1.0", text)
        self.text.configure(state="disabled")

    def content(self) -> str:
        return self.text.get("1.0", "end-1c")
