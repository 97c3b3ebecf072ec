"""The settings window's bottom row: the status line, Run now (after a save enabled a module),
Save and Close."""

from __future__ import annotations

import logging
import threading
import time
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from core.run.logs import RedactingFormatter
from core.run.runner import RunEvent
from tray_agent.settings_dialog.widgets import PAD, Banner

TAIL_FORMAT = "%(message)s"  # the tail adds the time, the level and the module itself
TAIL_TIME_FORMAT = "%H:%M:%S"
MODULE_LOGGERS = "halo_integrator.modules"


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
    """Hands every formatted engine log line to the window's inbox (any thread may log).

    Each line names its module (``12:00:01 INFO    hr: Read 3 rows``): the module whose run
    is going on the thread that logged (``note`` hears the run events on that same thread),
    else the one in the logger's name (``halo_integrator.modules.hr``). A Halo client retry
    logged during hr's run is then hr's too.
    """

    def __init__(self, deliver: Callable[[str], None]) -> None:
        super().__init__(logging.INFO)
        self.deliver = deliver
        self.setFormatter(RedactingFormatter(TAIL_FORMAT))
        self._running: dict[int, str] = {}  # thread id -> the module it runs

    def note(self, event: RunEvent) -> None:
        """A run event, heard on the thread that runs the module (the runner's own)."""
        if event.kind == "started":
            self._running[threading.get_ident()] = event.module
        elif event.kind == "finished":
            self._running.pop(threading.get_ident(), None)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)
            module = self._running.get(record.thread or 0) or _module_in(record.name)
            if module and not message.startswith((f"{module} ", f"{module}:")):
                message = f"{module}: {message}"
            stamp = time.strftime(TAIL_TIME_FORMAT, time.localtime(record.created))
            self.deliver(f"{stamp} {record.levelname:<7} {message}")
        except Exception:  # a broken handler must not break the code that logged
            self.handleError(record)


def _module_in(logger_name: str) -> str:
    """``halo_integrator.modules.hr`` -> hr; "" for the engine's other loggers."""
    prefix = f"{MODULE_LOGGERS}."
    return logger_name[len(prefix) :] if logger_name.startswith(prefix) else ""
