"""A small question window with a few buttons, answered through a callback.

Not ``tkinter.messagebox``: that one runs a nested event loop until it is answered, which
would stall the tray's inbox (icon updates, other windows) behind the question, and cannot be
answered by a test in the same process. This one is an ordinary Toplevel over its parent;
the answer arrives as ``on_answer(label)``, or ``on_answer(None)`` when it is closed.
"""

from __future__ import annotations

import functools
import tkinter as tk
from collections.abc import Callable, Sequence
from tkinter import ttk

from tray_agent.settings_dialog.widgets import PAD


class ChoiceDialog:
    def __init__(
        self,
        parent: tk.Misc,
        title: str,
        text: str,
        choices: Sequence[str],
        on_answer: Callable[[str | None], None],
    ) -> None:
        self.on_answer = on_answer
        self.top = tk.Toplevel(parent)
        self.top.title(title)
        self.top.transient(parent.winfo_toplevel())
        self.top.protocol("WM_DELETE_WINDOW", lambda: self.answer(None))
        self.top.bind("<Escape>", lambda _event: self.answer(None))
        body = ttk.Frame(self.top, padding=PAD * 2)
        body.pack(fill="both", expand=True)
        self.text = ttk.Label(body, text=text, wraplength=520, justify="left")
        self.text.grid(row=0, column=0, columnspan=len(choices), sticky="w", pady=(0, PAD * 2))
        self.buttons: dict[str, ttk.Button] = {}
        for column, label in enumerate(choices):
            button = ttk.Button(
                body, text=label, underline=0, command=functools.partial(self.answer, label)
            )
            button.grid(row=1, column=column, padx=(0, PAD), sticky="w")
            self.buttons[label] = button
            # Alt + the underlined letter answers, as in the main window's tabs.
            self.top.bind(f"<Alt-{label[0].lower()}>", functools.partial(_invoke, button))
        parent_top = parent.winfo_toplevel()
        self.top.geometry(f"+{parent_top.winfo_rootx() + 60}+{parent_top.winfo_rooty() + 60}")
        self.buttons[choices[0]].focus_set()

    def exists(self) -> bool:
        return bool(self.top.winfo_exists())

    def answer(self, label: str | None) -> None:
        self.top.destroy()
        self.on_answer(label)


def _invoke(button: ttk.Button, _event: object) -> None:
    button.invoke()
