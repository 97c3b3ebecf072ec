"""Show a folder, a file or a web page with the platform's opener, and say so when nothing could.

``xdg-open`` on a desktop without a file manager exits with an error a moment later, long
after ``Popen`` returned; nobody waited for it, so the failure went unseen and the child
stayed a zombie. Here a small thread owns each opener: it waits (reaping the child) and
hands a failure to ``on_failure`` with the opener's own last words.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO

log = logging.getLogger("halo_integrator.tray")

Failure = Callable[[str], None]


def open_path(path: Path | str, on_failure: Failure) -> None:
    """Open ``path`` (a folder in the file manager, a log in its viewer, a web address in
    the browser); returns at once."""
    if sys.platform == "win32":
        try:
            os.startfile(path)  # type: ignore[attr-defined]  # noqa: S606 - a local path
        except OSError as exc:
            on_failure(f"Windows could not open {path}: {exc.strerror or exc}.")
        return
    opener = "open" if sys.platform == "darwin" else "xdg-open"
    # A file, not a pipe: a viewer the opener starts may keep its stderr open for hours.
    errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed by _wait_for, on its thread
    try:
        process = subprocess.Popen(  # noqa: S603 - fixed program, local path
            [opener, str(path)], stdin=subprocess.DEVNULL, stdout=errors, stderr=errors
        )
    except OSError as exc:
        errors.close()
        on_failure(f"Cannot open {path}: {opener} could not start ({exc.strerror or exc}).")
        return
    threading.Thread(
        target=_wait_for,
        args=(process, opener, errors, path, on_failure),
        name="opener",
        daemon=True,
    ).start()


def _wait_for(
    process: subprocess.Popen[bytes],
    opener: str,
    errors: IO[bytes],
    path: Path | str,
    on_failure: Failure,
) -> None:
    """Reap the opener; report a non-zero exit with the last line it printed."""
    with errors:
        code = process.wait()
        if code == 0:
            return
        errors.seek(0)
        lines = errors.read().decode("utf-8", "replace").strip().splitlines()
    said = f": {lines[-1].strip()}" if lines else ""
    on_failure(
        f"No program could open {path} ({opener} exited with {code}{said}). "
        "Install a file manager, or open the path by hand."
    )
