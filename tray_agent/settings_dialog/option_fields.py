"""One widget per module option, chosen from the option's schema (``core.modules.options``).

str/int/float -> Entry, bool -> Checkbutton, choices -> read-only Combobox, secret -> masked
Entry (blank keeps the stored secret), list/mapping/nested -> a small JSON text box checked as
the admin types. Each field owns the red message line under it.
"""

from __future__ import annotations

import json
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk
from typing import Any

from core.modules.options import OptionInfo
from tray_agent.settings_dialog.widgets import HINT_TEXT, PAD, FieldMessage

MASK_CHARACTER = "•"


class OptionField:
    """Label, input, help and message for one option, laid out on ``row`` of a grid."""

    def __init__(
        self,
        parent: tk.Misc,
        info: OptionInfo,
        value: Any,
        row: int,
        check_json: Callable[[str, str], str | None] | None = None,
    ) -> None:
        self.info = info
        self.check_json = check_json
        self.text: tk.Text | None = None
        label = info.name.replace("_", " ") + ("" if not info.required else " *")
        ttk.Label(parent, text=label).grid(row=row, column=0, sticky="nw", padx=(0, PAD), pady=2)
        self.variable: tk.Variable
        self.input = self._make_input(parent, value)
        self.input.grid(row=row, column=1, sticky="w" if info.kind == "bool" else "ew", pady=2)
        help_text = info.help
        if info.secret:
            help_text += " Leave blank to keep the stored value."
        if info.structured and info.example is not None:
            help_text += f" JSON, e.g. {json.dumps(info.example)}"
        ttk.Label(
            parent, text=help_text, foreground=HINT_TEXT, wraplength=330, justify="left"
        ).grid(row=row, column=2, sticky="nw", padx=(PAD, 0), pady=2)
        self.message = FieldMessage(parent, wraplength=330)
        self.message.grid(row=row + 1, column=1, columnspan=2, sticky="w")

    def _make_input(self, parent: tk.Misc, value: Any) -> tk.Widget:
        info = self.info
        if info.kind == "bool":
            self.variable = tk.BooleanVar(parent, value=bool(value))
            return ttk.Checkbutton(parent, variable=self.variable)
        if info.structured:
            return self._make_json_box(parent, str(value))
        self.variable = tk.StringVar(parent, value=str(value))
        if info.choices:
            return ttk.Combobox(
                parent, textvariable=self.variable, values=info.choices, state="readonly", width=28
            )
        return ttk.Entry(
            parent,
            textvariable=self.variable,
            width=30,
            show=MASK_CHARACTER if info.secret else "",
        )

    def _make_json_box(self, parent: tk.Misc, value: str) -> tk.Widget:
        """JSON in a few lines of text, checked on every key so a typo shows at once."""
        self.variable = tk.StringVar(parent, value=value)
        self.text = tk.Text(parent, height=3, width=30, wrap="word", undo=True, font="TkFixedFont")
        self.text.insert("1.0", value)
        self.text.bind("<KeyRelease>", lambda _event: self._check_json())
        self.text.bind("<Tab>", _focus_next)
        return self.text

    def _check_json(self) -> None:
        if self.check_json is not None:
            self.show_problem(self.check_json(self.info.name, self.value()))

    def value(self) -> Any:
        """Text as typed, or a bool for a checkbox: ``form.module_from_form`` interprets it."""
        if self.text is not None:
            return self.text.get("1.0", "end-1c")
        return self.variable.get()

    def set_value(self, value: Any) -> None:
        """Show ``value`` (reloaded from the file), in the form ``value()`` returns it."""
        if self.value() == value:
            return
        if self.text is not None:
            self.text.delete("1.0", "end")
            self.text.insert("1.0", str(value))
        else:
            self.variable.set(value)

    def show_problem(self, message: str | None) -> None:
        self.message.show(message)


def _focus_next(event: tk.Event) -> str:
    """Tab in a text box moves on, as in every other input, instead of typing a tab."""
    following = event.widget.tk_focusNext()
    if following is not None:
        following.focus_set()
    return "break"
