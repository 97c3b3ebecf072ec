"""Processing: start modules now, watch a progress bar per module, recent runs, the live log.

Everything here runs on the Tk thread: the window feeds it run events and log lines that
worker threads put on its queue.
"""

from __future__ import annotations

import time
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from core.run.health import ModuleHealth
from core.run.runner import RunEvent, summary
from tray_agent.settings_dialog.run_history import HistoryRow, RunHistory
from tray_agent.settings_dialog.widgets import BAR_STYLES, ERROR_TEXT, HINT_TEXT, OK_TEXT, PAD

LOG_TAIL_LINES = 500
BAR_LENGTH_PIXELS = 200
OUTCOME_COLOURS = {"succeeded": OK_TEXT, "failed": ERROR_TEXT, "ok": OK_TEXT, "error": ERROR_TEXT}

StartCallback = Callable[[list[str] | None], None]


class ModuleRow:
    """Tick box, progress bar and last outcome of one configured module."""

    def __init__(self, parent: tk.Misc, name: str, row: int) -> None:
        self.selected = tk.BooleanVar(parent, value=False)
        self.check = ttk.Checkbutton(parent, text=name, variable=self.selected)
        self.check.grid(row=row, column=0, sticky="w", pady=2)
        self.bar = ttk.Progressbar(
            parent, length=BAR_LENGTH_PIXELS, mode="determinate", style=BAR_STYLES["running"]
        )
        self.live = False  # True once this window saw a run: its result beats the state DB
        self.bar.grid(row=row, column=1, sticky="w", padx=PAD, pady=2)
        self.outcome = ttk.Label(parent, text="", wraplength=380, justify="left")
        self.outcome.grid(row=row, column=2, sticky="w", pady=2)
        self.widgets = (self.check, self.bar, self.outcome)

    def show(self, text: str, colour: str = "") -> None:
        self.outcome.configure(text=text, foreground=colour)

    def on_event(self, event: RunEvent) -> None:
        self.live = True
        if event.kind == "started":
            self.bar.configure(mode="indeterminate", style=BAR_STYLES["running"])
            self.bar.start(15)
            self.show("running…")
        elif event.kind == "progress" and event.total > 0:
            self.bar.stop()
            self.bar.configure(mode="determinate", maximum=event.total, value=event.done)
            self.show(f"{event.phase} {event.done}/{event.total}")
        elif event.kind == "finished" and event.result is not None:
            self.bar.stop()
            result = event.result
            style = BAR_STYLES["ok" if result.ok else "error"]
            # A failed run fills its bar too, in red: an empty bar would read as "never ran".
            self.bar.configure(mode="determinate", maximum=1, value=1, style=style)
            stamp = time.strftime("%H:%M:%S")
            detail = summary(result.counts) if result.ok else (result.error or "")
            colour = OUTCOME_COLOURS.get(result.outcome, "")
            self.show(f"{stamp} {result.outcome}: {detail}", colour)


class ProcessingTab(ttk.Frame):
    """Start buttons, module rows, and the log tail."""

    def __init__(
        self, parent: tk.Misc, start: StartCallback, open_log: Callable[[HistoryRow], None]
    ) -> None:
        super().__init__(parent, padding=PAD * 2)
        self.start = start
        self.columnconfigure(0, weight=1)
        self.rowconfigure(4, weight=1)
        buttons = ttk.Frame(self)
        buttons.grid(row=0, column=0, sticky="w")
        self.start_all_button = ttk.Button(buttons, text="Start all", command=lambda: start(None))
        self.start_all_button.grid(row=0, column=0)
        self.start_selected_button = ttk.Button(
            buttons, text="Start selected", command=self._start_selected
        )
        self.start_selected_button.grid(row=0, column=1, padx=PAD)
        self.note = ttk.Label(buttons, text="Runs use the saved settings.", foreground=HINT_TEXT)
        self.note.grid(row=0, column=2, padx=PAD)
        self.table = ttk.Frame(self)
        self.table.grid(row=1, column=0, sticky="ew", pady=PAD)
        self.history = RunHistory(self, open_log)
        self.history.grid(row=2, column=0, sticky="ew", pady=(0, PAD))
        ttk.Label(self, text="Log").grid(row=3, column=0, sticky="w")
        self.log = self._make_log()
        self.rows: dict[str, ModuleRow] = {}
        self.running: set[str] = set()

    def _make_log(self) -> tk.Text:
        frame = ttk.Frame(self)
        frame.grid(row=4, column=0, sticky="nsew")
        frame.columnconfigure(0, weight=1)
        frame.rowconfigure(0, weight=1)
        text = tk.Text(frame, height=8, wrap="word", state="disabled", font="TkFixedFont")
        scrollbar = ttk.Scrollbar(frame, orient="vertical", command=text.yview)
        text.configure(yscrollcommand=scrollbar.set)
        text.grid(row=0, column=0, sticky="nsew")
        scrollbar.grid(row=0, column=1, sticky="ns")
        return text

    def set_modules(self, names: list[str]) -> None:
        """One row per configured module; rebuilt after a save changed the list."""
        for row in self.rows.values():
            for widget in row.widgets:
                widget.destroy()
        self.rows = {name: ModuleRow(self.table, name, index) for index, name in enumerate(names)}
        self.note.configure(
            text="Runs use the saved settings."
            if names
            else "No module is configured yet: enable one on Integrations."
        )

    def show_statuses(self, statuses: list[ModuleHealth]) -> None:
        """The last outcome of each module from the state DB (tray, AUTO or CLI runs)."""
        for status in statuses:
            row = self.rows.get(status.module)
            if row is None or row.live:
                continue
            when = (
                time.strftime("%Y-%m-%d %H:%M", time.localtime(status.last_run_at))
                if status.last_run_at
                else ""
            )
            error = f": {status.last_error}" if status.health == "error" else ""
            colour = OUTCOME_COLOURS.get(status.health, "")
            row.show(f"last run {when}: {status.health}{error}" if when else "never run", colour)

    def on_event(self, event: RunEvent) -> None:
        row = self.rows.get(event.module)
        if row is not None:
            row.on_event(event)
        if event.kind == "started":
            self.running.add(event.module)
        elif event.kind == "finished":
            self.running.discard(event.module)
        self._enable_start_buttons()

    def _enable_start_buttons(self) -> None:
        """Greyed while a run is going: a second press would only be skipped (the module's
        lock) and read as if nothing happened."""
        state = ["disabled"] if self.running else ["!disabled"]
        self.start_all_button.state(state)
        self.start_selected_button.state(state)

    def append_log(self, line: str) -> None:
        self.log.configure(state="normal")
        self.log.insert("end", line + "\n")
        excess = int(self.log.index("end-1c").split(".")[0]) - LOG_TAIL_LINES
        if excess > 0:
            self.log.delete("1.0", f"{excess + 1}.0")
        self.log.configure(state="disabled")
        self.log.see("end")

    def _start_selected(self) -> None:
        names = [name for name, row in self.rows.items() if row.selected.get()]
        if names:
            self.start(names)
        else:
            self.append_log("Tick the modules to start, then press Start selected.")
