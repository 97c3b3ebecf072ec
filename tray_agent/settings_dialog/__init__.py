"""The settings dialog: Basic Configuration, Integrations, Processing and About tabs.

Two entry points: ``open_settings_window`` for the tray (its Tk root, its agent, its
workers) and ``run_settings_dialog`` for ``halo-integrator settings``. tkinter is imported
only when a window opens, so importing the form logic (``form``) needs no Tk and no display.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tkinter

    from core.agent import Agent

__all__ = ["open_settings_window", "run_settings_dialog"]

WORKER_JOIN_SECONDS = 30.0


def open_settings_window(
    root: tkinter.Tk,
    agent: Agent,
    *,
    run_now: Callable[[list[str] | None], object] | None = None,
    on_saved: Callable[[], None] | None = None,
) -> tkinter.Toplevel:
    """Open the settings window on the tray's Tk thread, or focus the one already open.

    ``run_now(names)`` starts modules on the caller's workers (None = all enabled); without
    it the window runs ``agent.run`` on its own thread. ``on_saved`` follows every Save.
    """
    from tray_agent.settings_dialog.window import open_window

    return open_window(root, agent, run_now=run_now, on_saved=on_saved).top


def run_settings_dialog(settings_path: str | None) -> int:
    """``halo-integrator settings``: the window on a hidden root until it is closed.

    A missing settings file opens an empty form; an invalid one opens an empty form with the
    problem (file, line, field) shown, and is only replaced when the admin saves. When a tray
    runs for the folder, its window opens instead: two editors of one file would each save
    over the other's changes.
    """
    import tkinter

    from core.agent import Agent
    from core.settings.model import resolve_settings_path
    from tray_agent.settings_dialog.window import open_window
    from tray_agent.single_instance import SingleInstance

    folder = resolve_settings_path(settings_path).parent
    if folder.is_dir() and SingleInstance(folder).ask_first_instance():
        print(f"The tray for {folder} is running; showing its settings window.")
        return 0

    try:
        root = tkinter.Tk(className="halo-integrator-settings")
    except tkinter.TclError as exc:
        print(f"Cannot open the settings window: {exc}", file=sys.stderr)
        return 1
    root.withdraw()
    window = open_window(root, Agent(settings_path, origin="settings"), on_closed=root.quit)
    root.mainloop()
    root.destroy()
    for worker in window.workers:  # let a run that is still going reach its end (bounded)
        worker.join(WORKER_JOIN_SECONDS)
    return 0
