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
limit is computed from the request count (formula under the table).

    .venv/bin/python bench/ldap_sync.py                    # 100,000 users, ~10 minutes
    .venv/bin/python bench/ldap_sync.py --users 2000       # quick check
    .venv/bin/python bench/ldap_sync.py --profile 25       # also cProfile a further delta run
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the test suite's throwaway slapd and CA

from servers.certificates import CertificateAuthority  # noqa: E402
from servers.slapd import Slapd, base_ldif, people_ldif, person, person_dn  # noqa: E402

from core.run.request import RunRequest  # noqa: E402
from core.run.runner import Runner  # noqa: E402
from core.settings.model import HaloConnection, ModuleSettings, Settings  # noqa: E402
from core.settings.reader import load_settings  # noqa: E402
from core.settings.secrets import Secret  # noqa: E402
from core.settings.writer import save_settings  # noqa: E402
from halo_emulator import Emulator  # noqa: E402
from halo_emulator.faults import FaultSettings  # noqa: E402
from halo_emulator.rate_limit import DEFAULT_LIMIT  # noqa: E402

HOSTED_REQUESTS_PER_WINDOW, HOSTED_WINDOW_SECONDS = DEFAULT_LIMIT
# Far above anything this bench sends in a window: neither the pacer nor the limiter bites.
BENCH_REQUESTS_PER_WINDOW = 1_000_000
SECRET = "bench-ldap-secret-7e21"
MODULE = "ldap"
PEOPLE_OU = "ou=people,dc=example,dc=com"
PEOPLE_FILTER = "(objectClass=inetOrgPerson)"
NAIVE_ATTRIBUTES = ["uid", "cn", "givenName", "sn", "mail", "telephoneNumber"]
DELTA_CPU_TARGET_SECONDS = 5.0
FULL_WRITE_ALLOWANCE = 1.05


@dataclass(frozen=True)
class BenchSettings:
    users: int
    naive_users: int
    changed_percent: float
    latency_ms: float
    batch_size: int
    page_size: int
    profile_lines: int

    @property
    def changed(self) -> int:
        return max(1, round(self.users * self.changed_percent / 100))


@dataclass(frozen=True)
class Figures:
    """What one run cost: requests as the emulator counted them, time as the client saw it."""

    label: str
    users: int
    token: int
    reads: int
    writes: int
    other: int
    rate_limited: int
    ldap_pages: int
    wall_seconds: float
    cpu_seconds: float  # the client's CPU during the run (a child process: not the emulator's)
    process_cpu_seconds: float  # the whole child process, interpreter start and imports too
    measured_users: int = 0  # set when the figures were extrapolated from fewer users

    @property
    def requests(self) -> int:
        return self.token + self.reads + self.writes + self.other

    @property
    def hosted_seconds(self) -> float:
        return hosted_lower_bound_seconds(self.requests - self.rate_limited, self.wall_seconds)

    def extrapolated_to(self, users: int) -> Figures:
        """Per-user figures scaled linearly to ``users``; the one token request stays one."""
        factor = users / self.users

        def scaled(value: float) -> float:
            return value * factor

        return replace(
            self,
            users=users,
            reads=round(scaled(self.reads)),
            writes=round(scaled(self.writes)),
            other=round(scaled(self.other)),
            rate_limited=round(scaled(self.rate_limited)),
            ldap_pages=math.ceil(scaled(self.ldap_pages)),
            wall_seconds=scaled(self.wall_seconds),
            cpu_seconds=scaled(self.cpu_seconds),
            process_cpu_seconds=scaled(self.process_cpu_seconds),
            measured_users=self.users,
        )


def hosted_lower_bound_seconds(accepted_requests: int, wall_seconds: float) -> float:
    """The least time these requests take under 300 per rolling 300 s: the last one cannot
    leave before floor((R - 1) / 300) windows have passed, nor before the run's own time."""
    if accepted_requests <= 0:
        return wall_seconds
    full_windows = (accepted_requests - 1) // HOSTED_REQUESTS_PER_WINDOW
    return max(wall_seconds, full_windows * HOSTED_WINDOW_SECONDS)


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


def agent_child(folder: Path, profile_path: str) -> dict[str, Any]:
    """Runs in the child process: one ``Runner`` run of the folder, as ``sync`` would."""
    from core.sources.ldap_directory import LdapDirectory

    pages = [0]
    search_page = LdapDirectory._search_page

    def counted_page(self: LdapDirectory, *args: Any, **kwargs: Any) -> Any:
        pages[0] += 1
        return search_page(self, *args, **kwargs)

    LdapDirectory._search_page = counted_page  # type: ignore[method-assign]
    runner = Runner(load_settings(folder))
    profiler = cProfile.Profile() if profile_path else None
    started_cpu, started_wall = time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    [result] = runner.run(RunRequest())
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile_path)
    return {
        "outcome": str(result.outcome),
        "error": result.error,
        "counts": asdict(result.counts),
        "cpu_seconds": time.process_time() - started_cpu,
        "wall_seconds": time.perf_counter() - started_wall,
        "process_cpu_seconds": own_cpu_seconds(),
        "ldap_pages": pages[0],
    }


# -- the naive client -----------------------------------------------------------------------


def naive_child(job: dict[str, Any]) -> dict[str, Any]:
    """Runs in a child process: read ``count`` people, then a search GET + a POST for each."""
    import httpx
    import ldap3

    # Imported first: a constant cost, and these figures are extrapolated per person.
    started_cpu, started_wall = time.process_time(), time.perf_counter()
    tls = ldap3.Tls(ca_certs_file=job["ca_file"])
    server = ldap3.Server(job["ldap_url"], tls=tls)
    people = []
    with ldap3.Connection(server, job["bind_dn"], job["bind_password"]) as directory:
        directory.start_tls()
        directory.bind()
        for entry in directory.extend.standard.paged_search(
            PEOPLE_OU, PEOPLE_FILTER, attributes=NAIVE_ATTRIBUTES, paged_size=job["page_size"]
        ):
            people.append(entry["attributes"])
            if len(people) == job["count"]:
                break
    with httpx.Client(base_url=job["halo_url"]) as http:
        headers = {"Authorization": f"Bearer {naive_token(http, job)}"}
        for attributes in people:
            naive_upsert(http, headers, attributes)
    return {
        "cpu_seconds": time.process_time() - started_cpu,
        "wall_seconds": time.perf_counter() - started_wall,
        "process_cpu_seconds": own_cpu_seconds(),
        "ldap_pages": math.ceil(len(people) / job["page_size"]),
    }


def naive_token(http: Any, job: dict[str, Any]) -> str:
    form = {
        "grant_type": "client_credentials",
        "client_id": job["client_id"],
        "client_secret": job["client_secret"],
        "scope": "all",
    }
    response = http.post("/auth/token", data=form)
    response.raise_for_status()
    return str(response.json()["access_token"])


def naive_upsert(http: Any, headers: dict[str, str], attributes: dict[str, Any]) -> None:
    """Look the person up by e-mail, then create or overwrite them: two requests, always."""
    mail = attributes["mail"][0]
    found = http.get("/api/Users", params={"search": mail}, headers=headers)
    found.raise_for_status()
    matches = [u for u in found.json()["users"] if u.get("emailaddress") == mail]
    user = {
        "name": attributes["cn"][0],
        "firstname": attributes["givenName"][0],
        "surname": attributes["sn"][0],
        "emailaddress": mail,
        "login": attributes["uid"][0],
        "phonenumber": (attributes.get("telephoneNumber") or [""])[0],
        "site_id": 1,
    }
    if matches:
        user["id"] = matches[0]["id"]
    http.post("/api/Users", json=[user], headers=headers).raise_for_status()


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- running and counting -------------------------------------------------------------------


def run_child(*arguments: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", *arguments]
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
    child = run_child("agent", str(folder), profile_path)
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
    """Another delta run of the same size under cProfile (slower, so not in the table)."""
    if not settings.profile_lines:
        return ""
    change_phones(directory, changed_numbers(settings, 1), "0002")
    with tempfile.TemporaryDirectory() as scratch:
        path = str(Path(scratch) / "delta.prof")
        profiled, _ = agent_run(emulator, folder, "agent: profiled delta", settings.users, path)
        text = io.StringIO()
        stats = pstats.Stats(path, stream=text).strip_dirs()
        for order in ("cumulative", "tottime"):
            stats.sort_stats(order).print_stats(settings.profile_lines)
    lines = [line for line in text.getvalue().splitlines() if line.strip()][1:]
    heading = f"cProfile of a second delta run ({profiled.cpu_seconds:.2f} s CPU when profiled):"
    return "\n".join([heading, *(line for line in lines if not line.startswith(path))])


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
            "page_size": settings.page_size,
            "count": settings.naive_users,
        }
        results = []
        for label in ("naive: first run", "naive: next run"):
            emulator.reset_stats()
            child = run_child("naive", json.dumps(job))
            results.append(figures(emulator, label, settings.naive_users, child))
            expect(label, "users in the emulator", user_count(emulator), settings.naive_users)
    return results


# -- report ---------------------------------------------------------------------------------


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes = seconds / 60
    if minutes < 120:
        return f"{minutes:.1f} min"
    return f"{math.floor(minutes / 60)} h {round(minutes % 60):02d} min"


def row(label: str, *cells: str) -> str:
    widths = (8, 9, 6, 8, 6, 6, 8, 8, 8, 11)
    figures_text = " ".join(f"{cell:>{width}}" for cell, width in zip(cells, widths, strict=False))
    note = f"  {cells[len(widths)]}" if len(cells) > len(widths) and cells[-1] else ""
    return f"{label:32}{figures_text}{note}"


def figure_row(result: Figures) -> str:
    note = f"extrapolated from {result.measured_users:,}" if result.measured_users else ""
    return row(
        result.label,
        f"{result.users:,}",
        f"{result.requests:,}",
        f"{result.token:,}",
        f"{result.reads:,}",
        f"{result.writes:,}",
        f"{result.rate_limited:,}",
        f"{result.ldap_pages:,}",
        duration(result.wall_seconds),
        f"{result.cpu_seconds:.1f} s",
        duration(result.hosted_seconds),
        note,
    )


def ratio(naive: float, agent: float) -> str:
    return f"{naive / agent:,.0f}×" if agent else "n/a"


def ratio_row(label: str, naive: Figures, agent: Figures) -> str:
    return row(
        label,
        "",
        ratio(naive.requests, agent.requests),
        "",
        "",
        ratio(naive.writes, agent.writes),
        "",
        "",
        ratio(naive.wall_seconds, agent.wall_seconds),
        ratio(naive.cpu_seconds, agent.cpu_seconds),
        ratio(naive.hosted_seconds, agent.hosted_seconds),
    )


def print_report(settings: BenchSettings, agent: list[Figures], naive: list[Figures]) -> bool:
    """The table, the ratios and the targets; returns whether every target is met."""
    full, delta = agent
    shown = naive
    if settings.naive_users != settings.users:
        shown = [
            *naive,
            *(
                replace(n.extrapolated_to(settings.users), label=n.label + ", extrap.")
                for n in naive
            ),
        ]
    print(describe_run(settings), end="\n\n")
    print(row("", "users", "requests", "token", "reads", "writes", "429s", "LDAP pp",
              "wall", "CPU", "hosted ≥"))  # fmt: skip
    for result in [full, delta, *shown]:
        print(figure_row(result))
    print(ratio_row("naive / agent, first run", shown[-2], full))
    print(ratio_row("naive / agent, next run", shown[-1], delta))
    print(describe_columns(full, delta))
    return print_targets(settings, full, delta)


def print_targets(settings: BenchSettings, full: Figures, delta: Figures) -> bool:
    full_limit = FULL_WRITE_ALLOWANCE * settings.users / settings.batch_size
    delta_writes = math.ceil(settings.changed / settings.batch_size)
    checks = [
        (f"full sync writes {full.writes:,} ≤ 1.05 × {settings.users:,} / "
         f"{settings.batch_size} = {full_limit:,.0f}", full.writes <= full_limit),
        (f"full sync 429s {full.rate_limited} = 0", full.rate_limited == 0),
        (f"delta writes {delta.writes} = ⌈{settings.changed:,} / {settings.batch_size}⌉ = "
         f"{delta_writes}", delta.writes == delta_writes),
        (f"delta agent CPU {delta.cpu_seconds:.2f} s < {DELTA_CPU_TARGET_SECONDS:g} s",
         delta.cpu_seconds < DELTA_CPU_TARGET_SECONDS),
    ]  # fmt: skip
    print("\nTargets (issue 8):")
    for text, met in checks:
        print(f"  {'met    ' if met else 'MISSED '} {text}")
    return all(met for _, met in checks)


def describe_run(settings: BenchSettings) -> str:
    naive = f"{settings.naive_users:,} measured"
    if settings.naive_users != settings.users:
        naive += f", extrapolated linearly to {settings.users:,}"
    return (
        f"ldap module (openldap profile, StartTLS) over {settings.users:,} people in slapd, "
        f"into a fresh Halo emulator\n"
        f"  agent: the Runner in a child process; batch size {settings.batch_size}, LDAP page "
        f"size {settings.page_size};\n"
        f"         full sync, then {settings.changed:,} people ({settings.changed_percent:g} %) "
        f"get a new phone number, then a delta run\n"
        f"  naive: one search GET + one POST per person, in a child process; {naive}\n"
        f"  injected latency {settings.latency_ms:g} ms per request; pacer and limiter at "
        f"{BENCH_REQUESTS_PER_WINDOW:,} per {HOSTED_WINDOW_SECONDS:g} s (not binding)"
    )


def describe_columns(full: Figures, delta: Figures) -> str:
    processes = ", ".join(
        f"{result.label.split(': ')[1].split(',')[0]} {result.process_cpu_seconds:.1f} s"
        for result in (full, delta)
    )
    return "\n".join(
        [
            "",
            "requests: counted by the emulator, by kind: token (POST /auth/token), reads (GET",
            "  /api/...), writes (POST /api/...). 429s: refused by the emulator's limiter.",
            "LDAP pp: LDAP search pages the client asked slapd for (bench instrumentation).",
            "wall, CPU: the client's run, measured in its own process (user + system CPU; the",
            "  emulator and slapd run elsewhere). The agent's whole process, interpreter start",
            f"  and imports included: {processes}.",
            "hosted ≥: a lower bound for the same requests under hosted Halo's "
            f"{HOSTED_REQUESTS_PER_WINDOW} per {HOSTED_WINDOW_SECONDS:g} s:",
            f"  max(wall, floor((R - 1) / {HOSTED_REQUESTS_PER_WINDOW}) × "
            f"{HOSTED_WINDOW_SECONDS:g} s), R = requests - 429s; request i cannot leave",
            f"  before floor(i / {HOSTED_REQUESTS_PER_WINDOW}) windows have rolled.",
        ]
    )


# -- command line -----------------------------------------------------------------------------


def parse_settings(argv: list[str] | None) -> tuple[BenchSettings, list[str]]:
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
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.users, args.naive_users, args.batch_size, args.page_size) < 1:
        parser.error("counts and sizes must be at least 1")
    if not 0 < args.changed_percent <= 100:
        parser.error("--changed-percent must be above 0 and at most 100")
    settings = BenchSettings(
        users=args.users,
        naive_users=min(args.naive_users, args.users),
        changed_percent=args.changed_percent,
        latency_ms=args.latency_ms,
        batch_size=args.batch_size,
        page_size=args.page_size,
        profile_lines=args.profile,
    )
    return settings, args.child or []


def main(argv: list[str] | None = None) -> int:
    settings, child = parse_settings(argv)
    if child:
        kind, *rest = child
        answer = (
            agent_child(Path(rest[0]), rest[1])
            if kind == "agent"
            else naive_child(json.loads(rest[0]))
        )
        print(json.dumps(answer))
        return 0
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
