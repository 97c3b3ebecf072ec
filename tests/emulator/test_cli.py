"""`python -m halo_emulator`: flags, banner, persistence file and a clean SIGTERM exit."""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from halo_emulator import cli


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(argv)


def test_defaults_are_documented_values() -> None:
    args = parse()
    assert (args.host, args.port, args.db) == ("127.0.0.1", 8086, "halo-emulator.db")
    assert args.rate_limit == (300, 300.0)
    assert args.token_lifetime == 3600 and args.retry_after is False
    assert args.client_id == "halo-emulator" and args.client_secret is None
    assert parse("--rate-limit", "off").rate_limit is None
    assert parse("--rate-limit", "5/1").rate_limit == (5, 1.0)


def test_it_serves_until_sigterm_and_exits_zero(tmp_path: Path) -> None:
    db_path = tmp_path / "cli.db"
    environment = {**os.environ, "HALO_EMULATOR_CLIENT_SECRET": "from-env"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "halo_emulator",
            "--port",
            "0",
            "--db",
            str(db_path),
            "--tenant",
            "acme",
            "--latency-ms",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    try:
        assert process.stdout is not None
        banner = [process.stdout.readline() for _ in range(9)]
        base_url = re.search(r"listening on (\S+)", banner[0]).group(1)  # type: ignore[union-attr]
        assert any("Client secret: from-env" in line for line in banner)
        assert httpx.get(f"{base_url}/api/authinfo").json()["tenant_id"] == "acme"
        token = httpx.post(
            f"{base_url}/token?tenant=acme",
            data={
                "grant_type": "client_credentials",
                "client_id": "halo-emulator",
                "client_secret": "from-env",
            },
        )
        assert token.status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    assert "stopped" in stdout
    assert db_path.exists()
