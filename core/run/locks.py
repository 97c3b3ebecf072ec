"""One inter-process lock per module and settings folder.

The tray's scheduler, its "Sync now", an AUTO run from Task Scheduler and a CLI ``sync`` may
all start the same module at once; two runs would race on the id map and create duplicates
in Halo. A lock file under ``<settings folder>/locks/`` makes them mutually exclusive across
processes (``filelock`` uses fcntl/msvcrt locks, released by the OS if a process dies).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from core.errors import AlreadyRunningError
from core.private_files import PRIVATE_FILE_MODE, private_folder

LOCKS_FOLDER_NAME = "locks"


@contextmanager
def module_lock(settings_folder: Path, module: str) -> Iterator[None]:
    """Hold ``module``'s lock for the block; AlreadyRunningError at once if another holds it."""
    folder = Path(settings_folder) / LOCKS_FOLDER_NAME
    private_folder(folder)
    lock = FileLock(str(folder / f"{module}.lock"), timeout=0, mode=PRIVATE_FILE_MODE)
    try:
        lock.acquire()
    except Timeout:
        raise AlreadyRunningError(
            f"Module {module} is already running for {settings_folder}.",
            hint="This run was skipped; the running one continues.",
        ) from None
    try:
        yield
    finally:
        lock.release()
