"""The one object every handler reads: configuration plus the live parts of the emulator.

Kept in its own module so that handlers, the admin API and the `Emulator` facade share it
without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from halo_emulator.auth import TokenRegistry
    from halo_emulator.faults import FaultInjector
    from halo_emulator.rate_limit import RollingWindowLimiter
    from halo_emulator.stats import RequestStats
    from halo_emulator.store import Store


@dataclass
class ServerState:
    """Configuration (changeable at runtime) and the components built from it."""

    client_id: str
    client_secret: str
    tenant: str | None
    token_lifetime: int
    retry_after: bool
    tokens: TokenRegistry
    limiter: RollingWindowLimiter
    faults: FaultInjector
    stats: RequestStats
    store: Store
    base_url: str = field(default="")


STATE = web.AppKey("state", ServerState)
"""The key under which the aiohttp application carries its `ServerState`."""
