"""Find a run's log file: ``logs/<module>/<module>-YYYYmmdd-HHMMSS-<n>.log``.

The runner opens the log just before it records the run's start in the state DB, so a run's
log is the newest one of its module stamped at (or a moment before) the run's start. The
state DB does not store the path; reading it from the names keeps the tray off the engine's
schema, and a pruned log simply has no match.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

STAMP_FORMAT = "%Y%m%d-%H%M%S"
STAMP_LENGTH = len("20261124-140500")
# A run's start is recorded right after its log opens; more than this apart is not that run.
MATCH_WITHIN_SECONDS = 60.0


def module_logs(log_folder: Path, module: str) -> list[tuple[float, Path]]:
    """(stamp as epoch seconds, path) of the module's run logs, newest first."""
    found = []
    for path in (log_folder / module).glob(f"{module}-*.log"):
        stamp = path.name[len(module) + 1 : len(module) + 1 + STAMP_LENGTH]
        try:
            found.append((time.mktime(time.strptime(stamp, STAMP_FORMAT)), path))
        except ValueError:
            continue  # not a run log's name
    return sorted(found, reverse=True)


def log_for_run(
    log_folder: Path, module: str, started_at: float, finished_at: float | None = None
) -> Path | None:
    """The log of the run that started at ``started_at``; None when it was pruned.

    Two runs within one second have logs with one stamp: the one last written closest to
    the run's ``finished_at`` is that run's.
    """
    logs = module_logs(log_folder, module)
    stamps = [stamp for stamp, _ in logs if stamp <= started_at + 1]  # cut to whole seconds
    if not stamps or started_at - stamps[0] > MATCH_WITHIN_SECONDS:
        return None
    same_second = [path for stamp, path in logs if stamp == stamps[0]]
    if finished_at is None or len(same_second) == 1:
        return same_second[0]
    return min(same_second, key=lambda path: abs(_written(path) - finished_at))


def _written(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return float("inf")


def newest_log(log_folder: Path, modules: Iterable[str]) -> Path | None:
    """The most recently written run log of any of ``modules``; None when there is none."""
    newest: tuple[float, Path] | None = None
    for module in modules:
        for _, path in module_logs(log_folder, module)[:1]:
            try:
                written = path.stat().st_mtime
            except OSError:
                continue
            if newest is None or written > newest[0]:
                newest = (written, path)
    return newest[1] if newest else None
