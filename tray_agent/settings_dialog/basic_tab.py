"""Basic Configuration: where Halo is and how the agent logs in, with Validate."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from core.halo.validate import ValidationResult
from tray_agent.settings_dialog.form import ConnectionForm, Problems
from tray_agent.settings_dialog.option_fields import MASK_CHARACTER
from tray_agent.settings_dialog.widgets import HINT_TEXT, PAD, Banner, FieldMessage

# (form attribute, label, problem key, help) in tab order.
FIELDS = (
    ("url", "Halo URL", "Halo.Url", "e.g. https://acme.halopsa.com"),
    ("client_id", "Client ID", "Halo.ClientId", "Configuration > Integrations > Halo Integrator"),
    ("client_secret", "Client secret", "Halo.ClientSecret", ""),
)
ADVANCED_FIELDS = (
    ("tenant", "Tenant", "Halo.Tenant", "hosted Halo only"),
    ("auth_url", "Auth URL", "Halo.AuthUrl", "only if Halo shows a separate auth server"),
)


class BasicTab(ttk.Frame):
    """The connection fields; ``form()`` reads them, ``show_problems`` marks them."""

    def __init__(
        self,
        parent: tk.Misc,
        form: ConnectionForm,
        has_secret: bool,
        on_validate: Callable[[], None],
    ) -> None:
        super().__init__(parent, padding=PAD * 2)
        self.columnconfigure(1, weight=1)
        self.variables: dict[str, tk.StringVar] = {}
        self.messages: dict[str, FieldMessage] = {}
        self.entries: dict[str, ttk.Entry] = {}
        row = 0
        for attribute, label, key, help_text in FIELDS:
            if attribute == "client_secret":
                help_text = (
                    "stored (encrypted); leave blank to keep it"
                    if has_secret
                    else "Generate Client Secret in Halo; it is shown once"
                )
            row = self._add_field(self, row, form, attribute, label, key, help_text)
        # The advanced fields share the main fields' grid, so their labels, entries and
        # help line up in the same three columns (a frame of their own would indent them).
        ttk.Separator(self).grid(row=row, column=0, columnspan=3, sticky="ew", pady=(PAD, 0))
        ttk.Label(self, text="Advanced (optional)", foreground=HINT_TEXT).grid(
            row=row + 1, column=0, columnspan=3, sticky="w", pady=(PAD, 2)
        )
        row += 2
        for attribute, label, key, help_text in ADVANCED_FIELDS:
            row = self._add_field(self, row, form, attribute, label, key, help_text)
        buttons = ttk.Frame(self)
        buttons.grid(row=row + 1, column=0, columnspan=3, sticky="w", pady=(PAD, 0))
        self.validate_button = ttk.Button(
            buttons, text="Validate", underline=0, command=on_validate
        )
        self.validate_button.grid(row=0, column=0)
        ttk.Label(
            buttons, text="checks the URL, the credentials and the API", foreground=HINT_TEXT
        ).grid(row=0, column=1, padx=PAD)
        self.result = Banner(self, wraplength=740)
        self.result.grid(row=row + 2, column=0, columnspan=3, sticky="ew", pady=(PAD, 0))
        self.entries["url"].focus_set()

    def _add_field(
        self,
        parent: tk.Misc,
        row: int,
        form: ConnectionForm,
        attribute: str,
        label: str,
        key: str,
        help_text: str,
    ) -> int:
        variable = tk.StringVar(self, value=getattr(form, attribute))
        entry = ttk.Entry(
            parent,
            textvariable=variable,
            width=44,
            show=MASK_CHARACTER if attribute == "client_secret" else "",
        )
        ttk.Label(parent, text=label).grid(row=row, column=0, sticky="w", padx=(0, PAD), pady=2)
        entry.grid(row=row, column=1, sticky="ew", pady=2)
        ttk.Label(parent, text=help_text, foreground=HINT_TEXT).grid(
            row=row, column=2, sticky="w", padx=(PAD, 0)
        )
        message = FieldMessage(parent)
        message.grid(row=row + 1, column=1, columnspan=2, sticky="w")
        self.variables[attribute], self.messages[key], self.entries[attribute] = (
            variable,
            message,
            entry,
        )
        return row + 2

    def form(self) -> ConnectionForm:
        return ConnectionForm(**{name: variable.get() for name, variable in self.variables.items()})

    def set_form(self, form: ConnectionForm) -> None:
        """Show ``form`` (values reloaded from the file); unchanged fields are left alone."""
        for name, variable in self.variables.items():
            if variable.get() != getattr(form, name):
                variable.set(getattr(form, name))

    def show_problems(self, problems: Problems) -> None:
        for key, message in self.messages.items():
            message.show(problems.get(key))

    def set_validating(self) -> None:
        self.validate_button.state(["disabled"])
        self.result.show("Validating…", "busy")

    def show_validation(self, result: ValidationResult) -> None:
        self.validate_button.state(["!disabled"])
        self.result.show(str(result), "ok" if result.ok else "error")

    def stored_secret_kept(self) -> None:
        """After a save the typed secret is stored: clear it so it is not kept in a widget."""
        self.variables["client_secret"].set("")
