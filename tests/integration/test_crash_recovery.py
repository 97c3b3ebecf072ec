"""SIGKILL at random points, for real: the agent is a separate process killed mid-run, over
and over, while its sources change; afterwards nothing is lost, nothing is duplicated, no
checkpoint is ahead of what Halo holds, and Halo holds nothing the source does not.

Each kill lands somewhere else (reading the directory, a create batch in flight, between a
batch and its id-map commit, writing the checkpoint); the seed is printed so a failure can be
replayed."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from servers import slapd as openldap

from core.halo.client import HaloClient
from core.settings.model import ModuleSettings, Settings
from core.settings.reader import load_settings
from core.settings.secrets import Secret
from core.settings.writer import save_settings
from core.state.store import StateStore
from halo_emulator import Emulator

from .conftest import connection_for, halo_users, user_rows, write_csv

pytestmark = pytest.mark.slow
COMMAND = str(Path(sys.executable).with_name("halo-integrator"))
SEED = int(os.environ.get("CRASH_SEED", time.time_ns() % 100_000))


def start_sync(folder: Path, *names: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [COMMAND, "sync", *names, "--settings", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_after(process: subprocess.Popen[str], seconds: float, *, may_fail: bool = False) -> bool:
    """SIGKILL ``process`` after ``seconds`` unless it ended first; True when it was killed."""
    try:
        out, err = process.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.communicate()
        return True
    # A run that ended by itself ended well, or refused what it found (a file half-written,
    # an export truncated a moment ago, caught by the guard) without changing anything.
    reasons = ("not ready", "returned no records at all", "Refused to deactivate")
    refused = any(reason in out + err for reason in reasons)
    assert process.returncode == 0 or refused or may_fail, out + err
    return False


def finish(folder: Path, *names: str) -> str:
    """A run left to end; it must end well, within a minute."""
    process = start_sync(folder, *names)
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate()
        raise AssertionError(f"the run did not end (seed {SEED}):\n{out}{err}") from None
    assert process.returncode == 0, out + err
    return out


# -- a directory ------------------------------------------------------------------------------


def directory_people(count: int) -> list[tuple[str, str, str, str, str | None]]:
    return [
        ("people", f"p{n:04d}", "Person", f"N{n}", f"p{n:04d}@example.com") for n in range(count)
    ]


def test_a_directory_sync_killed_fifteen_times_loses_and_doubles_nothing(
    tmp_path: Path, emulator: Emulator, make_slapd: Callable[..., openldap.Slapd]
) -> None:
    rng = random.Random(SEED)
    print(f"CRASH_SEED={SEED}")
    people = 1200
    directory = make_slapd(people=directory_people(people), size_limit=100_000)
    settings = Settings.new(
        tmp_path / "Halo" / "appsettings.json",
        connection_for(emulator, batch_size=20, requests_per_window=100_000),
    )
    options = {
        "server": directory.url,
        "start_tls": True,
        "ca_file": str(directory.ca_file),
        "bind_dn": directory.service_dn,
        "bind_password": Secret(directory.service_password),
        "profile": "openldap",
        "base_dns": f"ou=people,{openldap.SUFFIX}",
        "max_deactivate_percent": 50,
    }
    settings.modules[:] = [ModuleSettings(name="ldap", type="ldap", options=options)]
    save_settings(settings)
    folder = load_settings(settings.folder).folder
    # Latency keeps every run going long enough for the kills to land inside it.
    emulator.set_faults(latency_ms=60)
    state = StateStore(folder)
    alive = {f"p{n:04d}" for n in range(people)}
    phone: dict[str, str] = {}
    kills = later_kills = 0
    for round_number in range(80):
        if kills >= 15 and later_kills >= 5:
            break
        synced_once = state.checkpoint("ldap", "since") is not None
        if synced_once:
            # Once a run got through, the directory changes under the agent between runs:
            # someone leaves, a few numbers change.
            gone = rng.choice(sorted(alive))
            directory.delete(openldap.person_dn(gone))
            alive.discard(gone)
            for changed in rng.sample(sorted(alive), 8):
                phone[changed] = f"+44 {round_number:04d}"
                directory.modify(openldap.person_dn(changed), telephoneNumber=phone[changed])
        mark_before = state.checkpoint("ldap", "since")
        full = ("--full",) if round_number % 2 else ()
        delay = rng.uniform(0.25, 1.2)
        if not synced_once and round_number % 5 == 4:
            # On a slow machine every run may outlast the kill window: let one finish, so
            # the later kills land after a first sync, as this test means them to.
            delay = 120
        killed = kill_after(start_sync(folder, "ldap", *full), delay)
        kills += killed
        later_kills += killed and synced_once
        if state.checkpoint("ldap", "since") != mark_before:
            # A run that moved the mark must have left Halo holding everything up to it.
            assert_halo_holds(emulator, alive, phone, complete=False)
    assert kills >= 15, f"only {kills} runs were still going when killed (seed {SEED})"
    assert later_kills >= 5, f"only {later_kills} kills after the first sync (seed {SEED})"
    print(f"{kills} kills in {round_number + 1} runs, {later_kills} after the first sync")
    finish(folder, "ldap")
    finish(folder, "ldap", "--full")
    assert_halo_holds(emulator, alive, phone, complete=True)


def assert_halo_holds(
    emulator: Emulator, alive: set[str], phone: dict[str, str], *, complete: bool
) -> None:
    users = [u for u in halo_users(emulator) if u.get("third_party_guid")]
    guids = [u["third_party_guid"] for u in users]
    assert len(guids) == len(set(guids)), f"duplicated users (seed {SEED})"
    logins = [u["login"] for u in users]
    assert len(logins) == len(set(logins)), f"two Halo users for one person (seed {SEED})"
    active = {u["login"] for u in users if not u.get("inactive")}
    assert alive <= active, f"missing: {sorted(alive - active)[:5]} (seed {SEED})"
    by_login = {u["login"]: u for u in users}
    for login, number in phone.items():
        if login in alive:
            assert by_login[login].get("phonenumber") == number, f"{login} (seed {SEED})"
    if complete:
        assert active == alive, (
            f"still active after leaving: {sorted(active - alive)} (seed {SEED})"
        )


# -- two folders, files rewritten under the agent -----------------------------------------------


def csv_folder(root: Path, emulator: Emulator, name: str) -> Path:
    settings = Settings.new(
        root / name / "appsettings.json",
        connection_for(emulator, batch_size=10, requests_per_window=100_000),
    )
    options = {"path": "users.csv", "max_deactivate_percent": 50}
    settings.modules[:] = [ModuleSettings(name="csv", options=options)]
    save_settings(settings)
    return settings.folder


def rewrite(path: Path, rows: list[dict[str, Any]], rng: random.Random) -> None:
    """Write the file as an export would, slowly, in chunks, while the agent may read it."""
    text_lines = ["emailaddress,firstname,surname,department\n"] + [
        f"{r['emailaddress']},{r['firstname']},{r['surname']},{r['department']}\n" for r in rows
    ]
    with path.open("w", encoding="utf-8") as handle:
        for index, line in enumerate(text_lines):
            handle.write(line)
            if index % 20 == 0:
                handle.flush()
                time.sleep(rng.uniform(0.005, 0.04))


def test_two_folders_killed_at_random_while_their_files_are_rewritten(
    tmp_path: Path, emulator: Emulator
) -> None:
    rng = random.Random(SEED)
    print(f"CRASH_SEED={SEED}")
    folders = {name: csv_folder(tmp_path, emulator, name) for name in ("5 Mins", "Daily")}
    start = {"5 Mins": 1, "Daily": 1001}
    sources = {name: user_rows(300, start=start[name]) for name in folders}
    for name, folder in folders.items():
        write_csv(folder / "users.csv", sources[name])
    emulator.set_faults(latency_ms=80)
    kills = 0
    for round_number in range(60):
        if kills >= 12:
            break
        syncs = {name: start_sync(folder) for name, folder in folders.items()}
        if round_number % 2:
            # A new export lands while the agents run: some leave, some join, some change.
            name = rng.choice(sorted(folders))
            rows = [r for r in sources[name] if rng.random() > 0.03]
            first = start[name] + 300 + round_number * 5
            rows += user_rows(3, start=first)
            for row in rng.sample(rows, 5):
                row["department"] = f"Dept {round_number}"
            sources[name] = rows
            # Lands while the agents start, read or write: a random moment in their run.
            writer = threading.Timer(
                rng.uniform(0.1, 0.6), rewrite, (folders[name] / "users.csv", rows, rng)
            )
            writer.start()
        for sync in syncs.values():
            kills += kill_after(sync, rng.uniform(0.2, 1.0))
        if round_number % 2:
            writer.join()
    assert kills >= 12, f"only {kills} kills (seed {SEED})"
    print(f"{kills} kills in {round_number + 1} rounds")
    for folder in folders.values():
        finish(folder)
        finish(folder)
    users = [u for u in halo_users(emulator) if str(u.get("emailaddress")).endswith("@example.com")]
    emails = [u["emailaddress"] for u in users]
    assert len(emails) == len(set(emails)), f"duplicated (seed {SEED})"
    wanted = {r["emailaddress"]: r for rows in sources.values() for r in rows}
    active = {u["emailaddress"]: u for u in users if not u.get("inactive")}
    assert set(active) == set(wanted), (
        f"lost {sorted(set(wanted) - set(active))[:5]}, "
        f"not in any source {sorted(set(active) - set(wanted))[:5]} (seed {SEED})"
    )
    for email, row in wanted.items():
        assert active[email]["department"] == row["department"], f"{email} (seed {SEED})"


# -- a mailbox ----------------------------------------------------------------------------------


def test_a_mailbox_killed_twenty_times_makes_one_ticket_per_message(
    tmp_path: Path, emulator: Emulator, dovecot: Any, mail_folder: str
) -> None:
    from servers.dovecot import USERS
    from servers.dovecot import message as test_message

    rng = random.Random(SEED)
    print(f"CRASH_SEED={SEED}")
    connection = connection_for(emulator, requests_per_window=100_000)
    settings = Settings.new(tmp_path / "Mail" / "appsettings.json", connection)
    options = {
        "server": dovecot.url,
        "starttls": True,
        "ca_file": str(dovecot.ca_file),
        "username": "alice",
        "password": Secret(USERS["alice"]),
        "folder": mail_folder,
        "processed_folder": f"{mail_folder}-done",
        "failed_folder": f"{mail_folder}-failed",
        "default_user_id": 1,
    }
    settings.modules[:] = [ModuleSettings(name="inbox", type="imap", options=options)]
    save_settings(settings)
    folder = load_settings(settings.folder).folder
    subjects = [f"Crash {n:03d}" for n in range(200)]
    for subject in subjects:
        dovecot.deliver(test_message(subject), mail_folder)
    emulator.set_faults(latency_ms=30)
    kills = rounds = 0
    while kills < 20 and rounds < 80:
        rounds += 1
        if not dovecot.uids(mail_folder):
            # Drained before 20 kills: more mail arrives, so every kill lands in real work.
            more = [f"Crash {n:03d}" for n in range(len(subjects), len(subjects) + 25)]
            for subject in more:
                dovecot.deliver(test_message(subject), mail_folder)
            subjects += more
        # Halo misbehaves too: an answer lost after the ticket was made, a 500.
        fault = rng.choice(["lose_answer_next", "error_next", None])
        if fault:
            emulator.set_faults(**{fault: 1})
        # A run Halo failed under those faults may end failed; the next one carries on.
        kills += kill_after(start_sync(folder), rng.uniform(0.3, 1.5), may_fail=True)
        emulator.set_faults(lose_answer_next=0, error_next=0)
    print(f"{kills} kills in {rounds} runs, {len(subjects)} messages")
    assert kills >= 20, f"only {kills} kills (seed {SEED})"
    emulator.set_faults(latency_ms=0)
    finish(folder)
    tickets = [
        t["summary"] for t in halo_records(emulator, "Tickets") if t["summary"].startswith("Crash ")
    ]
    lost = sorted(set(subjects) - set(tickets))
    duplicated = sorted({s for s in tickets if tickets.count(s) > 1})
    print(f"lost={len(lost)} duplicated={len(duplicated)}")
    assert (lost, duplicated) == ([], []), f"seed {SEED}"
    assert dovecot.uids(mail_folder) == []
    assert len(dovecot.uids(f"{mail_folder}-done")) == len(subjects)


def halo_records(emulator: Emulator, entity: str) -> list[dict[str, Any]]:
    with HaloClient(connection_for(emulator)) as halo:
        return list(halo.iter_records(entity, {}, page_size=500))
