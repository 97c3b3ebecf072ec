"""Benchmark: peak memory of a csv dry run over a large file, streamed versus held in a list.

A dry run of the ``csv`` module (the product's path: ``Runner`` over ``HaloClient``, against a
Halo emulator on loopback) runs in a child process, which reports its peak RSS
(``ru_maxrss``) and, with ``--tracemalloc``, the peak of Python allocations. Two states:

- **first run**: an empty state DB, so every row is a create the engine's plan holds;
- **steady state**: every row already mapped with its current fingerprint (written straight
  into the state DB), so the plan only counts them as unchanged.

Each state runs twice: as the module reads now (records streamed into the engine) and with
``read`` wrapped in ``list(...)``, as the module did before.

    .venv/bin/python bench/csv_memory.py                  # 1,000,000 rows, a few minutes
    .venv/bin/python bench/csv_memory.py --rows 100000    # quick check
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from core.modules.csv_import import CsvImport, CsvOptions
from core.run.request import RunRequest
from core.run.runner import Runner
from core.settings.model import HaloConnection, ModuleSettings, Settings
from core.settings.reader import load_settings
from core.settings.secrets import Secret
from core.settings.writer import save_settings
from core.state.store import MappedRecord, StateStore
from core.sync.records import USERS, SourceRecord, marker_value
from halo_emulator import Emulator

SECRET = "bench-secret-4c1d7e"
MODULE = "csv"
MAPPING_BATCH = 50_000


def write_rows(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["emailaddress", "firstname", "surname", "department"])
        for n in range(1, rows + 1):
            writer.writerow([f"user{n}@example.com", "User", f"N{n}", "IT"])


def map_every_row(folder: Path, instance_id: str) -> None:
    """The state a finished first run leaves: each row mapped with the fingerprint of what
    the engine sends (the row's fields and the instance's marker)."""
    store = StateStore(folder)
    records = CsvImport(CsvOptions(path="users.csv")).read(folder / "users.csv")
    marker = {USERS.marker_field or "": marker_value(instance_id)}
    batch: list[MappedRecord] = []
    for halo_id, record in enumerate(records, start=1):
        sent = SourceRecord(record.key, {**record.fields, **marker})
        batch.append(MappedRecord(record.key, halo_id, sent.fingerprint, True))
        if len(batch) == MAPPING_BATCH:
            store.save_mappings(MODULE, "Users", batch)
            batch = []
    store.save_mappings(MODULE, "Users", batch)


def make_folder(root: Path, name: str, emulator: Emulator, rows: int, *, mapped: bool) -> Path:
    folder = root / name
    connection = HaloConnection(
        url=emulator.base_url, client_id=emulator.client_id, client_secret=Secret(SECRET)
    )
    settings = Settings.new(folder / "appsettings.json", connection)
    entry = ModuleSettings(name=MODULE, options={"path": "users.csv"})
    settings.modules.append(entry)
    save_settings(settings)
    write_rows(folder / "users.csv", rows)
    if mapped:
        map_every_row(folder, entry.id)
        # A finished run also leaves the time Halo was last read whole: no listing is due.
        StateStore(folder).set_checkpoint(MODULE, "listed:Users", str(int(time.time())))
    return folder


def child(folder: Path, *, as_list: bool, trace: bool) -> None:
    """Runs in the child process: one dry run, then its figures as one JSON line."""
    if as_list:
        streamed_read = CsvImport.read
        CsvImport.read = lambda self, path: iter(list(streamed_read(self, path)))  # type: ignore[method-assign]
    if trace:
        tracemalloc.start()
    baseline_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    [result] = Runner(load_settings(folder)).run(RunRequest(dry_run=True))
    figures = {
        "outcome": str(result.outcome),
        "created": result.counts.created,
        "unchanged": result.counts.unchanged,
        "seconds": time.perf_counter() - started,
        "baseline_mib": baseline_kib / 1024,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if trace:
        figures["traced_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
    print(json.dumps(figures))


def measure(folder: Path, *, as_list: bool, trace: bool) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", str(folder)]
    command += ["--as-list"] if as_list else []
    command += ["--tracemalloc"] if trace else []
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--tracemalloc", action="store_true", help="also trace allocations")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--as-list", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        child(arguments.child, as_list=arguments.as_list, trace=arguments.tracemalloc)
        return
    print(f"csv dry run of {arguments.rows:,} rows (peak figures of the child process)")
    print(f"{'state':<14} {'read':<10} {'outcome':<9} {'peak RSS':>10} {'traced':>9} {'time':>7}")
    with tempfile.TemporaryDirectory() as temporary, Emulator(client_secret=SECRET) as emulator:
        for state, mapped in (("first run", False), ("steady state", True)):
            folder = make_folder(Path(temporary), state.replace(" ", "-"), emulator,
                                 arguments.rows, mapped=mapped)  # fmt: skip
            for read, as_list in (("streamed", False), ("list", True)):
                figures = measure(folder, as_list=as_list, trace=arguments.tracemalloc)
                traced = figures.get("traced_peak_mib")
                print(
                    f"{state:<14} {read:<10} {figures['outcome']:<9} "
                    f"{figures['peak_rss_mib']:>6.0f} MiB "
                    f"{f'{traced:.0f} MiB' if traced is not None else '-':>9} "
                    f"{figures['seconds']:>6.1f}s"
                )


if __name__ == "__main__":
    main()
