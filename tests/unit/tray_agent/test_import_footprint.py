"""The tray process stays small: it runs modules in child processes, so importing it (by its
own entry point or through the ``halo-integrator tray`` command line) loads no sync module,
no Halo client, no httpx and none of the emulator's aiohttp."""

from __future__ import annotations

import subprocess
import sys

ENGINE_ONLY = ("aiohttp", "httpx", "ldap3", "core.modules", "core.halo", "core.run.runner")
PROBE = f"""
import sys
import tray_agent.app, tray_agent.cli
print(sorted(m for m in sys.modules if m.split(".")[0] in {ENGINE_ONLY!r}
             or m.startswith({ENGINE_ONLY!r})))
"""


def test_importing_the_tray_loads_none_of_the_engine() -> None:
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    assert probe.stdout.strip() == "[]"
