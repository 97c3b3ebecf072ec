"""The settings window's bottom row: the status line, Run now (after a save enabled a module),
Save and Close."""

from __future__ import annotations

import logging
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from core.run.logs import RedactingFormatter
from tray_agent.settings_dialog.widgets import PAD, Banner

TAIL_FORMAT = "%(asctime)s %(levelname)-7s %(message)s"


class Footer(ttk.Frame):
    def __init__(
        self,
        parent: tk.Misc,
        save: Callable[[], None],
        close: Callable[[], None],
        start: Callable[[list[str]], None],
    ) -> None:
        super().__init__(parent)
        self.start = start
        self.columnconfigure(0, weight=1)
        self.status = Banner(self, wraplength=420)  # beside Run now, Save and Close
        self.status.grid(row=0, column=0, sticky="ew")
        # Shown after a save enabled a module: its first run need not wait for the schedule.
        self.run_new_button = ttk.Button(self, text="Run now")
        self.run_new_button.grid(row=0, column=1, padx=(PAD, 0))
        self.run_new_button.grid_remove()
        self.save_button = ttk.Button(self, text="Save", command=save)
        self.save_button.grid(row=0, column=2, padx=PAD)
        ttk.Button(self, text="Close", command=close).grid(row=0, column=3)

    def offer_first_run(self, names: list[str]) -> None:
        """Modules this save enabled have not synced anything: offer their first run now."""
        if not names:
            self.run_new_button.grid_remove()
            return
        listed = ", ".join(names)
        self.status.show(
            f"Saved. {listed}: enabled, not run yet. Run now, or wait for the schedule.", "ok"
        )

        def run_now() -> None:
            self.run_new_button.grid_remove()
            self.start(names)
            self.status.show(f"Started {listed}: see the Processing tab.", "ok")

        self.run_new_button.configure(text=f"Run {listed} now", command=run_now)
        self.run_new_button.grid()


class TailHandler(logging.Handler):
    """Hands every formatted engine log line to the window's inbox (any thread may log)."""

    def __init__(self, deliver: Callable[[str], None]) -> None:
        super().__init__(logging.INFO)
        self.deliver = deliver
        self.setFormatter(RedactingFormatter(TAIL_FORMAT, datefmt="%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.deliver(self.format(record))
        except Exception:  # a broken handler must not break the code that logged
            self.handleError(record)
