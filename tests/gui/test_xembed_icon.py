"""The XEmbed icon in this process, docked in the test desktop's trayer and changed from other
threads while the tray keeps asking it to redraw, as the tray's status thread does.

With pystray's own thread hand-over, python-xlib could leave the icon's X thread waiting for
a reply that never came: the icon kept a stale colour and ignored clicks (CI saw it in about
one tray start out of twenty).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from .desktop import Desktop
from .tray_driver import wait_for

pytestmark = pytest.mark.gui

NAME = "xembed-test"
WM_CLASS = f"{NAME}SystemTrayIcon"
RED, BLUE, GREEN = (220, 30, 30), (30, 60, 220), (30, 170, 60)


def disc(colour: tuple[int, int, int]) -> Image.Image:
    image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    for x in range(64):
        for y in range(64):
            if (x - 32) ** 2 + (y - 32) ** 2 < 30**2:
                image.putpixel((x, y), (*colour, 255))
    return image


def new_icon(desktop: Desktop, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A red XEmbed icon on the desktop's display, not running yet."""
    monkeypatch.setenv("DISPLAY", desktop.display)
    monkeypatch.setenv("PYSTRAY_BACKEND", "xorg")
    from tray_agent.xembed_icon import XembedIcon

    return XembedIcon(
        NAME,
        disc(RED),
        "red",
        on_menu=lambda x, y: None,
        on_hover=lambda x, y: None,
        on_leave=lambda: None,
    )


def run_icon(icon: Any) -> threading.Thread:
    thread = threading.Thread(target=icon.run, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def icon(tk_desktop: Desktop, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    running = new_icon(tk_desktop, monkeypatch)
    thread = run_icon(running)
    tk_desktop.docked_icon(WM_CLASS, timeout=20)
    yield running
    running.stop()
    thread.join(timeout=10)
    assert not thread.is_alive(), "the icon's X thread did not end at stop()"


def centre_colour(desktop: Desktop) -> tuple[int, int, int]:
    window = desktop.docked_icon(WM_CLASS)
    shot = Image.open(desktop.screenshot(desktop.folder / "xembed-test.png")).convert("RGB")
    x, y = window["x"] + window["w"] // 2, window["y"] + window["h"] // 2
    pixel: tuple[int, int, int] = shot.getpixel((x, y))  # type: ignore[assignment]
    return pixel


def near(colour: tuple[int, int, int], expected: tuple[int, int, int]) -> bool:
    return all(abs(a - b) < 40 for a, b in zip(colour, expected, strict=True))


def exposes(desktop: Desktop, stop: threading.Event) -> None:
    """Another client asking the icon to repaint, as fast as it can (trayer does it on each
    re-layout): each repaint makes the X thread wait for replies from the server."""
    import Xlib.display
    import Xlib.protocol.event
    import Xlib.X

    display = Xlib.display.Display(desktop.display)
    try:
        window_id = desktop.docked_icon(WM_CLASS)["id"]
        window = display.create_resource_object("window", window_id)
        while not stop.is_set():
            event = Xlib.protocol.event.Expose(window=window, x=0, y=0, width=1, height=1, count=0)
            window.send_event(event, event_mask=Xlib.X.ExposureMask)
            display.flush()
            time.sleep(0.0005)
    finally:
        display.close()


def test_changes_from_other_threads_all_reach_the_icon_while_it_repaints(
    tk_desktop: Desktop, icon: Any
) -> None:
    wait_for(lambda: near(centre_colour(tk_desktop), RED), "the red icon")
    images = [disc(BLUE), disc(RED)]
    stop = threading.Event()
    painter = threading.Thread(target=exposes, args=(tk_desktop, stop), daemon=True)
    painter.start()
    failures: list[BaseException] = []

    def change(kind: str) -> None:
        try:
            for n in range(400):
                if kind == "image":
                    icon.icon = images[n % 2]
                else:
                    icon.title = f"title {n}"
        except BaseException as exc:  # a change that timed out or failed
            failures.append(exc)

    changers = [threading.Thread(target=change, args=(kind,)) for kind in ("image", "title")]
    for changer in changers:
        changer.start()
    for changer in changers:
        changer.join(timeout=30)
    stop.set()
    painter.join(timeout=10)
    assert not any(changer.is_alive() for changer in changers), "a change never came back"
    assert failures == []
    icon.icon = disc(GREEN)
    wait_for(lambda: near(centre_colour(tk_desktop), GREEN), "the last image, green")


def test_an_image_set_while_the_icon_is_being_shown_is_the_one_drawn(
    tk_desktop: Desktop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tray sets its first state while pystray's setup thread is still making the icon
    visible: after the icon is docked and drawn red, before it counts as visible."""
    icon = new_icon(tk_desktop, monkeypatch)
    show = icon._show  # pystray's setup thread calls it, then marks the icon visible

    def show_then_change() -> None:
        show()
        icon.icon = disc(BLUE)

    icon._show = show_then_change
    thread = run_icon(icon)
    try:
        tk_desktop.docked_icon(WM_CLASS, timeout=20)
        wait_for(lambda: icon.visible, "the icon shown")
        wait_for(lambda: near(centre_colour(tk_desktop), BLUE), "the blue icon", timeout=5)
    finally:
        icon.stop()
        thread.join(timeout=10)
