"""Fixtures for the agent's integration tests: a real emulator and a real settings folder."""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.halo.client import HaloClient, RetryPolicy
from core.settings.model import HaloConnection, ModuleSettings, Settings
from core.settings.reader import load_settings
from core.settings.secrets import Secret
from core.settings.writer import save_settings
from halo_emulator import Emulator

SECRET = "s3cr3t-for-tests-9f2c"
# Retries in tests wait milliseconds, not seconds; the policy is the same.
FAST_RETRY = RetryPolicy(
    max_attempts=4,
    backoff_base_seconds=0.01,
    backoff_cap_seconds=0.05,
    rate_limit_patience_seconds=10,
    rate_limit_min_wait_seconds=0.05,
)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(client_secret=SECRET, rate_limit=None) as emu:
        yield emu


def connection_for(emu: Emulator, **overrides: Any) -> HaloConnection:
    values: dict[str, Any] = {
        "url": emu.base_url,
        "client_id": emu.client_id,
        "client_secret": Secret(emu.client_secret),
    }
    values.update(overrides)
    return HaloConnection(**values)


@pytest.fixture
def client(emulator: Emulator) -> Iterator[HaloClient]:
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        yield halo


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    """A finished export: written, and (as a scheduled export would be) a minute old, so
    the agent's wait for a quiet file does not slow the tests."""
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    backdate(path)
    return path


def backdate(path: Path, seconds: float = 60) -> None:
    moment = time.time() - seconds
    os.utime(path, (moment, moment))


def user_rows(count: int, start: int = 1) -> list[dict[str, Any]]:
    return [
        {
            "emailaddress": f"user{n}@example.com",
            "firstname": "User",
            "surname": f"N{n}",
            "department": "IT",
        }
        for n in range(start, start + count)
    ]


@pytest.fixture
def make_settings(tmp_path: Path, emulator: Emulator) -> Callable[..., Settings]:
    """A saved settings folder with one csv module reading users.csv in that folder."""

    def make(folder_name: str = "settings", **csv_options: Any) -> Settings:
        folder = tmp_path / folder_name
        settings = Settings.new(folder / "appsettings.json", connection_for(emulator))
        options = {"path": "users.csv", "target": "users", **csv_options}
        settings.modules.append(ModuleSettings(name="csv", options=options))
        save_settings(settings)
        return load_settings(folder)

    return make


def halo_users(emu: Emulator) -> list[dict[str, Any]]:
    """Every user in the emulator, read over its API with includeinactive."""
    with HaloClient(connection_for(emu), retry=FAST_RETRY) as halo:
        return list(halo.iter_records("Users", {"includeinactive": "true"}, page_size=500))


# Real servers (slapd, Samba AD, Dovecot and its OAuth endpoint); they live beside them.
from servers.fixtures import (  # noqa: E402, F401
    dovecot,
    lansweeper_db,
    mail_folder,
    make_dovecot,
    make_slapd,
    oauth_endpoint,
    postgres,
    samba_ad,
    slapd,
    test_ca,
)

# The Graph stand-in (Entra ID tokens + Graph v1.0) and the app certificate it trusts.
from servers.graph import app_certificate, graph_standin  # noqa: E402, F401
