"""``halo-integrator demo``: the whole path in one command, against the local Halo emulator.

Starts the emulator on a free loopback port, writes a demo settings folder (encrypted secret,
key file, a csv module), seeds a CSV of users, syncs it twice (the second run shows change
detection: nothing to send), and prints what landed in Halo, read back over the API.
"""

from __future__ import annotations

import csv
import random
import tempfile
import time
from pathlib import Path

from core.halo.client import HaloClient
from core.run.runner import Runner, summary
from core.settings.model import HaloConnection, ModuleSettings, Settings
from core.settings.writer import save_settings

DEMO_USERS = 60
FIRST_NAMES = (
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Dennis",
    "Frances",
    "Edsger",
    "Radia",
    "Tim",
    "Hedy",
    "John",
    "Katherine",
    "Niklaus",
)
SURNAMES = (
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Ritchie",
    "Allen",
    "Dijkstra",
    "Perlman",
    "Berners-Lee",
    "Lamarr",
    "Backus",
    "Johnson",
    "Wirth",
)
DEPARTMENTS = ("IT", "Finance", "Sales", "HR", "Operations")


def run_demo(*, keep: bool = False) -> int:
    try:
        from halo_emulator import Emulator
    except ImportError:
        print("The demo needs the 'emulator' extra: pip install 'halo-integrator[emulator]'")
        return 2
    folder = Path(tempfile.mkdtemp(prefix="halo-integrator-demo-"))
    with Emulator(db_path=folder / "halo-emulator.db") as emulator:
        print(f"Halo emulator on {emulator.base_url} (300 requests / 5 min, like hosted Halo)")
        settings = write_demo_settings(
            folder, emulator.base_url, emulator.client_id, emulator.client_secret
        )
        print(f"Demo settings: {settings.path} (secret encrypted, key in a separate file)")
        write_users_csv(folder / "users.csv", DEMO_USERS)
        print(f"Sample source: {folder / 'users.csv'} ({DEMO_USERS} users)\n")
        failed = _sync_twice(settings)
        _print_halo_contents(settings)
        print(f"\nRun logs: {settings.log_folder}")
        if keep:
            _wait_for_interrupt(emulator.base_url)
    return 1 if failed else 0


def write_demo_settings(folder: Path, url: str, client_id: str, client_secret: str) -> Settings:
    from core.settings.secrets import Secret

    connection = HaloConnection(url=url, client_id=client_id, client_secret=Secret(client_secret))
    settings = Settings.new(folder / "appsettings.json", connection)
    settings.modules.append(
        ModuleSettings(name="csv", options={"path": "users.csv", "target": "users"})
    )
    save_settings(settings)
    return settings


def write_users_csv(path: Path, count: int, *, seed: int = 7) -> None:
    """Deterministic sample users with Halo field names as headers (and a BOM, like Excel)."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(["emailaddress", "firstname", "surname", "department", "phonenumber"])
        for number in range(1, count + 1):
            first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
            email = f"{first}.{last}.{number}@example.com".lower()
            writer.writerow(
                [email, first, last, rng.choice(DEPARTMENTS), f"+44 20 7946 {number:04d}"]
            )


def _sync_twice(settings: Settings) -> bool:
    runner = Runner(settings, origin="demo")
    failed = False
    for label in ("First sync", "Second sync (nothing changed)"):
        for result in runner.run():
            failed |= not result.ok
            print(f"{label} - module {result.module}: {result.outcome}")
            print(f"  {summary(result.counts)}")
            if result.error:
                print(f"  error: {result.error}")
    return failed


def _print_halo_contents(settings: Settings) -> None:
    with HaloClient(settings.halo) as client:
        users = list(client.iter_records("Users", page_size=50))
        control = client.get("Control")
    imported = [
        user for user in users if str(user.get("emailaddress", "")).endswith("@example.com")
    ]
    print(f"\nIn Halo now: {len(users)} users, {len(imported)} of them from the CSV. First five:")
    for user in imported[:5]:
        print(f"  #{user['id']:<4} {user.get('name', ''):24} {user.get('emailaddress', '')}")
    if isinstance(control, dict):
        print(
            f"Halo's Last Sync for CSV imports: {control.get('halointegrator_xlsimports_lastsync')}"
        )


def _wait_for_interrupt(url: str) -> None:
    print(f"\nThe emulator keeps running at {url}; press Ctrl-C to stop it.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
