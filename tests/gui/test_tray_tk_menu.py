"""The XEmbed tray's Tk menu and tooltip, built in this process from real pystray menus.

The tray tests drive the same menu through the docked icon; these pin what each pystray
entry becomes (greyed lines, separators, submenus) and what happens to a failing action.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tray_agent.tk_tray_menu import TOOLTIP_NAME, TkTrayMenu

from .desktop import Desktop
from .tk_pump import pump_for, pump_until

pytestmark = pytest.mark.gui


class FakeIcon:
    title = "Halo Integrator (5 Mins): ok · next run 14:55"


@pytest.fixture
def pystray(tk_root: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """pystray on tk_root's display (tk_root set DISPLAY; the xorg module opens it)."""
    monkeypatch.setenv("PYSTRAY_BACKEND", "xorg")
    import pystray

    return pystray


def entries(menu: Any) -> list[tuple[str, str, str]]:
    """(type, label, state) of each entry of a Tk menu."""
    found = []
    for index in range(int(menu.index("end")) + 1):
        kind = menu.type(index)
        if kind == "separator":
            found.append((kind, "", ""))
        else:
            found.append((kind, menu.entrycget(index, "label"), menu.entrycget(index, "state")))
    return found


def test_each_pystray_entry_becomes_the_same_tk_entry(tk_root: Any, pystray: Any) -> None:
    item, menu = pystray.MenuItem, pystray.Menu
    source = menu(
        item("csv — ok", None, enabled=False),
        menu.SEPARATOR,
        item("Sync now", lambda: None, enabled=False),
        item("Sync module", menu(lambda: [item("csv", lambda: None)])),
        item("Hidden", lambda: None, visible=False),
        item("Quit", lambda: None),
    )
    tk_menu = TkTrayMenu(tk_root, source, FakeIcon())
    built = tk_menu._fill(tk_root, "test-menu", source)
    assert entries(built) == [
        ("command", "csv — ok", "disabled"),
        ("separator", "", ""),
        ("command", "Sync now", "disabled"),
        ("cascade", "Sync module", "normal"),
        ("command", "Quit", "normal"),
    ]
    submenu = tk_root.nametowidget(built.entrycget(3, "menu"))
    assert entries(submenu) == [("command", "csv", "normal")]


def test_an_entry_runs_its_action_with_the_icon_and_a_failing_one_is_logged(
    tk_root: Any, pystray: Any, caplog: pytest.LogCaptureFixture
) -> None:
    icon = FakeIcon()
    called: list[Any] = []

    def broken() -> None:
        raise RuntimeError("boom")

    source = pystray.Menu(
        pystray.MenuItem("Sync now", lambda got: called.append(got)),
        pystray.MenuItem("Broken", broken),
    )
    built = TkTrayMenu(tk_root, source, icon)._fill(tk_root, "action-menu", source)
    built.invoke(0)
    assert called == [icon]
    with caplog.at_level(logging.ERROR):
        built.invoke(1)  # no exception reaches Tk's loop
    assert "The menu entry 'Broken' failed" in caplog.text


def test_the_tooltip_shows_the_icons_title_after_a_moment_and_not_once_the_pointer_left(
    tk_root: Any, pystray: Any, tk_desktop: Desktop
) -> None:
    tk_menu = TkTrayMenu(tk_root, pystray.Menu(), FakeIcon())

    def tooltip() -> list[dict[str, Any]]:
        return [w for w in tk_desktop.find() if TOOLTIP_NAME in w["wm_class"]]

    tk_menu.hover(900, 10)
    tk_menu.hide_tooltip()  # left before the delay
    pump_for(tk_root, 1.0)
    assert not tooltip()

    tk_menu.hover(900, 10)
    pump_until(tk_root, lambda: bool(tooltip()))
    [shown] = tooltip()
    assert tk_desktop.window_type(shown["id"]) == "TOOLTIP"
    assert shown["y"] > 10 and shown["w"] > 150  # under the pointer, one line of text
    tk_menu.hide_tooltip()
    pump_until(tk_root, lambda: not tooltip())
