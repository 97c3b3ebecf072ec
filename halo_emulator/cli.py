"""Command line: `halo-integrator emulator ...` and `python -m halo_emulator ...`.

`add_arguments` and `run` are the two names the project CLI calls; `main` is for
`python -m`. The client secret is printed on start on purpose: the admin needs it to
point the agent at the emulator, and the emulator holds no real data.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence

from halo_emulator.emulator import Emulator
from halo_emulator.faults import FaultSettings
from halo_emulator.rate_limit import format_rate_limit, parse_rate_limit

DEFAULT_PORT = 8086
DEFAULT_DB = "halo-emulator.db"
SECRET_ENVIRONMENT_VARIABLE = "HALO_EMULATOR_CLIENT_SECRET"  # noqa: S105 (a name, not a secret)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's options to a parser (ours or the project CLI's subcommand)."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (%(default)s)")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="port to listen on; 0 picks a free one (%(default)s)",
    )
    parser.add_argument(
        "--db",
        default=DEFAULT_DB,
        metavar="PATH",
        help="SQLite file; data persists across restarts (%(default)s)",
    )
    parser.add_argument(
        "--client-id", default="halo-emulator", help="OAuth client id (%(default)s)"
    )
    parser.add_argument(
        "--client-secret",
        default=None,
        help=f"OAuth client secret (default: ${SECRET_ENVIRONMENT_VARIABLE}, "
        "else a random one, printed on start)",
    )
    parser.add_argument(
        "--tenant", default=None, help="hosted mode: tokens also at POST /token?tenant=TENANT"
    )
    parser.add_argument(
        "--rate-limit",
        default="300/300",
        type=_rate_limit,
        metavar="N/SECONDS",
        help="rolling-window limit, or 'off' (%(default)s)",
    )
    parser.add_argument(
        "--retry-after", action="store_true", help="send a Retry-After header on 429 answers"
    )
    parser.add_argument(
        "--token-lifetime",
        type=int,
        default=3600,
        metavar="SECONDS",
        help="expires_in of issued tokens (%(default)s)",
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="delay added to every API answer (%(default)s)",
    )
    parser.add_argument(
        "--error-rate",
        type=float,
        default=0.0,
        help="probability 0..1 of an HTTP 500 (%(default)s)",
    )
    parser.add_argument(
        "--burst-429",
        type=int,
        default=0,
        metavar="N",
        help="answer the first N requests with 429 (%(default)s)",
    )
    parser.add_argument(
        "--drop-rate",
        type=float,
        default=0.0,
        help="probability 0..1 of closing the connection unanswered (%(default)s)",
    )
    parser.add_argument(
        "--token-early-expiry",
        type=float,
        default=None,
        metavar="SECONDS",
        help="tokens really expire after SECONDS, whatever expires_in says",
    )


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C or SIGTERM; return the exit status (0)."""
    secret = args.client_secret or os.environ.get(SECRET_ENVIRONMENT_VARIABLE) or None
    faults = FaultSettings(
        latency_ms=args.latency_ms,
        error_rate=args.error_rate,
        burst_429=args.burst_429,
        drop_rate=args.drop_rate,
        token_early_expiry=args.token_early_expiry,
    )
    emulator = Emulator(
        db_path=args.db,
        port=args.port,
        host=args.host,
        client_id=args.client_id,
        client_secret=secret,
        tenant=args.tenant,
        rate_limit=args.rate_limit,
        retry_after=args.retry_after,
        token_lifetime=args.token_lifetime,
        faults=faults,
    )
    stop_requested = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop_requested.set())
    emulator.start()
    try:
        _print_banner(emulator, args)
        while not stop_requested.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
        signal.signal(signal.SIGTERM, previous)
    print("Halo emulator stopped.", flush=True)
    return 0


def main(argv: Sequence[str] | None = None, *, prog: str = "python -m halo_emulator") -> int:
    """Entry point for `python -m halo_emulator` and `halo-integrator emulator`."""
    parser = argparse.ArgumentParser(
        prog=prog, description="A local emulator of the Halo REST API."
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


def _rate_limit(text: str) -> tuple[int, float] | None:
    try:
        return parse_rate_limit(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def _print_banner(emulator: Emulator, args: argparse.Namespace) -> None:
    lines = [
        f"Halo emulator listening on {emulator.base_url}",
        f"  API URL:       {emulator.base_url}/api",
        f"  Token URL:     {emulator.base_url}/auth/token",
        f"  Tenant:        {args.tenant or '(none: on-premise style)'}",
        f"  Client ID:     {emulator.client_id}",
        f"  Client secret: {emulator.client_secret}",
        f"  Database:      {emulator.db_path}",
        f"  Rate limit:    {format_rate_limit(args.rate_limit)}",
        f"  Admin:         {emulator.base_url}/_emulator/stats",
        "Press Ctrl-C to stop.",
    ]
    if args.tenant:
        lines.insert(3, f"  Hosted token:  {emulator.base_url}/token?tenant={args.tenant}")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
