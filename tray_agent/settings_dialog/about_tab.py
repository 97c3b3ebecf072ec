"""About: what support asks first: versions, and where the settings, logs and state live."""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk

from tray_agent.settings_dialog.widgets import HINT_TEXT, PAD


class AboutTab(ttk.Frame):
    """A two-column list; values are read-only entries so an admin can copy a path."""

    def __init__(self, parent: tk.Misc, rows: list[tuple[str, str]]) -> None:
        super().__init__(parent, padding=PAD * 2)
        self.columnconfigure(1, weight=1)
        self.values: dict[str, tk.StringVar] = {}
        for row, (label, value) in enumerate(rows):
            ttk.Label(self, text=label).grid(row=row, column=0, sticky="w", padx=(0, PAD), pady=2)
            variable = tk.StringVar(self, value=value)
            entry = ttk.Entry(self, textvariable=variable, state="readonly", takefocus=False)
            entry.grid(row=row, column=1, sticky="ew", pady=2)
            self.values[label] = variable
        ttk.Label(
            self,
            text="Attach the newest files from the logs folder to a support ticket; "
            "secrets are masked in them.",
            foreground=HINT_TEXT,
        ).grid(row=len(rows), column=0, columnspan=2, sticky="w", pady=(PAD * 2, 0))

    def update_rows(self, rows: list[tuple[str, str]]) -> None:
        """Refresh after a save (the logs folder may have been created or moved)."""
        for label, value in rows:
            if label in self.values:
                self.values[label].set(value)
