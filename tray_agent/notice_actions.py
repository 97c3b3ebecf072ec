"""The buttons a notice offers, where the notification service has actions (see
``tray_agent.desktop_notifications``): each leads to what the admin needs next.

An error opens the module's newest run log (also a click on the notification) or Settings;
a refused mass deactivation offers to run once with the guard released, saying how many
records that deactivates; a settings problem opens Settings. Every one of them is in the
tray menu too, for platforms without actions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tray_agent.desktop_notifications import DEFAULT_ACTION, Action
from tray_agent.notifier import ERROR, REFUSED, SETTINGS, STALE, Notice

if TYPE_CHECKING:
    from tray_agent.app import TrayApp


def notice_actions(app: TrayApp, notice: Notice) -> tuple[Action, ...]:
    module = notice.module
    open_log = Action(DEFAULT_ACTION, "Open log", lambda: app.open_module_log(module))
    settings = Action("settings", "Settings…", lambda: app.tk_inbox.post(app.show_settings))
    if notice.kind == REFUSED:
        count = app.view.refusals.get(module, 0)
        return (
            Action("allow-once", allow_once_label(module, count), lambda: app.allow_once(module)),
            open_log,
        )
    if notice.kind in (ERROR, STALE):
        return (open_log, settings)
    if notice.kind == SETTINGS:
        return (Action(DEFAULT_ACTION, "Settings…", settings.run),)
    return ()


def allow_once_label(module: str, count: int) -> str:
    """``Allow 60 deactivations in csv once``: the consequence is in the words clicked."""
    if count <= 0:
        return f"Allow the deactivations in {module} once"
    plural = "s" if count != 1 else ""
    return f"Allow {count} deactivation{plural} in {module} once"
