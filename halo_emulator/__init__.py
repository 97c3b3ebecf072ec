"""A local emulator of the Halo REST API, for the demo, the tests and the benchmarks.

The agent never imports this package; it needs the `emulator` extra (aiohttp).

    from halo_emulator import Emulator, FaultSettings
    with Emulator() as emu:
        ...  # point a client at emu.base_url with emu.client_id / emu.client_secret
"""

from __future__ import annotations

from halo_emulator.emulator import Emulator
from halo_emulator.faults import FaultSettings

__all__ = ["Emulator", "FaultSettings"]
