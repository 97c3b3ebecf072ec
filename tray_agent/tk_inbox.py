"""Hand work to the Tk thread: a queue any thread may fill, drained with ``after``.

Tk is not thread-safe, so worker threads, the tray icon's thread and log handlers never touch
a widget: they ``post`` a callable, and the Tk thread runs it on its next poll. The tray and
the settings window each own one inbox.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from typing import Any

log = logging.getLogger("halo_integrator.tk_inbox")


class TkInbox:
    """Runs posted callables on the Tk thread every ``interval_ms`` while started.

    A failing action is logged and the next one still runs: one broken callback must not stop
    every later update of the window. ``stop()`` (from the Tk thread, for example inside an
    action that destroys the widget) cancels the poll; actions still queued are dropped.
    """

    def __init__(self, widget: Any, interval_ms: int) -> None:
        self.widget = widget
        self.interval_ms = interval_ms
        self._actions: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._poll_id: str | None = None
        self._running = False

    def post(self, action: Callable[[], None]) -> None:
        """Queue ``action`` for the Tk thread; safe from any thread."""
        self._actions.put(action)

    def start(self) -> None:
        """Tk thread: begin polling the queue."""
        self._running = True
        self._poll_id = self.widget.after(self.interval_ms, self._drain)

    def stop(self) -> None:
        """Tk thread: stop polling; call before the widget is destroyed."""
        self._running = False
        if self._poll_id is not None:
            self.widget.after_cancel(self._poll_id)
            self._poll_id = None

    def _drain(self) -> None:
        self._poll_id = None
        while self._running:
            try:
                action = self._actions.get_nowait()
            except queue.Empty:
                break
            try:
                action()
            except Exception:  # logged; the Tk loop and later actions carry on
                log.exception("An action on the Tk thread failed")
        if self._running:
            self._poll_id = self.widget.after(self.interval_ms, self._drain)
