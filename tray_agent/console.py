"""What the command line prints: progress while a run goes, a summary after, status tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from core.run.health import ModuleHealth, iso
from core.run.runner import ModuleRunResult, RunEvent, summary
from core.sync.plan import Plan


class ProgressPrinter:
    """A one-line progress display on a terminal, driven by the runner's events."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, event: RunEvent) -> None:
        if event.kind == "started":
            self.stream.write(f"{event.module}: reading source...\n")
        elif event.kind == "progress" and event.total:
            percent = 100 * event.done // event.total
            self.stream.write(
                f"\r{event.module}: {event.phase} {event.done}/{event.total} ({percent}%)   "
            )
            if event.done >= event.total:
                self.stream.write("\n")
        self.stream.flush()


def print_results(results: Sequence[ModuleRunResult], *, dry_run: bool = False) -> None:
    if not results:
        print("No module is enabled; add one with: halo-integrator module enable NAME")
    for result in results:
        verb = "would make" if dry_run else result.outcome
        line = f"{result.module}: {verb}: {summary(result.counts)}"
        if result.error:
            line += f"\n  error: {result.error}"
        if dry_run and result.sync is not None and result.sync.plan is not None:
            line += "".join(f"\n  would {change}" for change in planned_changes(result.sync.plan))
        for failure in result.failures[:10]:
            line += f"\n  failed: {failure.label}: {failure.message}"
        if len(result.failures) > 10:
            line += f"\n  ... and {len(result.failures) - 10} more (see {result.log_file})"
        print(line)


def planned_changes(plan: Plan, limit: int = 10) -> list[str]:
    """The first few changes of each kind a dry run found, for the admin to eyeball."""
    kinds = [
        ("create", [record.name for record in plan.creates]),
        ("update", [record.name for record, _ in plan.updates]),
        ("deactivate", [entry.source_key for entry in plan.deactivations]),
    ]
    lines = []
    for verb, names in kinds:
        lines += [f"{verb} {name}" for name in names[:limit]]
        if len(names) > limit:
            lines.append(f"{verb} ... and {len(names) - limit} more")
    return lines


def print_status_table(statuses: Sequence[ModuleHealth]) -> None:
    if not statuses:
        print("No modules configured.")
        return
    rows = [("MODULE", "HEALTH", "INTERVAL", "LAST SYNC", "LAST ERROR")]
    for status in statuses:
        rows.append(
            (
                status.module,
                status.health,
                status.interval,
                iso(status.last_success_at) or "never",
                (status.last_error or "")[:80],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[4]]))
