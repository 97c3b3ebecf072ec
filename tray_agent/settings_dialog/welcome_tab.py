"""Welcome: the first-run path, shown first while nothing is configured.

A new admin has the dialog and a Halo instance, and no idea which Halo screen has the client
ID. The tab says where it is (Configuration > Integrations > Halo Integrator), then leads
through the four steps that end in a first sync: connect and Validate, pick a module, Save,
run. Each step is ticked when the window sees it done (``show_progress``), and its button
jumps to the tab where it happens.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from dataclasses import dataclass
from tkinter import ttk
from typing import TYPE_CHECKING

from tray_agent.settings_dialog.widgets import HINT_TEXT, OK_TEXT, PAD

if TYPE_CHECKING:
    from tray_agent.settings_dialog.window import SettingsWindow

BUTTON_CHARACTERS = 20
WHERE_IN_HALO = (
    "In Halo, open Configuration > Integrations > Halo Integrator. It shows the API URL "
    "(your instance address, e.g. https://acme.halopsa.com) and the Client ID; press "
    "Generate Client Secret and copy the secret at once (Halo shows it only then). The "
    "agent named there is who this integrator logs in as: give it the permissions your "
    "modules need (users, sites, assets, tickets)."
)


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    text: str
    button: str


STEPS = (
    Step(
        "connect",
        "1. Connect to Halo",
        WHERE_IN_HALO + " Paste the three values on Basic Configuration.",
        "Enter the connection",
    ),
    Step(
        "validate",
        "2. Validate",
        "Validate (Alt+V) checks the address, the client ID and secret, and the agent.",
        "Validate now",
    ),
    Step(
        "module",
        "3. Pick a module",
        "On Integrations, tick Enabled for what to sync (a CSV file, a directory, Entra ID, "
        "a mailbox, Lansweeper or another database, the scripts Halo queues), fill in its "
        "fields, and press Preview to see what it would change.",
        "Choose a module",
    ),
    Step(
        "save",
        "4. Save, then the first run",
        "Save (Ctrl+S) writes the settings; then Run now starts the first sync, and the "
        "tray keeps it on schedule.",
        "Save",
    ),
)


@dataclass(frozen=True)
class Progress:
    """Which steps are done, as the window sees them."""

    connect: bool = False
    validate: bool = False
    module: bool = False
    save: bool = False


class WelcomeTab(ttk.Frame):
    """The four steps, each with a tick when done and a button to the place it happens."""

    def __init__(self, parent: tk.Misc, actions: dict[str, Callable[[], None]]) -> None:
        super().__init__(parent, padding=PAD * 2)
        self.columnconfigure(1, weight=1)
        ttk.Label(self, text="Welcome to Halo Integrator", font="TkHeadingFont").grid(
            row=0, column=0, columnspan=3, sticky="w"
        )
        ttk.Label(
            self,
            text="It keeps Halo up to date with your local data: users and assets from files, "
            "directories and databases, tickets from a mailbox, and it runs the scripts Halo "
            "queues. Four steps to the first sync:",
            wraplength=740,
            justify="left",
        ).grid(row=1, column=0, columnspan=3, sticky="w", pady=(PAD, PAD * 2))
        self.marks: dict[str, ttk.Label] = {}
        self.buttons: dict[str, ttk.Button] = {}
        for index, step in enumerate(STEPS):
            self._add_step(2 + index * 2, step, actions[step.key])

    def _add_step(self, row: int, step: Step, action: Callable[[], None]) -> None:
        mark = ttk.Label(self, text="○", foreground=HINT_TEXT, width=2, font="TkHeadingFont")
        mark.grid(row=row, column=0, sticky="nw", pady=(PAD, 0))
        ttk.Label(self, text=step.title, font="TkHeadingFont").grid(
            row=row, column=1, sticky="w", pady=(PAD, 0)
        )
        button = ttk.Button(self, text=step.button, width=BUTTON_CHARACTERS, command=action)
        button.grid(row=row, column=2, sticky="e", pady=(PAD, 0))
        ttk.Label(self, text=step.text, wraplength=620, justify="left").grid(
            row=row + 1, column=1, columnspan=2, sticky="w"
        )
        self.marks[step.key], self.buttons[step.key] = mark, button

    def show_progress(self, progress: Progress) -> None:
        """Tick the steps done; the first one not done is where the admin is."""
        for step in STEPS:
            done = bool(getattr(progress, step.key))
            self.marks[step.key].configure(
                text="✔" if done else "○", foreground=OK_TEXT if done else HINT_TEXT
            )

    def done(self) -> list[str]:
        """The keys of the steps ticked (for tests and the log)."""
        return [key for key, mark in self.marks.items() if mark.cget("text") == "✔"]


class FirstRunGuide:
    """The welcome tab of one window (when nothing is configured) and what ticks its steps."""

    def __init__(self, window: SettingsWindow, *, show: bool) -> None:
        self.window = window
        self.validated = False
        self.tab: WelcomeTab | None = None
        if not show:
            return
        notebook = window.notebook
        self.tab = WelcomeTab(
            notebook,
            {
                "connect": self._enter_connection,
                "validate": self._validate,
                "module": lambda: notebook.select(window.integrations),
                "save": window.save,
            },
        )
        notebook.add(self.tab, text="Welcome", underline=0)
        notebook.bind("<<NotebookTabChanged>>", lambda _event: self.show_progress(), add="+")

    def select(self) -> None:
        if self.tab is not None:
            self.window.notebook.select(self.tab)

    def _enter_connection(self) -> None:
        self.window.notebook.select(self.window.basic)
        self.window.basic.entries["url"].focus_set()

    def _validate(self) -> None:
        self.window.notebook.select(self.window.basic)  # where the result shows
        self.window.validate()

    def show_progress(self) -> None:
        """Tick the steps the admin has done (the window calls it after each of them)."""
        if self.tab is None:
            return
        window = self.window
        typed, stored = window.basic.form(), window.stored
        has_secret = bool(typed.client_secret or (stored and stored.halo.client_secret))
        self.tab.show_progress(
            Progress(
                connect=bool(typed.url.strip() and typed.client_id.strip() and has_secret),
                validate=self.validated,
                module=any(form.enabled for form in window.integrations.forms()),
                save=bool(stored and any(module.enabled for module in stored.modules)),
            )
        )
