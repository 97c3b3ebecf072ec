"""`Emulator`: the Python facade that runs the server on a background thread.

Tests, the demo and the benchmarks all start the emulator the same way:
`with Emulator() as emu: ...`. The server gets its own event loop on its own thread, so
synchronous test code (httpx, requests, the agent) can talk to it over a real socket.
Everything that touches the store runs on that loop; the facade hops over with
`run_coroutine_threadsafe`.
"""

from __future__ import annotations

import os
import secrets
import socket
import tempfile
from collections.abc import Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from halo_emulator import admin
from halo_emulator.auth import TokenRegistry
from halo_emulator.background import BackgroundServer
from halo_emulator.baseline import baseline_records
from halo_emulator.faults import FaultInjector, FaultSettings
from halo_emulator.rate_limit import DEFAULT_LIMIT, RollingWindowLimiter
from halo_emulator.records import now_text
from halo_emulator.server import create_app
from halo_emulator.state import ServerState
from halo_emulator.stats import RequestStats
from halo_emulator.store import Store

T = TypeVar("T")


class Emulator:
    """A local Halo API server; see the README section "Halo emulator" for behaviour."""

    def __init__(
        self,
        db_path: str | Path | None = None,
        port: int = 0,
        client_id: str = "halo-emulator",
        client_secret: str | None = None,
        tenant: str | None = None,
        rate_limit: tuple[int, float] | None = DEFAULT_LIMIT,
        retry_after: bool = False,
        token_lifetime: int = 3600,
        faults: FaultSettings | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self._temporary_db = db_path is None
        if db_path is None:
            handle, name = tempfile.mkstemp(prefix="halo-emulator-", suffix=".db")
            os.close(handle)
            db_path = name
        self.db_path = Path(db_path)
        self.host = host
        self.port = port
        self.client_id = client_id
        self.client_secret = client_secret or secrets.token_urlsafe(24)
        # Kept until the server starts (and changed by configure()); values of several types.
        self._settings: dict[str, Any] = dict(
            tenant=tenant,
            rate_limit=rate_limit,
            retry_after=retry_after,
            token_lifetime=token_lifetime,
        )
        self._faults = FaultInjector(faults or FaultSettings())
        self._state: ServerState | None = None
        self._server = BackgroundServer("Halo emulator")

    @property
    def base_url(self) -> str:
        """'http://127.0.0.1:<port>'; the API is base_url + '/api'."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> Emulator:
        """Start serving; returns once the socket is listening. Raises on startup failure."""
        if self._server.running:
            raise RuntimeError("the emulator is already running")
        listener = socket.create_server((self.host, self.port))
        self.port = listener.getsockname()[1]
        self._server.start(listener, self._build_app)
        return self

    def stop(self) -> None:
        """Stop serving, close the database (and delete it when it was temporary)."""
        self._server.stop()
        if self._state is not None:
            self._state.store.close()
            self._state = None
        if self._temporary_db:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.db_path}{suffix}").unlink(missing_ok=True)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # --- runtime control (the same operations as the /_emulator admin endpoints) ---

    def stats(self) -> dict[str, Any]:
        """Request counts by endpoint and status, plus record counts per entity."""
        state = self._running_state()
        return self._on_loop(_call(admin.stats, state))

    def reset_stats(self) -> None:
        """Zero the request counters."""
        self._running_state().stats.reset()

    def set_faults(self, **changes: Any) -> None:
        """Change FaultSettings fields at runtime, e.g. set_faults(error_next=2)."""
        self._faults.update(**changes)

    def configure(self, **changes: Any) -> None:
        """Change rate_limit ((n, seconds), "n/seconds" or None), retry_after, token_lifetime."""
        if "rate_limit" in changes and changes["rate_limit"] is None:
            changes["rate_limit"] = "off"
        admin.apply_config(self._running_state(), changes)

    def expire_tokens(self) -> None:
        """Every token issued so far becomes invalid now."""
        self._running_state().tokens.expire_all()

    # --- internals ---

    async def _build_app(self) -> web.Application:
        store = Store(self.db_path)
        if not store.is_seeded():
            store.seed(baseline_records(now_text()))
        self._state = ServerState(
            client_id=self.client_id,
            client_secret=self.client_secret,
            tenant=self._settings["tenant"],
            token_lifetime=int(self._settings["token_lifetime"]),
            retry_after=bool(self._settings["retry_after"]),
            tokens=TokenRegistry(),
            limiter=RollingWindowLimiter(self._settings["rate_limit"]),
            faults=self._faults,
            stats=RequestStats(),
            store=store,
            base_url=self.base_url,
        )
        return create_app(self._state)

    def _running_state(self) -> ServerState:
        if self._state is None:
            raise RuntimeError("the emulator is not running; call start() first")
        return self._state

    def _on_loop(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self._server.call(coroutine)


async def _call(function: Any, *args: Any) -> Any:
    """Run a plain function on the server loop (keeps SQLite on one thread)."""
    return function(*args)
