"""What the command line prints: progress while a run goes, a summary after, status tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from core.outcomes import summary
from core.run.events import ModuleRunResult, RunEvent
from core.run.health import ModuleHealth, iso
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
        verb = "would make" if dry_run else result.outcome.value
        line = f"{result.module}: {verb}: {result.summary()}"
        if len(result.parts) > 1:
            line += "".join(
                f"\n  {part.entity}: {summary(part.counts, kinds={part.kind})}"
                for part in result.parts
            )
        if result.error:
            line += f"\n  error: {result.error}"
        for part in result.parts if dry_run else ():
            if isinstance(part.plan, Plan):
                line += "".join(f"\n  would {change}" for change in planned_changes(part.plan))
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
    rows = [("MODULE", "TYPE", "HEALTH", "INTERVAL", "LAST SYNC", "NEXT DUE", "LAST ERROR")]
    for status in statuses:
        next_due = "now" if status.next_due_at is None else iso(status.next_due_at) or ""
        rows.append(
            (
                status.module,
                status.type,
                status.health,
                status.interval,
                iso(status.last_success_at) or "never",
                next_due if status.enabled else "-",
                (status.last_error or "")[:80],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]))
