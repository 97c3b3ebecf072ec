"""Benchmark: the ldap module over a large slapd directory, full sync then a 1 % delta run.

A throwaway slapd (StartTLS with a test CA, bulk-loaded offline with ``slapadd``) holds
``--users`` people; a Halo emulator with ``--latency-ms`` on every answer stands in for a
cloud Halo. The agent runs as it does in production (``Runner`` over the settings folder,
the ``ldap`` module, ``openldap`` profile) in a child process, so its CPU time is its own and
not the emulator's, which runs in this process. Then ``--changed-percent`` of the people get a
new phone number over LDAP and the agent runs again: a delta run.

Beside it, in the same run, a naive per-record client (read the directory, then for each
person one search GET and one POST; no batching, no fingerprints, so its second run resends
everyone) runs on ``--naive-users`` people against its own emulator; its figures are
extrapolated linearly to ``--users`` and labelled so.

The agent's pacer and the emulator's limiter are set far above hosted Halo's 300 requests per
5 minutes, so the run is not slowed down; the time the same requests need under the hosted
limit is computed from the request count (formula under the table). The clients' code is
in ``ldap_sync_children.py``, the table and the targets in ``ldap_sync_figures.py``.

    .venv/bin/python bench/ldap_sync.py                    # 100,000 users, about 5 minutes
    .venv/bin/python bench/ldap_sync.py --users 2000       # quick check
    .venv/bin/python bench/ldap_sync.py --profile 25       # also cProfile a further delta run
"""

from __future__ import annotations

import argparse
import io
import json
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests"))  # the test suite's throwaway slapd and CA

from ldap_sync_figures import (  # noqa: E402
    BENCH_REQUESTS_PER_WINDOW,
    HOSTED_WINDOW_SECONDS,
    BenchSettings,
    Figures,
    print_report,
)
from servers.certificates import CertificateAuthority  # noqa: E402
from servers.slapd import Slapd, base_ldif, people_ldif, person, person_dn  # noqa: E402

from core.settings.model import HaloConnection, ModuleSettings, Settings  # noqa: E402
from core.settings.secrets import Secret  # noqa: E402
from core.settings.writer import save_settings  # noqa: E402
from halo_emulator import Emulator  # noqa: E402
from halo_emulator.faults import FaultSettings  # noqa: E402

CHILDREN = BENCH / "ldap_sync_children.py"
SECRET = "bench-ldap-secret-7e21"
MODULE = "ldap"
PEOPLE_OU = "ou=people,dc=example,dc=com"


# -- the directory ------------------------------------------------------------------------------


def uid(number: int) -> str:
    return f"user{number:06d}"


def directory_ldif(users: int) -> str:
    people = [
        (
            "people",
            person(
                uid(number),
                "Bench",
                f"User{number}",
                mail=f"{uid(number)}@example.com",
                phone=f"+44 113 496 {number % 10_000:04d}",
            ),
        )
        for number in range(users)
    ]
    return base_ldif(("people",)) + people_ldif(people)


def change_phones(directory: Slapd, numbers: range, stamp: str) -> float:
    """Give each numbered person a new phone number over LDAP; returns the seconds it took."""
    import ldap3

    started = time.monotonic()
    with directory.admin() as connection:
        for number in numbers:
            change = {"telephoneNumber": [(ldap3.MODIFY_REPLACE, [f"+44 20 7946 {stamp}"])]}
            connection.modify(person_dn(uid(number)), change)
    return time.monotonic() - started


def changed_numbers(settings: BenchSettings, offset: int) -> range:
    """Every (users / changed)-th person, starting at ``offset``: spread over the directory."""
    step = max(1, settings.users // settings.changed)
    return range(offset, settings.users, step)[: settings.changed]


# -- the agent ------------------------------------------------------------------------------


def agent_folder(root: Path, emulator: Emulator, directory: Slapd, settings: BenchSettings) -> Path:
    connection = HaloConnection(
        url=emulator.base_url,
        client_id=emulator.client_id,
        client_secret=Secret(emulator.client_secret),
        requests_per_window=BENCH_REQUESTS_PER_WINDOW,
        window_seconds=HOSTED_WINDOW_SECONDS,
        batch_size=settings.batch_size,
    )
    folder_settings = Settings.new(root / "agent" / "appsettings.json", connection)
    options = {
        "server": directory.url,
        "start_tls": True,
        "ca_file": str(directory.ca_file),
        "bind_dn": directory.service_dn,
        "bind_password": Secret(directory.service_password),
        "profile": "openldap",
        "base_dns": PEOPLE_OU,
        "page_size": settings.page_size,
    }
    folder_settings.modules[:] = [ModuleSettings(name=MODULE, type="ldap", options=options)]
    save_settings(folder_settings)
    return folder_settings.folder


# -- running and counting -------------------------------------------------------------------


def run_child(kind: str, job: dict[str, Any]) -> dict[str, Any]:
    """Run one client in a process of its own (``ldap_sync_children.py``); its figures."""
    command = [sys.executable, str(CHILDREN), kind, json.dumps(job)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def figures(emulator: Emulator, label: str, users: int, child: dict[str, Any]) -> Figures:
    """The emulator's counters since the last reset, with the child's own measurements."""
    stats = emulator.stats()
    by_kind = {"token": 0, "reads": 0, "writes": 0, "other": 0}
    for endpoint, count in stats["by_endpoint"].items():
        by_kind[request_kind(endpoint)] += count
    return Figures(
        label=label,
        users=users,
        **by_kind,
        rate_limited=int(stats["by_status"].get("429", 0)),
        ldap_pages=int(child["ldap_pages"]),
        wall_seconds=float(child["wall_seconds"]),
        cpu_seconds=float(child["cpu_seconds"]),
        process_cpu_seconds=float(child["process_cpu_seconds"]),
        listing_cpu_seconds=float(child.get("listing_cpu_seconds", 0.0)),
    )


def request_kind(endpoint: str) -> str:
    method, _, path = endpoint.partition(" ")
    if path.endswith("/token"):
        return "token"
    if path.startswith("/api/"):
        return {"GET": "reads", "POST": "writes"}.get(method, "other")
    return "other"


def new_emulator(settings: BenchSettings) -> Emulator:
    return Emulator(
        client_secret=SECRET,
        rate_limit=(BENCH_REQUESTS_PER_WINDOW, HOSTED_WINDOW_SECONDS),
        faults=FaultSettings(latency_ms=settings.latency_ms),
    )


def user_count(emulator: Emulator) -> int:
    return int(emulator.stats()["records"].get("users", 0))


def agent_run(
    emulator: Emulator, folder: Path, label: str, users: int, profile_path: str = ""
) -> tuple[Figures, dict[str, Any]]:
    emulator.reset_stats()
    child = run_child("agent", {"folder": str(folder), "profile": profile_path})
    if child["outcome"] != "succeeded":
        raise SystemExit(f"{label}: the agent's run {child['outcome']}: {child['error']}")
    return figures(emulator, label, users, child), child["counts"]


def expect(label: str, what: str, found: int, wanted: int) -> None:
    """Stop the benchmark when a run did not do what the scenario says it did."""
    if found != wanted:
        raise SystemExit(f"{label}: {what} is {found:,}, expected {wanted:,}")


# -- scenarios ------------------------------------------------------------------------------


def run_agent(settings: BenchSettings, directory: Slapd) -> tuple[list[Figures], str]:
    """A full sync, a delta run after ``changed`` edits, and (with --profile) one more
    delta run under cProfile, whose top functions are the text returned."""
    with new_emulator(settings) as emulator, tempfile.TemporaryDirectory() as root:
        folder = agent_folder(Path(root), emulator, directory, settings)
        label = "agent: full sync"
        full, counts = agent_run(emulator, folder, label, settings.users)
        expect(label, "users created", counts["created"], settings.users)
        expect(label, "users in the emulator", user_count(emulator), settings.users)
        change_phones(directory, changed_numbers(settings, 0), "0001")
        label = f"agent: delta, {settings.changed:,} changed"
        delta, counts = agent_run(emulator, folder, label, settings.users)
        expect(label, "users updated", counts["updated"], settings.changed)
        expect(label, "users created or deactivated", counts["created"] + counts["deactivated"], 0)
        check_phone(emulator, changed_numbers(settings, 0)[-1], "+44 20 7946 0001")
        profile = profile_delta(emulator, folder, directory, settings)
    return [full, delta], profile


def check_phone(emulator: Emulator, number: int, phone: str) -> None:
    """One changed person, read back from the emulator: the delta run really updated Halo."""
    from core.halo.client import HaloClient

    connection = HaloConnection(
        url=emulator.base_url, client_id=emulator.client_id, client_secret=Secret(SECRET)
    )
    mail = f"{uid(number)}@example.com"
    with HaloClient(connection) as client:
        found = [u for u in client.iter_records("Users", {"search": mail}) if u["login"]]
    phones = [user.get("phonenumber") for user in found]
    if phones != [phone]:
        raise SystemExit(f"after the delta run Halo holds {phones} for {mail}, not [{phone!r}]")


def profile_delta(
    emulator: Emulator, folder: Path, directory: Slapd, settings: BenchSettings
) -> str:
    """Another delta run of the same size under cProfile (slower, so not in the table):
    where its time goes, then the top functions by cumulative and by own time."""
    if not settings.profile_lines:
        return ""
    change_phones(directory, changed_numbers(settings, 1), "0002")
    with tempfile.TemporaryDirectory() as scratch:
        path = str(Path(scratch) / "delta.prof")
        profiled, _ = agent_run(emulator, folder, "agent: profiled delta", settings.users, path)
        text = io.StringIO()
        stats = pstats.Stats(path, stream=text).strip_dirs()
        shares = profile_shares(stats)
        for order in ("cumulative", "tottime"):
            stats.sort_stats(order).print_stats(settings.profile_lines)
    lines = [line for line in text.getvalue().splitlines() if line.strip() and path not in line]
    heading = f"cProfile of another delta run ({profiled.cpu_seconds:.2f} s CPU when profiled):"
    return "\n".join([heading, shares, *lines])


# The phases of an ldap run, by the function that does each (file, function name).
PROFILE_PHASES = {
    "ids-only listing of the scope (LdapImport._present)": ("ldap_import.py", "_present"),
    "engine: plan, guard, POSTs (RunContext.sync_records)": ("context.py", "sync_records"),
    "  of which the delta search, read as the engine plans (LdapImport._users)": (
        "ldap_import.py",
        "_users",
    ),
}


def profile_shares(stats: pstats.Stats) -> str:
    """Cumulative time of each phase as a share of the whole run (``Runner.run``); wall time,
    the profiler's default, which on this CPU-bound run differs from CPU time by the waits for
    a dozen answers (the profiler's own overhead weighs more)."""
    cumulative: dict[tuple[str, str], float] = {}
    for (file, _, function), (_, _, _, total, _) in stats.stats.items():  # type: ignore[attr-defined]
        key = (file, function)
        cumulative[key] = max(cumulative.get(key, 0.0), total)
    whole = cumulative.get(("runner.py", "run"), 0.0)
    lines = [f"  whole run (Runner.run): {whole:.2f} s"]
    for label, key in PROFILE_PHASES.items():
        seconds = cumulative.get(key, 0.0)
        share = seconds / whole if whole else 0.0
        lines.append(f"  {label}: {seconds:.2f} s ({share:.0%})")
    return "\n".join(lines)


def run_naive(settings: BenchSettings, directory: Slapd) -> list[Figures]:
    """The naive client twice over the same people: a first run, then a run that resends all."""
    with new_emulator(settings) as emulator:
        job = {
            "halo_url": emulator.base_url,
            "client_id": emulator.client_id,
            "client_secret": SECRET,
            "ldap_url": directory.url,
            "ca_file": str(directory.ca_file),
            "bind_dn": directory.service_dn,
            "bind_password": directory.service_password,
            "base_dn": PEOPLE_OU,
            "page_size": settings.page_size,
            "count": settings.naive_users,
        }
        results = []
        for label in ("naive: first run", "naive: next run"):
            emulator.reset_stats()
            child = run_child("naive", job)
            results.append(figures(emulator, label, settings.naive_users, child))
            expect(label, "users in the emulator", user_count(emulator), settings.naive_users)
    return results


# -- command line -----------------------------------------------------------------------------


def parse_settings(argv: list[str] | None) -> BenchSettings:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100_000, help="people in slapd (100000)")
    parser.add_argument(
        "--naive-users",
        type=int,
        default=1000,
        help="people the naive client really syncs; extrapolated to --users (1000)",
    )
    parser.add_argument("--changed-percent", type=float, default=1.0, help="for the delta (1)")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="per request (20)")
    parser.add_argument("--batch-size", type=int, default=100, help="records per POST (100)")
    parser.add_argument("--page-size", type=int, default=500, help="LDAP page size (500)")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="LINES", help="cProfile one more delta run"
    )
    args = parser.parse_args(argv)
    if min(args.users, args.naive_users, args.batch_size, args.page_size) < 1:
        parser.error("counts and sizes must be at least 1")
    if not 0 < args.changed_percent <= 100:
        parser.error("--changed-percent must be above 0 and at most 100")
    return BenchSettings(
        users=args.users,
        naive_users=min(args.naive_users, args.users),
        changed_percent=args.changed_percent,
        latency_ms=args.latency_ms,
        batch_size=args.batch_size,
        page_size=args.page_size,
        profile_lines=args.profile,
    )


def main(argv: list[str] | None = None) -> int:
    settings = parse_settings(argv)
    with tempfile.TemporaryDirectory() as scratch:
        authority = CertificateAuthority(Path(scratch) / "ca")
        started = time.monotonic()
        directory = Slapd(ca=authority).load(directory_ldif(settings.users))
        with directory:
            print(f"slapd loaded with {settings.users:,} people in "
                  f"{time.monotonic() - started:.1f} s", end="\n\n")  # fmt: skip
            agent, profile = run_agent(settings, directory)
            naive = run_naive(settings, directory)
    met = print_report(settings, agent, naive)
    if profile:
        print("", profile, sep="\n")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
