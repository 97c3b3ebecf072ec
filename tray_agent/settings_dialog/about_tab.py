"""About: what support asks first, and the one zip to send them.

Versions and where the settings, logs and state live; "Open Halo" for the instance; and Copy
diagnostics / Save diagnostics bundle, which call ``core.diagnostics`` (the same bundle as
``halo-integrator diagnostics``): versions, settings with secrets removed, the last runs and
the newest logs. Reading the folder happens on a worker thread; the clipboard and the file
chooser are touched on the Tk thread only.
"""

from __future__ import annotations

import datetime
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import filedialog, ttk
from typing import Any

from core.diagnostics import collect, write_bundle
from tray_agent.settings_dialog.widgets import HINT_TEXT, PAD, Banner, ScrollableFrame

# (work, done, failed): the window's worker thread, with results back on the Tk thread.
Done = Callable[[Any], None]
Failed = Callable[[Exception], None]
InBackground = Callable[[Callable[[], Any], Done, Failed], None]
OpenTarget = Callable[[str], None]
ACTION_ROWS = 3  # the buttons, their hint and the banner with their answer


class AboutTab(ttk.Frame):
    """A two-column list; values are read-only entries so an admin can copy a path."""

    def __init__(
        self,
        parent: tk.Misc,
        rows: list[tuple[str, str]],
        settings_path: Path,
        in_background: InBackground,
        open_target: OpenTarget,
    ) -> None:
        super().__init__(parent)
        self.settings_path, self.in_background = settings_path, in_background
        self.open_target = open_target
        self.halo_url = ""
        scroller = ScrollableFrame(self)  # the version list outgrows a small window
        scroller.pack(fill="both", expand=True)
        body = self.body = scroller.body
        body.configure(padding=PAD * 2)
        body.columnconfigure(1, weight=1)
        self.values: dict[str, tk.StringVar] = {}
        # The actions first: with the version list below, their answer is never cut off.
        self._build_actions()
        for row, (label, value) in enumerate(rows, start=ACTION_ROWS):
            ttk.Label(body, text=label).grid(row=row, column=0, sticky="w", padx=(0, PAD), pady=2)
            variable = tk.StringVar(self, value=value)
            entry = ttk.Entry(body, textvariable=variable, state="readonly", takefocus=False)
            entry.grid(row=row, column=1, sticky="ew", pady=2)
            self.values[label] = variable

    def _build_actions(self) -> None:
        buttons = ttk.Frame(self.body)
        buttons.grid(row=0, column=0, columnspan=2, sticky="w")
        self.open_halo_button = ttk.Button(buttons, text="Open Halo", command=self.open_halo)
        self.open_halo_button.grid(row=0, column=0, padx=(0, PAD))
        self.copy_button = ttk.Button(buttons, text="Copy diagnostics", command=self.copy)
        self.copy_button.grid(row=0, column=1, padx=(0, PAD))
        self.save_button = ttk.Button(
            buttons, text="Save diagnostics bundle…", command=self.ask_and_save
        )
        self.save_button.grid(row=0, column=2)
        ttk.Label(
            self.body,
            text="The bundle holds the versions, the settings with every secret removed, the "
            "last runs and the newest logs: attach it to a support ticket.",
            foreground=HINT_TEXT,
            wraplength=700,
            justify="left",
        ).grid(row=1, column=0, columnspan=2, sticky="w", pady=(PAD, 0))
        self.result = Banner(self.body, wraplength=740)
        self.result.grid(row=2, column=0, columnspan=2, sticky="ew", pady=(PAD, PAD))

    def update_rows(self, rows: list[tuple[str, str]], halo_url: str = "") -> None:
        """Refresh after a save (the logs folder may have moved, the Halo URL changed)."""
        for label, value in rows:
            if label in self.values:
                self.values[label].set(value)
        self.halo_url = halo_url
        self.open_halo_button.state(["!disabled"] if halo_url else ["disabled"])

    def open_halo(self) -> None:
        if self.halo_url:
            self.open_target(self.halo_url)

    def copy(self) -> None:
        """The diagnostics as text (no logs) on the clipboard, for a chat or an e-mail."""
        self.result.show("Collecting diagnostics…", "busy")
        self.in_background(
            lambda: collect(self.settings_path).as_text(), self._copied, self._failed
        )

    def _copied(self, text: str) -> None:
        self.clipboard_clear()
        self.clipboard_append(text)
        self.result.show(
            f"Copied the diagnostics ({len(text.splitlines())} lines, secrets removed).", "ok"
        )

    def ask_and_save(self) -> None:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        chosen = filedialog.asksaveasfilename(
            parent=self,
            title="Save diagnostics bundle",
            initialdir=str(Path.home()),
            initialfile=f"halo-integrator-diagnostics-{stamp}.zip",
            defaultextension=".zip",
            filetypes=[("Zip archive", "*.zip")],
        )
        if chosen:
            self.save_bundle(Path(chosen))

    def save_bundle(self, target: Path) -> None:
        """Write the bundle to ``target`` on a worker thread, then say where it is."""
        self.result.show("Writing the diagnostics bundle…", "busy")
        self.in_background(
            lambda: write_bundle(self.settings_path, target), self._saved, self._failed
        )

    def _saved(self, path: Path) -> None:
        self.result.show(f"Saved {path}: attach it to the support ticket.", "ok")

    def _failed(self, error: Exception) -> None:
        self.result.show(f"No diagnostics: {error}", "error")
