"""An aiohttp application served from a thread of its own, for tests and the demo.

The Halo emulator and the Graph stand-in both run in the test process while the code under
test makes blocking HTTP calls to them; each needs its own event loop on a daemon thread,
started once its socket listens and stopped cleanly. That lives here, once.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from aiohttp import web

STARTUP_TIMEOUT_SECONDS = 10.0
SHUTDOWN_TIMEOUT_SECONDS = 1.0
T = TypeVar("T")


class BackgroundServer:
    """``start(listener, build)`` serves the app ``build()`` makes (on the server's loop, so
    it may open loop-bound resources); ``call`` runs a coroutine there; ``stop`` ends it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(
        self, listener: socket.socket, build: Callable[[], Awaitable[web.Application]]
    ) -> None:
        """Returns once the socket is served; RuntimeError naming the server otherwise."""
        if self._thread is not None:
            raise RuntimeError(f"the {self.name} is already running")
        self._loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._serve,
            args=(listener, build, started, failure),
            name=self.name.replace(" ", "-"),
            daemon=True,
        )
        self._thread.start()
        if not started.wait(STARTUP_TIMEOUT_SECONDS) or failure:
            self.stop()
            cause = failure[0] if failure else None
            raise RuntimeError(f"the {self.name} did not start") from cause

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and loop.is_running():
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=10)
        if loop is not None and not loop.is_closed():
            loop.close()
        self._loop = self._thread = self._runner = None

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the server's loop and return its result."""
        if self._loop is None:
            coroutine.close()
            raise RuntimeError(f"the {self.name} is not running; call start() first")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    def _serve(
        self,
        listener: socket.socket,
        build: Callable[[], Awaitable[web.Application]],
        started: threading.Event,
        failure: list[BaseException],
    ) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._startup(listener, build))
        except BaseException as error:
            failure.append(error)
            listener.close()
            started.set()
            return
        started.set()
        self._loop.run_forever()

    async def _startup(
        self, listener: socket.socket, build: Callable[[], Awaitable[web.Application]]
    ) -> None:
        app = await build()
        self._runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS
        )
        await self._runner.setup()
        await web.SockSite(self._runner, listener).start()

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
