"""The lease on an integration's Halo record: two agents (two folders, two jump boxes) never
sync one AD connection at once; a dead holder's lease expires; the holder's own stale lease
is taken over at once."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import slapd as openldap

from core.halo.client import HaloClient
from core.modules.base import StatusRecord
from core.outcomes import Outcome
from core.run.lease import LeaseHeldError, LeaseHolder, SourceLease
from core.run.request import RunRequest
from core.run.runner import Runner
from core.settings.model import ModuleSettings, Settings
from core.settings.reader import load_settings
from core.settings.secrets import Secret
from core.settings.writer import save_settings
from halo_emulator import Emulator

from .conftest import FAST_RETRY, connection_for, halo_users

RECORD = StatusRecord("LDAPConnection")


@pytest.fixture
def connection_id(emulator: Emulator) -> int:
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        [record] = halo.post_batch("LDAPConnection", [{"name": "Head office AD"}])
    return int(record["id"])


CLIENTS: list[HaloClient] = []


@pytest.fixture(autouse=True)
def close_clients() -> Iterator[None]:
    yield
    while CLIENTS:
        CLIENTS.pop().close()


def lease(emulator: Emulator, record_id: int, instance: str, **timing: Any) -> SourceLease:
    client = HaloClient(connection_for(emulator), retry=FAST_RETRY)
    CLIENTS.append(client)
    holder = LeaseHolder(instance, f"box-{instance}", f"/srv/{instance}", f"token-{instance}")
    return SourceLease(client, RECORD, record_id, holder, **{"settle_seconds": 1.0, **timing})


def stored_lease(emulator: Emulator, record_id: int) -> str:
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        return str(halo.get(f"LDAPConnection/{record_id}").get("halointegrator_lease") or "")


def test_of_two_agents_taking_the_lease_at_once_exactly_one_wins(
    emulator: Emulator, connection_id: int
) -> None:
    emulator.set_faults(latency_ms=50)
    leases = [lease(emulator, connection_id, name) for name in ("a", "b")]
    outcomes: dict[str, str] = {}

    def take(item: SourceLease) -> None:
        try:
            item.acquire()
            outcomes[item.holder.instance_id] = "held"
        except LeaseHeldError as exc:
            outcomes[item.holder.instance_id] = str(exc)

    threads = [threading.Thread(target=take, args=(item,)) for item in leases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes.values()).count("held") == 1, outcomes
    loser = next(v for v in outcomes.values() if v != "held")
    assert "Another agent, on box-" in loser and "/srv/" in loser


def test_a_lease_expires_when_its_holder_died_and_is_released_after_a_run(
    emulator: Emulator, connection_id: int
) -> None:
    clock = [1000.0]
    timing = {"clock": lambda: clock[0], "sleep": lambda seconds: None}
    dead = lease(emulator, connection_id, "dead", **timing)
    dead.acquire()  # ... and never renewed or released: killed
    clock[0] += 60
    other = lease(emulator, connection_id, "other", **timing)
    with pytest.raises(LeaseHeldError):
        other.acquire()
    clock[0] += dead.lease_seconds  # the dead holder's lease has run out
    other.acquire()
    assert other.held and json.loads(stored_lease(emulator, connection_id))["host"] == "box-other"
    other.release()
    assert stored_lease(emulator, connection_id) == ""


def test_the_same_instance_takes_over_its_own_stale_lease_at_once(
    emulator: Emulator, connection_id: int
) -> None:
    lease(emulator, connection_id, "me").acquire()  # a run that was killed
    again = lease(emulator, connection_id, "me")
    again.acquire()
    assert again.held


def test_a_lease_taken_over_mid_run_stops_the_run_at_its_next_safe_point(
    emulator: Emulator, connection_id: int
) -> None:
    clock = [1000.0]
    first = lease(emulator, connection_id, "first", clock=lambda: clock[0], sleep=lambda s: None)
    first.acquire()
    clock[0] += 10_000  # expired, e.g. the jump box slept
    second = lease(emulator, connection_id, "second", clock=lambda: clock[0], sleep=lambda s: None)
    second.acquire()
    with pytest.raises(LeaseHeldError, match="took over"):
        first.renew_if_due()


# -- end to end: two folders on one AD connection --------------------------------------------


@pytest.fixture
def two_folders(
    tmp_path: Path,
    emulator: Emulator,
    make_slapd: Callable[..., openldap.Slapd],
    connection_id: int,
) -> list[Path]:
    directory = make_slapd()
    with HaloClient(connection_for(emulator), retry=FAST_RETRY) as halo:
        halo.post(
            "LDAPConnection",
            [
                {
                    "id": connection_id,
                    "hostname": "127.0.0.1",
                    "port": directory.ldaps_port,
                    "use_ssl": True,
                    "username": directory.service_dn,
                    "basedn": f"ou=people,{openldap.SUFFIX}",
                }
            ],
        )
    folders = []
    for name in ("box-a", "box-b"):
        settings = Settings.new(tmp_path / name / "appsettings.json", connection_for(emulator))
        options = {
            "halo_connection_id": connection_id,
            "bind_password": Secret(directory.service_password),
            "ca_file": str(directory.ca_file),
            "profile": "openldap",
        }
        settings.modules[:] = [ModuleSettings(name="ad", type="ldap", options=options)]
        save_settings(settings)
        folders.append(load_settings(settings.folder).folder)
    return folders


@pytest.mark.slow
def test_two_folders_on_one_ad_connection_started_together_create_each_user_once(
    emulator: Emulator, two_folders: list[Path]
) -> None:
    emulator.set_faults(latency_ms=300)
    command = str(Path(sys.executable).with_name("halo-integrator"))
    syncs = [
        subprocess.Popen(
            [command, "sync", "--settings", str(folder)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for folder in two_folders
    ]
    outputs = [sync.communicate(timeout=180) for sync in syncs]
    emulator.set_faults(latency_ms=0)
    texts = [out + err for out, err in outputs]
    assert sum("ad: succeeded" in text for text in texts) == 1, texts
    [skipped] = [text for text in texts if "ad: succeeded" not in text]
    assert "ad: skipped" in skipped and "holds the lease" in skipped
    logins = [u["login"] for u in halo_users(emulator) if u.get("third_party_guid")]
    assert len(logins) == len(set(logins)) == 43  # ou=people only, each once


def test_a_dry_run_takes_no_lease(emulator: Emulator, two_folders: list[Path]) -> None:
    settings = load_settings(two_folders[0])
    runner = Runner(settings, client_factory=lambda: HaloClient(settings.halo, retry=FAST_RETRY))
    runner.lease_settle_seconds = 0.1
    [result] = runner.run(RunRequest(dry_run=True))
    assert result.outcome is Outcome.DRY_RUN
    connection_id = settings.modules[0].options["halo_connection_id"]
    assert stored_lease(emulator, connection_id) == ""
