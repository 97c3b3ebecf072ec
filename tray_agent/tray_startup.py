"""Start-up helpers of the tray: where its log lines go, and what a second start does.

The tray is often started without a console (Windows GUI entry point, autostart), so its
messages go to ``logs/tray.log``; a second start for the same folder hands over to the first
tray instead of running two schedulers on one settings folder.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from core.run.logs import log_to_file
from tray_agent.exit_codes import EXIT_FAILED, EXIT_OK
from tray_agent.single_instance import SingleInstance

ASK_FIRST_INSTANCE_SECONDS = 5.0
EXIT_CANNOT_START = EXIT_FAILED
# The thread name tells which owner (tray-icon, tray-status, run-csv ...) logged a line.
TRAY_LOG_FORMAT = "%(asctime)s %(levelname)-7s [%(threadName)s] %(name)s: %(message)s"


def ask_first_instance(instance: SingleInstance) -> int:
    """Ask the tray already running for this folder to show its settings; return the exit code."""
    deadline = time.monotonic() + ASK_FIRST_INSTANCE_SECONDS
    while time.monotonic() < deadline:  # the first tray may still be starting
        if instance.ask_first_instance():
            print("The tray is already running for this folder; showing its settings.")
            return EXIT_OK
        time.sleep(0.2)
    print("Another tray holds this settings folder but does not answer.", file=sys.stderr)
    return EXIT_CANNOT_START


def log_to_tray_file(folder: Path) -> None:
    """The tray has no console: its messages go to logs/tray.log (rotated, redacted)."""
    log_to_file(folder / "logs" / "tray.log", role="tray", log_format=TRAY_LOG_FORMAT, backups=3)
