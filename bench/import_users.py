"""Benchmark: import N users into the Halo emulator, batched agent versus a naive loop.

Both clients run in the same process against a fresh emulator each, with the same injected
latency (the round trip to a cloud Halo). The batched client is the product's own path
(``RecordSync`` over ``HaloClient`` with its pacer); the naive one POSTs one user per request
and, like many scripts, sleeps a fixed time after a 429 and sends the same user again.

Hosted Halo allows 300 requests per rolling 5 minutes; waiting out real windows would take
hours, so the emulator's limiter (and the batched client's pacer, and the naive loop's
fixed wait) run with time compressed by ``--time-scale``. The hosted-equivalent column is
not scaled from those waits: it is computed from the measured request count and the measured
time per request, with the formula printed under the table.

    .venv/bin/python bench/import_users.py                 # defaults, a few minutes
    .venv/bin/python bench/import_users.py --users 2000    # quick check
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from core.halo.client import HaloClient, RetryPolicy
from core.halo.pacing import RequestPacer
from core.settings.model import HaloConnection
from core.settings.secrets import Secret
from core.state.store import StateStore
from core.sync.engine import RecordSync
from core.sync.records import USERS, SourceRecord
from halo_emulator import Emulator
from halo_emulator.faults import FaultSettings
from halo_emulator.rate_limit import DEFAULT_LIMIT

HOSTED_REQUESTS_PER_WINDOW, HOSTED_WINDOW_SECONDS = DEFAULT_LIMIT
NAIVE_RETRY_SECONDS = 60.0  # what a typical script sleeps after a 429 (hosted time)
SITE_ID = 1
MODULE = "bench"


@dataclass(frozen=True)
class BenchSettings:
    users: int
    naive_users: int
    latency_ms: float
    batch_size: int
    time_scale: float
    naive_retry_seconds: float

    @property
    def window_seconds(self) -> float:
        """The compressed rate-limit window used in this run."""
        return HOSTED_WINDOW_SECONDS / self.time_scale


@dataclass(frozen=True)
class Measurement:
    """What one scenario cost, read from the emulator's counters and a wall clock."""

    label: str
    users: int
    requests: int
    rate_limited: int
    wall_seconds: float
    waiting_seconds: float
    measured_users: int = 0  # set when the figures were extrapolated from fewer users

    @property
    def accepted_requests(self) -> int:
        return self.requests - self.rate_limited

    @property
    def seconds_per_request(self) -> float:
        """Wall time spent in requests (not in deliberate waits), per request sent."""
        return (self.wall_seconds - self.waiting_seconds) / self.requests if self.requests else 0.0

    @property
    def hosted_seconds(self) -> float:
        return hosted_minimum_seconds(self.accepted_requests, self.seconds_per_request)

    def extrapolated_to(self, users: int) -> Measurement:
        """The same figures scaled linearly to ``users`` (one request per user stays one)."""
        factor = users / self.users
        return replace(
            self,
            users=users,
            requests=round(self.requests * factor),
            rate_limited=round(self.rate_limited * factor),
            wall_seconds=self.wall_seconds * factor,
            waiting_seconds=self.waiting_seconds * factor,
            measured_users=self.users,
        )


def hosted_minimum_seconds(accepted_requests: int, seconds_per_request: float) -> float:
    """The least time ``accepted_requests`` can take under 300 requests per rolling 300 s.

    Request i (0-based) cannot leave before floor(i / 300) whole windows have passed, so the
    last one waits floor((R - 1) / 300) windows and then the final block of requests still
    has to be sent; a client slower than the limit is bound by its own request time instead.
    """
    if accepted_requests <= 0:
        return 0.0
    full_windows = (accepted_requests - 1) // HOSTED_REQUESTS_PER_WINDOW
    last_block = accepted_requests - full_windows * HOSTED_REQUESTS_PER_WINDOW
    limited = full_windows * HOSTED_WINDOW_SECONDS + last_block * seconds_per_request
    return max(limited, accepted_requests * seconds_per_request)


# -- scenarios --------------------------------------------------------------------------------


def make_users(count: int) -> list[SourceRecord]:
    return [
        SourceRecord(
            key=f"user{number:06d}@example.com",
            fields={
                "name": f"Bench User {number}",
                "emailaddress": f"user{number:06d}@example.com",
                "site_id": SITE_ID,
            },
        )
        for number in range(count)
    ]


def new_emulator(settings: BenchSettings) -> Emulator:
    """An emulator with the compressed limit and the latency; `with` starts it."""
    return Emulator(
        rate_limit=(HOSTED_REQUESTS_PER_WINDOW, settings.window_seconds),
        faults=FaultSettings(latency_ms=settings.latency_ms),
    )


def batched_client(emulator: Emulator, settings: BenchSettings) -> HaloClient:
    """The product's client, with its pacer and retry waits compressed like the emulator."""
    scale = settings.time_scale
    connection = HaloConnection(
        url=emulator.base_url,
        client_id=emulator.client_id,
        client_secret=Secret(emulator.client_secret),
        requests_per_window=HOSTED_REQUESTS_PER_WINDOW,
        window_seconds=settings.window_seconds,
        batch_size=settings.batch_size,
    )
    retry = RetryPolicy(
        backoff_base_seconds=1.0 / scale,
        backoff_cap_seconds=60.0 / scale,
        rate_limit_patience_seconds=330.0 / scale,
    )
    pacer = RequestPacer(HOSTED_REQUESTS_PER_WINDOW, settings.window_seconds)
    return HaloClient(connection, retry=retry, pacer=pacer)


def run_batched(settings: BenchSettings) -> list[Measurement]:
    """A first import of every user, then a second run with nothing changed."""
    records = make_users(settings.users)
    with (
        new_emulator(settings) as emulator,
        batched_client(emulator, settings) as client,
        tempfile.TemporaryDirectory() as folder,
    ):
        sync = RecordSync(
            client=client, state=StateStore(Path(folder)), module=MODULE, target=USERS
        )
        return [
            timed_sync(emulator, sync, records, "batched (RecordSync)", settings.users),
            timed_sync(emulator, sync, records, "batched, 2nd run, unchanged", 0),
        ]


def timed_sync(
    emulator: Emulator, sync: RecordSync, records: list[SourceRecord], label: str, creates: int
) -> Measurement:
    """One ``RecordSync.run`` with fresh counters; checks that ``creates`` users appeared."""
    pacer = sync.client.pacer
    baseline = user_count(emulator)
    emulator.reset_stats()
    waited_before = pacer.total_wait_seconds
    started = time.monotonic()
    sync.run(records)
    wall = time.monotonic() - started
    check_created(emulator, baseline, creates, label)
    waited = pacer.total_wait_seconds - waited_before
    return measure(emulator, label, len(records), wall, waited)


def run_naive(settings: BenchSettings) -> Measurement:
    """One POST per user, the way a quick script does it, timed and checked."""
    retry_wait = settings.naive_retry_seconds / settings.time_scale
    label = "naive loop (one POST/user)"
    with new_emulator(settings) as emulator, httpx.Client(base_url=emulator.base_url) as http:
        baseline = user_count(emulator)
        started = time.monotonic()
        headers = {"Authorization": f"Bearer {fetch_token(http, emulator)}"}
        waited = sum(
            post_until_accepted(http, record.fields, headers, retry_wait)
            for record in make_users(settings.naive_users)
        )
        wall = time.monotonic() - started
        check_created(emulator, baseline, settings.naive_users, label)
        return measure(emulator, label, settings.naive_users, wall, waited)


def post_until_accepted(
    http: httpx.Client, fields: dict[str, object], headers: dict[str, str], retry_wait: float
) -> float:
    """POST one user; after a 429 sleep a fixed time and resend. Returns the seconds slept."""
    waited = 0.0
    while (response := http.post("/api/Users", json=fields, headers=headers)).status_code == 429:
        time.sleep(retry_wait)
        waited += retry_wait
    response.raise_for_status()
    return waited


def fetch_token(http: httpx.Client, emulator: Emulator) -> str:
    form = {
        "grant_type": "client_credentials",
        "client_id": emulator.client_id,
        "client_secret": emulator.client_secret,
        "scope": "all",
    }
    response = http.post("/auth/token", data=form)
    response.raise_for_status()
    return str(response.json()["access_token"])


def user_count(emulator: Emulator) -> int:
    return int(emulator.stats()["records"].get("users", 0))


def check_created(emulator: Emulator, baseline: int, expected: int, label: str) -> None:
    """Stop the benchmark when the emulator does not hold the users the scenario claims."""
    created = user_count(emulator) - baseline
    if created != expected:
        raise SystemExit(f"{label}: the emulator gained {created} users, expected {expected}")


def measure(emulator: Emulator, label: str, users: int, wall: float, waited: float) -> Measurement:
    stats = emulator.stats()
    rate_limited = int(stats["by_status"].get("429", 0))
    return Measurement(label, users, int(stats["total"]), rate_limited, wall, waited)


# -- report -----------------------------------------------------------------------------------


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes = seconds / 60
    if minutes < 120:
        return f"{minutes:.1f} min"
    return f"{math.floor(minutes / 60)} h {round(minutes % 60):02d} min"


def ratio(naive: float, batched: float) -> str:
    return f"{naive / batched:,.0f}×" if batched else "n/a"


def print_report(settings: BenchSettings, results: list[Measurement]) -> None:
    print(describe_run(settings), end="\n\n")
    print(row("", "users", "requests", "429s", "wall", "waiting", "hosted ≥"))
    for result in results:
        note = f"extrapolated from {result.measured_users:,}" if result.measured_users else ""
        print(
            row(
                result.label,
                f"{result.users:,}",
                f"{result.requests:,}",
                f"{result.rate_limited:,}",
                duration(result.wall_seconds),
                duration(result.waiting_seconds),
                duration(result.hosted_seconds),
                note,
            )
        )
    batched, naive = results[0], results[-1]
    ratios = [
        ratio(naive.requests, batched.requests),
        ratio(naive.rate_limited, batched.rate_limited),
        ratio(naive.wall_seconds, batched.wall_seconds),
        "",
        ratio(naive.hosted_seconds, batched.hosted_seconds),
    ]
    print(row("naive / batched (first run)", "", *ratios))
    print(describe_columns(settings, results))


def row(label: str, *cells: str) -> str:
    """One table line: a label, six right-aligned figures, then an optional note."""
    widths = (7, 9, 6, 10, 10, 11)
    figures = " ".join(f"{cell:>{width}}" for cell, width in zip(cells, widths, strict=False))
    note = f"  {cells[len(widths)]}" if len(cells) > len(widths) and cells[-1] else ""
    return f"{label:30}{figures}{note}"


def describe_run(settings: BenchSettings) -> str:
    naive = f"{settings.naive_users:,} measured"
    if settings.naive_users != settings.users:
        naive += f", extrapolated linearly to {settings.users:,}"
    window = settings.window_seconds
    return (
        f"Import of {settings.users:,} users into a fresh Halo emulator per scenario\n"
        f"  batched: all {settings.users:,} measured, batch size {settings.batch_size}\n"
        f"  naive:   {naive}\n"
        f"  injected latency {settings.latency_ms:g} ms per request; rate limit in this run "
        f"{HOSTED_REQUESTS_PER_WINDOW} per {window:g} s (hosted: {HOSTED_REQUESTS_PER_WINDOW} "
        f"per {HOSTED_WINDOW_SECONDS:g} s, time compressed ×{settings.time_scale:g})\n"
        f"  naive loop sleeps {settings.naive_retry_seconds / settings.time_scale:g} s after a "
        f"429 ({settings.naive_retry_seconds:g} s hosted) and resends the same user"
    )


def describe_columns(settings: BenchSettings, results: list[Measurement]) -> str:
    lines = [
        "",
        "requests, 429s: counted by the emulator (the token request included).",
        "wall: measured in this run, under the compressed window; waiting: the part spent in",
        "  deliberate sleeps (pacer, sleeps after a 429). naive/batched wall therefore depends on",
        "  --time-scale; requests and hosted ≥ do not.",
        "hosted ≥: the least time the same requests take under hosted Halo's 300 per 300 s:",
        "  t = (wall - waiting) / requests, R = requests - 429s (refusals do not count),",
        f"  max(R × t, floor((R - 1) / {HOSTED_REQUESTS_PER_WINDOW}) × "
        f"{HOSTED_WINDOW_SECONDS:g} s + (requests in the last window) × t),",
        "  because request i cannot leave before floor(i / 300) windows have rolled. No client",
        "  beats it; a real one (pacer headroom, fixed sleeps after 429s) is somewhat slower.",
    ]
    return "\n".join([*lines, describe_refusals(settings, results[-1])])


def describe_refusals(settings: BenchSettings, naive: Measurement) -> str:
    """How the naive loop's 429 count here compares with hosted Halo's, or a warning."""
    window_work = HOSTED_REQUESTS_PER_WINDOW * naive.seconds_per_request
    if window_work >= settings.window_seconds:
        return (
            f"WARNING: {HOSTED_REQUESTS_PER_WINDOW} naive requests take {window_work:.1f} s, "
            f"longer than the compressed {settings.window_seconds:g} s window, so the limiter\n"
            "  barely bites and the 429 counts understate hosted Halo; lower --time-scale."
        )
    compressed = refusals_per_window(settings.window_seconds, window_work, settings, scaled=True)
    hosted = refusals_per_window(HOSTED_WINDOW_SECONDS, window_work, settings, scaled=False)
    return (
        "429s depend on the compression: the naive loop is refused about\n"
        f"  ceil((window - 300 × t) / sleep) times per full window: {compressed} here, "
        f"{hosted} on hosted Halo."
    )


def refusals_per_window(
    window_seconds: float, window_work_seconds: float, settings: BenchSettings, *, scaled: bool
) -> int:
    """How often a fixed-sleep loop hears 429 before a full window rolls (at least once)."""
    sleep = settings.naive_retry_seconds / (settings.time_scale if scaled else 1.0)
    return max(1, math.ceil((window_seconds - window_work_seconds) / sleep))


# -- command line -----------------------------------------------------------------------------


def parse_settings(argv: list[str] | None) -> BenchSettings:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20_000, help="users to import (20000)")
    parser.add_argument(
        "--naive-users",
        type=int,
        default=None,
        help="users the naive loop really sends; figures are extrapolated to --users "
        "(default: --users / 10, at least 1000)",
    )
    parser.add_argument("--latency-ms", type=float, default=20.0, help="per request (20)")
    parser.add_argument("--batch-size", type=int, default=100, help="users per POST (100)")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=20.0,
        help="compress the 300 s window (and all waits) by this factor (20: 300 per 15 s)",
    )
    parser.add_argument(
        "--naive-retry-seconds",
        type=float,
        default=NAIVE_RETRY_SECONDS,
        help="hosted seconds the naive loop sleeps after a 429 (60)",
    )
    args = parser.parse_args(argv)
    naive_users = args.naive_users or min(args.users, max(1000, args.users // 10))
    if min(args.users, naive_users, args.batch_size) < 1 or args.time_scale <= 0:
        parser.error("counts and sizes must be at least 1, the time scale positive")
    return BenchSettings(
        args.users,
        min(naive_users, args.users),
        args.latency_ms,
        args.batch_size,
        args.time_scale,
        args.naive_retry_seconds,
    )


def main(argv: list[str] | None = None) -> int:
    settings = parse_settings(argv)
    results = run_batched(settings)
    naive = run_naive(settings)
    results.append(naive)
    if naive.users != settings.users:
        results.append(replace(naive.extrapolated_to(settings.users), label="naive, extrapolated"))
    print_report(settings, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
