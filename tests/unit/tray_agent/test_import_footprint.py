"""The tray process stays small: it runs modules in child processes, so importing it (by its
own entry point or through the ``halo-integrator tray`` command line) loads no sync module,
no Halo client, no httpx and none of the emulator's aiohttp; reading its settings and the
modules' status (the registry names each type's secret options) still loads no network
library, no cryptography (secrets stay encrypted until revealed) and no GLib (notifications go
over jeepney)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from core.settings.model import HaloConnection, ModuleSettings, Settings
from core.settings.secrets import Secret
from core.settings.writer import save_settings

ENGINE_ONLY = ("aiohttp", "httpx", "ldap3", "core.modules", "core.halo", "core.run.runner")
NETWORK = ("aiohttp", "httpx", "ldap3", "imaplib", "core.halo.client", "cryptography", "gi")
PROBE = """
import sys
def loaded(prefixes):
    return sorted(m for m in sys.modules if m.startswith(prefixes))
import tray_agent.app, tray_agent.cli
print(loaded({engine!r}))
from core.agent import Agent
agent = Agent(sys.argv[1], origin="tray")
agent.reload()
agent.statuses()
print(loaded({network!r}))
"""


def test_the_tray_loads_none_of_the_engine_and_reading_its_settings_no_heavy_library(
    tmp_path: Path,
) -> None:
    connection = HaloConnection("https://halo.example.com", "id", Secret("secret-4242"))
    settings = Settings.new(tmp_path / "appsettings.json", connection)
    settings.modules.append(ModuleSettings(name="csv", options={"path": "users.csv"}))
    save_settings(settings)
    probe = subprocess.run(
        [sys.executable, "-c", PROBE.format(engine=ENGINE_ONLY, network=NETWORK), str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert probe.stdout.split("\n")[:2] == ["[]", "[]"]
