"""Integrations: every module the agent knows, with Enabled, interval and its own options.

The option widgets come from each module's options schema, so a new module appears here
without any dialog code; the tab scrolls once there are more than fit.
"""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk

from core.modules.options import describe
from core.modules.registry import MODULES
from tray_agent.settings_dialog.form import ModuleForm, Problems
from tray_agent.settings_dialog.option_fields import OptionField
from tray_agent.settings_dialog.widgets import HINT_TEXT, PAD, FieldMessage, ScrollableFrame


class ModuleSection(ttk.LabelFrame):
    """One module: Enabled, Interval, then a row per option."""

    def __init__(self, parent: tk.Misc, form: ModuleForm) -> None:
        cls = MODULES[form.name]
        super().__init__(parent, text=f"{cls.display_name} ({form.name})", padding=PAD)
        self.name = form.name
        self.columnconfigure(1, weight=1)
        ttk.Label(self, text=cls.description, foreground=HINT_TEXT).grid(
            row=0, column=0, columnspan=3, sticky="w", pady=(0, PAD)
        )
        self.enabled = tk.BooleanVar(self, value=form.enabled)
        ttk.Checkbutton(self, text="Enabled", variable=self.enabled).grid(
            row=1, column=0, sticky="w", pady=2
        )
        interval_row = ttk.Frame(self)
        interval_row.grid(row=1, column=1, columnspan=2, sticky="w")
        ttk.Label(interval_row, text="Runs every").grid(row=0, column=0, padx=(0, PAD))
        self.interval = tk.StringVar(self, value=form.interval)
        ttk.Entry(interval_row, textvariable=self.interval, width=14).grid(row=0, column=1)
        ttk.Label(interval_row, text="5m, 1h, 2d or daily@02:00", foreground=HINT_TEXT).grid(
            row=0, column=2, padx=PAD
        )
        self.interval_message = FieldMessage(self)
        self.interval_message.grid(row=2, column=1, columnspan=2, sticky="w")
        self.fields: dict[str, OptionField] = {}
        row = 3
        for info in describe(cls.Options):
            self.fields[info.name] = OptionField(self, info, form.options.get(info.name), row)
            row += 2

    def form(self) -> ModuleForm:
        options = {name: field.value() for name, field in self.fields.items()}
        return ModuleForm(self.name, self.enabled.get(), self.interval.get(), options)

    def show_problems(self, problems: Problems) -> None:
        self.interval_message.show(problems.get(f"{self.name}.Interval"))
        for name, field in self.fields.items():
            field.show_problem(problems.get(f"{self.name}.Options.{name}"))


class IntegrationsTab(ttk.Frame):
    """All module sections, in registry order."""

    def __init__(self, parent: tk.Misc, forms: list[ModuleForm]) -> None:
        super().__init__(parent)
        scroller = ScrollableFrame(self)
        scroller.pack(fill="both", expand=True)
        scroller.body.columnconfigure(0, weight=1)
        ttk.Label(
            scroller.body,
            text="A field marked * is required for an enabled module. Save applies the changes.",
            foreground=HINT_TEXT,
        ).grid(row=0, column=0, sticky="w", pady=(0, PAD))
        self.sections = [ModuleSection(scroller.body, form) for form in forms]
        for row, section in enumerate(self.sections, start=1):
            section.grid(row=row, column=0, sticky="ew", pady=(0, PAD))

    def forms(self) -> list[ModuleForm]:
        return [section.form() for section in self.sections]

    def show_problems(self, problems: Problems) -> None:
        for section in self.sections:
            section.show_problems(problems)
