"""The tray's menu: greyed status lines first, then the actions.

pystray rebuilds the menu from these callables on every ``update_menu()``, so the lines
always show the view the status thread built last (``app.view``). Status lines are disabled
items, as Dropbox and Maestral show theirs: read at a glance, never clicked. They matter most
where the tray has no tooltip (appindicator), and say more than a tooltip anywhere. A module
whose run refused a mass deactivation gets an entry right under them that runs it once with
the guard released, naming how many records that deactivates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tray_agent.notice_actions import allow_once_label

if TYPE_CHECKING:
    from tray_agent.app import TrayApp


def menu_entries(app: TrayApp) -> list[Any]:
    """Every entry of the root menu for the current view, top to bottom."""
    item, menu = app.pystray.MenuItem, app.pystray.Menu
    status = [item(line, None, enabled=False) for line in app.view.status_lines]
    running = bool(app.scheduler.running())
    return [
        *status,
        *allow_once_entries(app),
        menu.SEPARATOR,
        # Disabled while a run is going: a second click would only be skipped as overlapping.
        item("Sync now", app.sync_now, enabled=not running),
        item("Sync module", menu(lambda: module_entries(app))),
        item("Resume schedules" if app.scheduler.paused else "Pause schedules", app.toggle_pause),
        menu.SEPARATOR,
        # Left click opens the settings where the backend has a default action.
        item("Settings…", lambda: app.tk_inbox.post(app.show_settings), default=True),
        item("View last log", app.view_last_log),
        item("Open logs folder", app.open_logs),
        menu.SEPARATOR,
        item("Quit", lambda: app.tk_inbox.post(app.quit)),
    ]


def allow_once_entries(app: TrayApp) -> list[Any]:
    """``Allow 60 deactivations in csv once`` under the status lines, per refused module, as
    ``sync csv --allow-mass-deactivation`` would; greyed while that module runs."""
    item = app.pystray.MenuItem
    running = app.scheduler.running()
    return [
        item(allow_once_label(name, count), _allow_once(app, name), enabled=name not in running)
        for name, count in sorted(app.view.refusals.items())
    ]


def module_entries(app: TrayApp) -> list[Any]:
    """One entry per enabled module: ``csv — ok · last 13:55 · next 14:55``; click to sync it."""
    item = app.pystray.MenuItem
    running = app.scheduler.running()
    entries = [
        item(line, _sync_one(app, name), enabled=name not in running)
        for name, line in sorted(app.view.module_lines.items())
    ]
    # Always a submenu, so the entries below keep their place for keyboard and muscle memory.
    return entries or [item("No module is enabled", None, enabled=False)]


def _allow_once(app: TrayApp, name: str) -> Callable[[], None]:
    def allow() -> None:
        app.allow_once(name)

    return allow


def _sync_one(app: TrayApp, name: str) -> Callable[[], None]:
    def sync() -> None:
        app.scheduler.run_now([name])

    return sync
