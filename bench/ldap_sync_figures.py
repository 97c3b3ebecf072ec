"""What ``ldap_sync.py`` measures and prints: a run's settings, each client run's figures,
the table with its ratios and notes, and the issue's targets."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from halo_emulator.rate_limit import DEFAULT_LIMIT

HOSTED_REQUESTS_PER_WINDOW, HOSTED_WINDOW_SECONDS = DEFAULT_LIMIT
# Far above anything the bench sends in a window: neither the pacer nor the limiter bites.
BENCH_REQUESTS_PER_WINDOW = 1_000_000
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
    listing_cpu_seconds: float  # the agent's ids-only listing of the scope (delta runs)
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
            listing_cpu_seconds=scaled(self.listing_cpu_seconds),
            measured_users=self.users,
        )


def hosted_lower_bound_seconds(accepted_requests: int, wall_seconds: float) -> float:
    """The least time these requests take under 300 per rolling 300 s: the last one cannot
    leave before floor((R - 1) / 300) windows have passed, nor before the run's own time."""
    if accepted_requests <= 0:
        return wall_seconds
    full_windows = (accepted_requests - 1) // HOSTED_REQUESTS_PER_WINDOW
    return max(wall_seconds, full_windows * HOSTED_WINDOW_SECONDS)


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
    listing_share = delta.listing_cpu_seconds / delta.cpu_seconds if delta.cpu_seconds else 0.0
    return "\n".join(
        [
            "",
            "requests: counted by the emulator, by kind: token (POST /auth/token), reads (GET",
            "  /api/...), writes (POST /api/...). 429s: refused by the emulator's limiter.",
            "LDAP pp: LDAP search pages the client asked slapd for (the agent's counted, the",
            "  naive client's computed from its page size).",
            "wall, CPU: the client's run, measured in its own process (user + system CPU; the",
            "  emulator and slapd run elsewhere). The agent's whole process, interpreter start",
            f"  and imports included: {processes}.",
            "  Of the delta run's CPU, the ids-only listing of the scope (LdapImport._present:",
            f"  every entryUUID, to find who left) took {delta.listing_cpu_seconds:.2f} s "
            f"({listing_share:.0%}).",
            "hosted ≥: a lower bound for the same requests under hosted Halo's "
            f"{HOSTED_REQUESTS_PER_WINDOW} per {HOSTED_WINDOW_SECONDS:g} s:",
            f"  max(wall, floor((R - 1) / {HOSTED_REQUESTS_PER_WINDOW}) × "
            f"{HOSTED_WINDOW_SECONDS:g} s), R = requests - 429s; request i cannot leave",
            f"  before floor(i / {HOSTED_REQUESTS_PER_WINDOW}) windows have rolled.",
        ]
    )
