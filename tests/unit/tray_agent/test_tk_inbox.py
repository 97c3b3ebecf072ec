"""TkInbox with a stand-in widget whose ``after`` queue the test runs by hand (no display)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from tray_agent.tk_inbox import TkInbox


class FakeWidget:
    """Keeps ``after`` callbacks until ``fire`` runs them, like one turn of the Tk loop."""

    def __init__(self) -> None:
        self.pending: dict[str, Callable[[], None]] = {}
        self.delays: list[int] = []
        self._next_id = 0

    def after(self, delay_ms: int, callback: Callable[[], None]) -> str:
        self._next_id += 1
        poll_id = f"after#{self._next_id}"
        self.pending[poll_id] = callback
        self.delays.append(delay_ms)
        return poll_id

    def after_cancel(self, poll_id: str) -> None:
        self.pending.pop(poll_id, None)

    def fire(self) -> None:
        due, self.pending = self.pending, {}
        for callback in due.values():
            callback()


def test_posted_actions_run_in_order_on_the_next_poll_and_polling_continues() -> None:
    widget, ran = FakeWidget(), []
    inbox = TkInbox(widget, 50)
    inbox.post(lambda: ran.append(1))
    inbox.post(lambda: ran.append(2))
    assert ran == [], "nothing runs before the inbox is started and polled"
    inbox.start()
    widget.fire()
    assert ran == [1, 2]
    assert len(widget.pending) == 1
    assert widget.delays == [50, 50]


def test_a_failing_action_is_logged_and_later_actions_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    widget, ran = FakeWidget(), []
    inbox = TkInbox(widget, 50)

    def broken() -> None:
        raise RuntimeError("boom")

    inbox.post(broken)
    inbox.post(lambda: ran.append("after the failure"))
    inbox.start()
    with caplog.at_level(logging.ERROR, logger="halo_integrator.tk_inbox"):
        widget.fire()
    assert ran == ["after the failure"]
    assert "boom" in caplog.text
    assert len(widget.pending) == 1, "the poll goes on"


def test_stop_cancels_the_poll_and_drops_queued_actions() -> None:
    widget, ran = FakeWidget(), []
    inbox = TkInbox(widget, 50)
    inbox.start()
    inbox.post(lambda: ran.append("never"))
    inbox.stop()
    assert widget.pending == {}
    widget.fire()
    assert ran == []


def test_an_action_that_stops_the_inbox_ends_the_drain_before_the_widget_goes() -> None:
    widget, ran = FakeWidget(), []
    inbox = TkInbox(widget, 50)
    inbox.post(inbox.stop)
    inbox.post(lambda: ran.append("on a destroyed widget"))
    inbox.start()
    widget.fire()
    assert ran == []
    assert widget.pending == {}, "no poll is scheduled on a widget about to be destroyed"
