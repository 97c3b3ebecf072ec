"""One widget per module option, chosen from the option's schema (``core.modules.options``).

str/int/float -> Entry, bool -> Checkbutton, choices -> read-only Combobox, secret -> masked
Entry (blank keeps the stored secret), a file or folder -> Entry and Browse…, list/mapping/
nested -> a small JSON text box checked as the admin types (or the option's text form, such
as ``A;B`` for base DNs). Each field owns the red message line under it.
"""

from __future__ import annotations

import json
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import filedialog, ttk
from typing import Any

from core.modules.options import OptionInfo
from tray_agent.settings_dialog.widgets import HINT_TEXT, PAD, FieldMessage

MASK_CHARACTER = "•"


class OptionField:
    """Label, input, help and message for one option, laid out on ``row`` of a grid.

    The label and help come from the schema (``OptionInfo.label``, ``help``); a file or
    folder option gets a Browse… button; ``show(False)`` hides the whole row (an option that
    does not apply, e.g. the asset type of a users import) and keeps its value.
    """

    def __init__(
        self,
        parent: tk.Misc,
        info: OptionInfo,
        value: Any,
        row: int,
        check_json: Callable[[str, str], str | None] | None = None,
        folder: Path | None = None,
    ) -> None:
        self.info = info
        self.check_json = check_json
        self.folder = folder
        self.text: tk.Text | None = None
        label = info.label + ("" if not info.required else " *")
        self.label = ttk.Label(parent, text=label)
        self.label.grid(row=row, column=0, sticky="nw", padx=(0, PAD), pady=(7, 4))
        self.variable: tk.Variable
        self.input = self._make_input(parent, value)
        self.input.grid(row=row, column=1, sticky="nw" if info.kind == "bool" else "new", pady=4)
        help_text = info.help
        if info.secret:
            help_text += " Leave blank to keep the stored value."
        if info.structured and info.example is not None:
            help_text += f" JSON, e.g. {json.dumps(info.example)}"
        self.help = ttk.Label(
            parent, text=help_text, foreground=HINT_TEXT, wraplength=330, justify="left"
        )
        self.help.grid(row=row, column=2, sticky="nw", padx=(PAD, 0), pady=(7, 4))
        self.message = FieldMessage(parent, wraplength=330)
        self.message.grid(row=row + 1, column=1, columnspan=2, sticky="w")
        self.message.grid_remove()  # takes room only while it says something
        self.visible = True

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
        if info.browse:
            return self._make_browse_row(parent)
        return ttk.Entry(
            parent,
            textvariable=self.variable,
            width=30,
            show=MASK_CHARACTER if info.secret else "",
        )

    def _make_browse_row(self, parent: tk.Misc) -> tk.Widget:
        """The path entry and a Browse… button that fills it from the system's chooser."""
        row = ttk.Frame(parent)
        row.columnconfigure(0, weight=1)
        ttk.Entry(row, textvariable=self.variable, width=20).grid(row=0, column=0, sticky="ew")
        self.browse_button = ttk.Button(row, text="Browse…", width=9, command=self.browse)
        self.browse_button.grid(row=0, column=1, padx=(PAD, 0))
        return row

    def browse(self) -> None:
        """Ask for a file or folder; one inside the settings folder is kept relative to it,
        as the option's own relative paths are."""
        typed = self.variable.get().strip()
        current = Path(typed) if typed else None
        if current is not None and not current.is_absolute() and self.folder is not None:
            current = self.folder / current
        start = current.parent if current is not None else self.folder
        initial = str(start if start is not None and start.is_dir() else Path.cwd())
        if self.info.browse == "folder":
            chosen = filedialog.askdirectory(
                parent=self.input, title=self.info.label, initialdir=initial
            )
        else:
            chosen = filedialog.askopenfilename(
                parent=self.input, title=self.info.label, initialdir=initial
            )
        if chosen:
            self.variable.set(_relative_if_inside(Path(chosen), self.folder))

    def show(self, visible: bool) -> None:
        """Show or hide the row; a hidden option keeps its value (it is saved as it is)."""
        if visible == self.visible:
            return
        self.visible = visible
        for widget in (self.label, self.input, self.help):
            if visible:
                widget.grid()
            else:
                widget.grid_remove()
        self._place_message()

    def _place_message(self) -> None:
        if self.visible and self.message.cget("text"):
            self.message.grid()
        else:
            self.message.grid_remove()

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
        """The red line under the field; a problem of a hidden option shows it again."""
        self.message.show(message)
        if message and not self.visible:
            self.show(True)
        self._place_message()


def _focus_next(event: tk.Event) -> str:
    """Tab in a text box moves on, as in every other input, instead of typing a tab."""
    following = event.widget.tk_focusNext()
    if following is not None:
        following.focus_set()
    return "break"


def _relative_if_inside(path: Path, folder: Path | None) -> str:
    if folder is not None:
        try:
            return str(path.resolve().relative_to(folder.resolve()))
        except ValueError:
            pass
    return str(path)
