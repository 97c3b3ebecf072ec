"""The XEmbed icon's menu and tooltip, drawn by Tk from the same pystray menu the other
backends show (``tray_menu.menu_entries``), so every backend offers the same entries.

Everything here runs on the Tk thread. The menu is built when it opens, from the view the
status thread built last; an entry's action runs on the Tk thread too, so actions stay short
(they hand runs to the scheduler, as from any backend).
"""

from __future__ import annotations

import logging
import tkinter as tk
from typing import Any, Literal

log = logging.getLogger("halo_integrator.tray")

# Instance names of the Tk windows: part of their WM_CLASS, as the icon's name is of its own.
MENU_NAME = "halo-integrator-menu"
TOOLTIP_NAME = "halo-integrator-tooltip"
TOOLTIP_DELAY_MILLISECONDS = 500
POINTER_GAP = 16


class TkTrayMenu:
    """Posts the icon's menu at the pointer and shows its title as a tooltip on hover."""

    def __init__(self, root: tk.Misc, icon_menu: Any, icon: Any = None) -> None:
        self.root = root
        self.icon_menu = icon_menu  # a pystray.Menu; its items are evaluated at each post
        self.icon = icon  # given to each action, as pystray does
        self._menus: dict[str, tk.Menu] = {}
        self._tooltip: tk.Toplevel | None = None
        self._pending: str | None = None

    def post(self, x: int, y: int) -> None:
        """Open the menu with its top-left corner at the pointer (Tk keeps it on screen)."""
        self.hide_tooltip()
        menu = self._fill(self.root, MENU_NAME, self.icon_menu)
        menu.tk_popup(x, y)
        # The tray's Tk has no window with the X focus, so Tk would send the keys to the
        # window under the pointer: with the pointer off the menu, Escape and the arrows
        # would go nowhere. The menu takes the focus itself, as GTK's does.
        menu.focus_force()

    def hover(self, x: int, y: int) -> None:
        """Show the tooltip after a moment, as GTK does, unless the pointer left by then."""
        self.hide_tooltip()
        self._pending = self.root.after(
            TOOLTIP_DELAY_MILLISECONDS, lambda: self._show_tooltip(x, y)
        )

    def hide_tooltip(self) -> None:
        if self._pending is not None:
            self.root.after_cancel(self._pending)
            self._pending = None
        if self._tooltip is not None:
            self._tooltip.destroy()
            self._tooltip = None

    def _fill(self, parent: tk.Misc, name: str, source: Any) -> tk.Menu:
        """The Tk menu ``name`` under ``parent``, emptied and filled from ``source``.

        Menus are made once and refilled, never destroyed: Tk (8.6) crashes the process when
        a menu that had the focus is destroyed and another one posted. A cascade's menu is a
        child of its menu, as Tk requires.
        """
        menu = self._menus.get(name)
        if menu is None:
            menu = tk.Menu(parent, name=name, tearoff=False)
            self._menus[name] = menu
        menu.delete(0, "end")
        for index, item in enumerate(source.items):
            if not item.visible:
                continue
            state: Literal["normal", "disabled"] = "normal" if item.enabled else "disabled"
            if item.text == "- - - -":  # pystray's Menu.SEPARATOR
                menu.add_separator()
            elif item.submenu is not None:
                child = self._fill(menu, f"{name}-{index}", item.submenu)
                menu.add_cascade(label=item.text, menu=child, state=state)
            else:
                menu.add_command(label=item.text, state=state, command=self._action(item))
        return menu

    def _action(self, item: Any) -> Any:
        def run() -> None:
            try:
                item(self.icon)
            except Exception:  # a broken action must not take the Tk loop down
                log.exception("The menu entry %r failed", item.text)

        return run

    def _show_tooltip(self, x: int, y: int) -> None:
        self._pending = None
        text = str(getattr(self.icon, "title", "") or "")
        if not text:
            return
        tooltip = tk.Toplevel(self.root, name=TOOLTIP_NAME)
        tooltip.withdraw()
        tooltip.overrideredirect(True)
        tooltip.attributes("-type", "tooltip")  # _NET_WM_WINDOW_TYPE_TOOLTIP, as GTK sets
        tk.Label(
            tooltip,
            text=text,
            justify=tk.LEFT,
            background="#ffffe1",
            foreground="#000000",
            relief=tk.SOLID,
            borderwidth=1,
            padx=6,
            pady=3,
        ).pack()
        tooltip.update_idletasks()
        width, height = tooltip.winfo_reqwidth(), tooltip.winfo_reqheight()
        screen_w, screen_h = tooltip.winfo_screenwidth(), tooltip.winfo_screenheight()
        left = min(max(0, x - width // 2), screen_w - width)
        # Below the pointer, or above it on a panel at the bottom of the screen.
        top = y + POINTER_GAP if y + POINTER_GAP + height <= screen_h else y - POINTER_GAP - height
        tooltip.geometry(f"+{left}+{max(0, top)}")
        tooltip.deiconify()
        self._tooltip = tooltip
