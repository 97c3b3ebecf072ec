"""Recent runs on the Processing tab: what Task Scheduler's History shows, per module.

The rows come from the shared state DB, so runs of the tray, of AUTO and of the command line
are all there: when, how long, the outcome and the counts, and the run's own log a button
away. Reading happens on a worker thread (``history_rows``); the table only shows rows.
"""

from __future__ import annotations

import time
import tkinter as tk
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from tkinter import ttk

from core.state.store import StateStore
from tray_agent.settings_dialog.widgets import PAD

RUNS_PER_MODULE = 20
ROWS_SHOWN = 40
COLUMNS = (  # (field, heading, width in pixels): the headings are bold, the values not
    ("module", "Module", 90),
    ("when", "Started", 140),
    ("duration", "Took", 65),
    ("outcome", "Outcome", 85),
    ("origin", "By", 40),
    ("created", "Created", 70),
    ("updated", "Updated", 75),
    ("deactivated", "Deactivated", 100),
    ("failed", "Failed", 60),
)


@dataclass(frozen=True)
class HistoryRow:
    module: str
    started_at: float
    finished_at: float | None
    when: str
    duration: str
    outcome: str
    origin: str
    created: int
    updated: int
    deactivated: int
    failed: int
    error: str


def history_rows(folder: Path, modules: Sequence[str]) -> list[HistoryRow]:
    """The modules' recent runs, newest first (worker thread: it reads the state DB)."""
    state = StateStore(folder)
    runs = [run for module in modules for run in state.recent_runs(module, RUNS_PER_MODULE)]
    runs.sort(key=lambda run: float(str(run["started_at"])), reverse=True)
    return [row_of(run) for run in runs[:ROWS_SHOWN]]


def row_of(run: dict[str, object]) -> HistoryRow:
    started = float(str(run["started_at"]))
    finished = run.get("finished_at")
    return HistoryRow(
        module=str(run["module"]),
        started_at=started,
        finished_at=float(str(finished)) if finished is not None else None,
        when=time.strftime("%Y-%m-%d %H:%M", time.localtime(started)),
        duration=took(float(str(finished)) - started) if finished is not None else "running",
        outcome=str(run["outcome"]),
        origin=str(run["origin"]),
        created=int(str(run.get("created") or 0)),
        updated=int(str(run.get("updated") or 0)),
        deactivated=int(str(run.get("deactivated") or 0)),
        failed=int(str(run.get("failed") or 0)),
        error=str(run.get("error") or ""),
    )


def took(seconds: float) -> str:
    """``0.4 s``, ``12 s``, ``3 min 05 s``, ``2 h 10 min``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    return f"{minutes // 60} h {minutes % 60} min"


class RunHistory(ttk.LabelFrame):
    """The table of recent runs, an Open log button, and the selected run's error."""

    def __init__(self, parent: tk.Misc, open_log: Callable[[HistoryRow], None]) -> None:
        super().__init__(parent, text="Recent runs", padding=PAD)
        self.open_log = open_log
        self.columnconfigure(0, weight=1)
        names = [name for name, _, _ in COLUMNS]
        self.table = ttk.Treeview(self, columns=names, show="headings", height=6)
        for name, heading, width in COLUMNS:
            numeric = name in ("created", "updated", "deactivated", "failed")
            self.table.heading(name, text=heading)
            self.table.column(name, width=width, anchor="e" if numeric else "w", stretch=False)
        self.table.tag_configure("failed", foreground="#b3261e")
        scrollbar = ttk.Scrollbar(self, orient="vertical", command=self.table.yview)
        self.table.configure(yscrollcommand=scrollbar.set)
        self.table.grid(row=0, column=0, columnspan=2, sticky="nsew")
        scrollbar.grid(row=0, column=2, sticky="ns")
        self.open_button = ttk.Button(self, text="Open log", command=self._open_selected)
        self.open_button.grid(row=1, column=0, sticky="w", pady=(PAD, 0))
        self.detail = ttk.Label(self, text="", wraplength=620, justify="left")
        self.detail.grid(row=1, column=1, sticky="w", padx=PAD, pady=(PAD, 0))
        self.table.bind("<<TreeviewSelect>>", lambda _event: self._show_detail())
        self.table.bind("<Double-1>", lambda _event: self._open_selected())
        self.rows: dict[str, HistoryRow] = {}

    def show(self, rows: list[HistoryRow]) -> None:
        """Replace the table's rows, keeping the selection on the same run if it is there."""
        selected = self.selected()
        self.table.delete(*self.table.get_children())
        self.rows = {}
        for row in rows:
            values = [getattr(row, name) for name, _, _ in COLUMNS]
            tags = ("failed",) if row.outcome in ("failed", "refused", "interrupted") else ()
            item = self.table.insert("", "end", values=values, tags=tags)
            self.rows[item] = row
            if selected is not None and (row.module, row.started_at) == (
                selected.module,
                selected.started_at,
            ):
                self.table.selection_set(item)
        if rows and not self.table.selection():
            self.table.selection_set(next(iter(self.rows)))
        self._show_detail()

    def selected(self) -> HistoryRow | None:
        chosen = self.table.selection()
        return self.rows.get(chosen[0]) if chosen else None

    def _show_detail(self) -> None:
        row = self.selected()
        self.detail.configure(text=row.error if row is not None else "")

    def _open_selected(self) -> None:
        row = self.selected()
        if row is not None:
            self.open_log(row)
