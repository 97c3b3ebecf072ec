"""Benchmark: N messages from a real Dovecot mailbox to Halo tickets, end to end.

The product's path (``Runner`` over the ``imap`` module, its work ledger and ``HaloClient``)
reads a throwaway Dovecot (tests/servers/dovecot.py: plain IMAP with STARTTLS on loopback)
and writes to a Halo emulator on loopback. Messages come from ``--senders`` distinct
addresses, so the sender lookups (a search, and a new Halo user the first time) are part of
the figures, as they are in a real support mailbox. Printed: messages per second, Halo
requests per message by kind, and the targets of issue #9 (at least 50 messages/s on
loopback, at most 1.2 requests per message without attachments).

    .venv/bin/python bench/imap_mail.py                        # 2,000 messages
    .venv/bin/python bench/imap_mail.py --messages 200         # quick check
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from servers.certificates import CertificateAuthority
from servers.dovecot import USERS, Dovecot

from core.halo.client import HaloClient
from core.run.runner import Runner
from core.settings.model import HaloConnection, ModuleSettings, Settings
from core.settings.reader import load_settings
from core.settings.secrets import Secret
from core.settings.writer import save_settings
from halo_emulator import Emulator

SECRET = "bench-secret-imap-01"
TARGET_RATE, TARGET_REQUESTS = 50.0, 1.2


def message(n: int, senders: int) -> bytes:
    sender = f"person{n % senders}@example.org"
    return (
        f"From: Person {n % senders} <{sender}>\r\nTo: support@example.com\r\n"
        f"Subject: Request {n}\r\nMessage-ID: <{secrets.token_hex(8)}@example.org>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Please help with request {n}.\r\n"
    ).encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--senders", type=int, default=100)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        ca = CertificateAuthority(Path(root) / "ca")
        with Dovecot(ca=ca) as dovecot, Emulator(client_secret=SECRET, rate_limit=None) as emu:
            emu.set_faults(latency_ms=args.latency_ms)
            print(f"Delivering {args.messages:,} messages ...", flush=True)
            for n in range(args.messages):
                dovecot.deliver(message(n, args.senders), "Bench")
            settings = settings_folder(Path(root) / "Halo", emu, dovecot)
            emu.reset_stats()
            runner = Runner(settings, client_factory=lambda: HaloClient(settings.halo))
            started, cpu_started = time.monotonic(), time.process_time()
            processed = 0
            while True:
                [result] = runner.run()
                if result.error:
                    print(f"run failed: {result.error}")
                    return 1
                processed += result.counts.processed
                if result.counts.processed == 0:
                    break
            wall, cpu = time.monotonic() - started, time.process_time() - cpu_started
            stats = emu.stats()
        requests = stats["total"]
        rate, per_message = processed / wall, requests / max(processed, 1)
        print(
            f"\n{processed:,} messages from {args.senders} senders, latency {args.latency_ms:g} ms"
        )
        print(f"  wall {wall:.1f} s, CPU (agent + emulator + this script) {cpu:.1f} s")
        print(f"  {rate:.1f} messages/s (target >= {TARGET_RATE:g})")
        target = f"target <= {TARGET_REQUESTS}"
        print(f"  {requests:,} Halo requests, {per_message:.2f} per message ({target})")
        for endpoint, count in sorted(stats["by_endpoint"].items(), key=lambda item: -item[1]):
            print(f"    {count:>7,}  {endpoint}")
        met = rate >= TARGET_RATE and per_message <= TARGET_REQUESTS
        print("targets met" if met else "targets NOT met")
        return 0 if met else 1


def settings_folder(folder: Path, emu: Emulator, dovecot: Dovecot) -> Settings:
    connection = HaloConnection(
        url=emu.base_url,
        client_id=emu.client_id,
        client_secret=Secret(SECRET),
        requests_per_window=1_000_000,
    )
    settings = Settings.new(folder / "appsettings.json", connection)
    options = {
        "server": dovecot.url,
        "starttls": True,
        "ca_file": str(dovecot.ca_file),
        "username": "alice",
        "password": Secret(USERS["alice"]),
        "folder": "Bench",
        "max_messages_per_run": 500,
    }
    settings.modules.append(ModuleSettings(name="inbox", type="imap", options=options))
    save_settings(settings)
    return load_settings(settings.folder)


if __name__ == "__main__":
    sys.exit(main())
