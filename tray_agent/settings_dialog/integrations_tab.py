"""Integrations: every configured module instance, with Enabled, interval and its own options.

The option widgets come from each module type's options schema, so a new module type appears
here without any dialog code. Instances are added (type + name) and removed here; each one
can check its source, or preview what a run would change (a dry run), before it is saved.
The tab scrolls once there are more than fit.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import ttk

from core.modules.options import describe
from core.modules.registry import MODULES
from core.run.checks import SourceCheck
from tray_agent.settings_dialog.form import (
    ModuleForm,
    Problems,
    module_form,
    new_instance_problem,
    option_problem,
)
from tray_agent.settings_dialog.option_fields import OptionField
from tray_agent.settings_dialog.preview import PreviewBox
from tray_agent.settings_dialog.widgets import (
    ERROR_TEXT,
    HINT_TEXT,
    OK_TEXT,
    PAD,
    FieldMessage,
    ScrollableFrame,
)

CheckSource = Callable[["ModuleSection"], None]


class ModuleSection(ttk.LabelFrame):
    """One instance: Enabled, Interval, a row per option, then Check source and Remove."""

    def __init__(
        self,
        parent: tk.Misc,
        form: ModuleForm,
        on_check: CheckSource,
        on_remove: Callable[[ModuleSection], None],
        folder: Path | None = None,
        on_preview: CheckSource | None = None,
    ) -> None:
        cls = MODULES[form.type]
        self.on_preview: CheckSource = on_preview or (lambda _section: None)
        title = cls.display_name if form.name == form.type else f"{cls.display_name}: {form.name}"
        super().__init__(parent, text=title, padding=PAD)
        self.name, self.type = form.name, form.type
        self.columnconfigure(1, weight=1)
        description = cls.description
        if missing := cls.missing_extra():
            description += f" This installation {missing}."
        ttk.Label(self, text=description, foreground=HINT_TEXT, wraplength=700).grid(
            row=0, column=0, columnspan=3, sticky="w", pady=(0, PAD)
        )
        # Enabled and the interval sit in the options' three columns (label, input, help).
        self.enabled = tk.BooleanVar(self, value=form.enabled)
        ttk.Checkbutton(self, text="Enabled", variable=self.enabled).grid(
            row=1, column=0, columnspan=2, sticky="w", pady=4
        )
        ttk.Label(self, text="Runs every").grid(
            row=2, column=0, sticky="nw", padx=(0, PAD), pady=(7, 4)
        )
        self.interval = tk.StringVar(self, value=form.interval)
        ttk.Entry(self, textvariable=self.interval, width=14).grid(
            row=2, column=1, sticky="nw", pady=4
        )
        ttk.Label(self, text="5m, 1h, 2d or daily@02:00", foreground=HINT_TEXT).grid(
            row=2, column=2, sticky="nw", padx=(PAD, 0), pady=(7, 4)
        )
        self.interval_message = FieldMessage(self)
        self.interval_message.grid(row=3, column=1, columnspan=2, sticky="w")
        self.interval_message.grid_remove()  # takes room only while it says something
        self.fields: dict[str, OptionField] = {}
        row = 4
        for info in describe(cls.Options):
            self.fields[info.name] = OptionField(
                self,
                info,
                form.options.get(info.name),
                row,
                check_json=lambda name, text: option_problem(self.type, name, text),
                folder=folder,
            )
            row += 2
        self._build_actions(row, on_check, on_remove)
        self._watch_what_options_depend_on()

    def _watch_what_options_depend_on(self) -> None:
        """Hide the options that do not apply (``applies_when``) and follow every change of
        the options they depend on (the asset type shows when Rows are becomes assets)."""
        watched = {other for f in self.fields.values() for other, _ in f.info.applies_when}
        for name in watched & set(self.fields):
            self.fields[name].variable.trace_add("write", lambda *_: self.apply_visibility())
        self.apply_visibility()

    def apply_visibility(self) -> None:
        values = {name: field.value() for name, field in self.fields.items()}
        for field in self.fields.values():
            field.show(field.info.applies(values))

    def _build_actions(
        self, row: int, on_check: CheckSource, on_remove: Callable[[ModuleSection], None]
    ) -> None:
        actions = ttk.Frame(self)
        actions.grid(row=row, column=0, columnspan=3, sticky="ew", pady=(PAD, 0))
        actions.columnconfigure(2, weight=1)
        self.check_button = ttk.Button(actions, text="Check source", command=lambda: on_check(self))
        self.check_button.grid(row=0, column=0, sticky="w")
        self.preview_button = ttk.Button(
            actions, text="Preview", command=lambda: self.on_preview(self)
        )
        self.preview_button.grid(row=0, column=1, sticky="w", padx=(PAD, 0))
        self.check_result = ttk.Label(actions, text="", wraplength=460, justify="left")
        self.check_result.grid(row=0, column=2, sticky="w", padx=PAD)
        ttk.Button(actions, text="Remove", command=lambda: on_remove(self)).grid(
            row=0, column=3, sticky="e"
        )
        self.preview = PreviewBox(self)
        self.preview.grid(row=row + 1, column=0, columnspan=3, sticky="ew", pady=(PAD, 0))
        self.preview.grid_remove()  # until the first Preview

    def form(self) -> ModuleForm:
        options = {name: field.value() for name, field in self.fields.items()}
        return ModuleForm(self.name, self.enabled.get(), self.interval.get(), options, self.type)

    def set_form(self, form: ModuleForm) -> None:
        """Show ``form`` (values reloaded from the file); unchanged fields are left alone."""
        if self.enabled.get() != form.enabled:
            self.enabled.set(form.enabled)
        if self.interval.get() != form.interval:
            self.interval.set(form.interval)
        for name, value in form.options.items():
            if name in self.fields:
                self.fields[name].set_value(value)

    def show_problems(self, problems: Problems) -> None:
        interval_problem = problems.get(f"{self.name}.Interval")
        self.interval_message.show(interval_problem)
        if interval_problem:
            self.interval_message.grid()
        else:
            self.interval_message.grid_remove()
        prefix = f"{self.name}.Options."
        for name, field in self.fields.items():
            own = [
                f"{key[len(prefix) :]}: {message}" if key != prefix + name else message
                for key, message in problems.items()
                if key == prefix + name or key.startswith((f"{prefix}{name}[", f"{prefix}{name}."))
            ]
            field.show_problem("; ".join(own) or None)

    def previewing(self) -> None:
        self.preview_button.state(["disabled"])
        self.preview.grid()
        self.preview.show("Previewing: reading the source and Halo, writing nothing…", "busy")

    def show_preview(self, text: str, ok: bool) -> None:
        self.preview_button.state(["!disabled"])
        self.preview.grid()
        self.preview.show(text, "ok" if ok else "error")

    def checking(self) -> None:
        self.check_button.state(["disabled"])
        self.check_result.configure(text="Checking…", foreground=HINT_TEXT)

    def show_check(self, check: SourceCheck) -> None:
        self.check_button.state(["!disabled"])
        mark = "✔" if check.ok else "✘"
        self.check_result.configure(
            text=f"{mark} {check.message}", foreground=OK_TEXT if check.ok else ERROR_TEXT
        )


class IntegrationsTab(ttk.Frame):
    """The instance sections, then a row to add another instance of any type."""

    def __init__(
        self,
        parent: tk.Misc,
        forms: list[ModuleForm],
        on_check: CheckSource,
        folder: Path | None = None,
        on_preview: CheckSource | None = None,
    ) -> None:
        super().__init__(parent)
        self.on_check, self.folder, self.on_preview = on_check, folder, on_preview
        self.removed: list[str] = []
        self.scroller = ScrollableFrame(self)
        self.scroller.pack(fill="both", expand=True)
        self.body = self.scroller.body
        self.body.columnconfigure(0, weight=1)
        ttk.Label(
            self.body,
            text="A field marked * is required for an enabled module. Save applies the changes.",
            foreground=HINT_TEXT,
        ).grid(row=0, column=0, sticky="w", pady=(0, PAD))
        self.sections = [self._section(form) for form in forms]
        self._build_add_row()
        self._layout()

    def _section(self, form: ModuleForm) -> ModuleSection:
        return ModuleSection(
            self.body, form, self.on_check, self.remove, self.folder, self.on_preview
        )

    def _build_add_row(self) -> None:
        self.add_row = ttk.LabelFrame(self.body, text="Add an integration", padding=PAD)
        types = list(MODULES)
        self.new_type = tk.StringVar(self, value=types[0] if types else "")
        ttk.Combobox(
            self.add_row, textvariable=self.new_type, values=types, state="readonly", width=16
        ).grid(row=0, column=0, padx=(0, PAD))
        ttk.Label(self.add_row, text="named").grid(row=0, column=1, padx=(0, PAD))
        self.new_name = tk.StringVar(self, value="")
        ttk.Entry(self.add_row, textvariable=self.new_name, width=24).grid(row=0, column=2)
        ttk.Button(self.add_row, text="Add", command=self.add_from_row).grid(
            row=0, column=3, padx=PAD
        )
        self.add_message = FieldMessage(self.add_row, wraplength=600)
        self.add_message.grid(row=1, column=0, columnspan=4, sticky="w")

    def _layout(self) -> None:
        for row, section in enumerate(self.sections, start=1):
            section.grid(row=row, column=0, sticky="ew", pady=(0, PAD))
        self.add_row.grid(row=len(self.sections) + 1, column=0, sticky="ew", pady=(PAD, 0))

    def add_from_row(self) -> None:
        type_name = self.new_type.get()
        name = self.new_name.get().strip() or type_name
        problem = new_instance_problem(name, [section.name for section in self.sections])
        self.add_message.show(problem)
        if problem is None:
            self.add(type_name, name)
            self.new_name.set("")

    def add(self, type_name: str, name: str) -> ModuleSection:
        """A new, enabled instance (saved with the rest on Save)."""
        form = module_form(name, None, type_name)
        form.enabled = True
        section = self._section(form)
        self.sections.append(section)
        if name in self.removed:
            self.removed.remove(name)
        self._layout()
        return section

    def remove(self, section: ModuleSection) -> None:
        """Drop an instance; Save removes it from the settings and forgets its state."""
        self.sections.remove(section)
        self.removed.append(section.name)
        section.destroy()
        self._layout()

    def forms(self) -> list[ModuleForm]:
        return [section.form() for section in self.sections]

    def set_forms(self, forms: list[ModuleForm]) -> None:
        """Show these instances: update the sections kept, add new ones, drop the others
        (an instance removed elsewhere is not the admin's removal: its state is not forgotten
        by this dialog's Save)."""
        wanted = {form.name: form for form in forms}
        for section in [section for section in self.sections if section.name not in wanted]:
            self.sections.remove(section)
            section.destroy()
        shown = {section.name: section for section in self.sections}
        for form in forms:
            if form.name in shown:
                shown[form.name].set_form(form)
            elif form.type in MODULES:
                self.sections.append(self._section(form))
        self._layout()

    def show_problems(self, problems: Problems) -> None:
        for section in self.sections:
            section.show_problems(problems)
