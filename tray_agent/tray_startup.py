"""Start-up helpers of the tray: where its log lines go, and what a second start does.

The tray is often started without a console (Windows GUI entry point, autostart), so its
messages go to ``logs/tray.log``; a second start for the same folder hands over to the first
tray instead of running two schedulers on one settings folder.
"""

from __future__ import annotations

import logging
import sys
import time
from logging.handlers import RotatingFileHandler
from pathlib import Path

from core.private_files import private_folder
from core.run_log import RedactingFormatter
from tray_agent.single_instance import SingleInstance

ASK_FIRST_INSTANCE_SECONDS = 5.0
EXIT_OK, EXIT_CANNOT_START = 0, 1
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


def log_to_file(folder: Path) -> None:
    """The tray has no console: its messages go to logs/tray.log (rotated, redacted)."""
    try:
        logs = private_folder(folder / "logs")
        handler = RotatingFileHandler(logs / "tray.log", maxBytes=1_000_000, backupCount=3)
    except OSError:
        return
    handler.setFormatter(RedactingFormatter(TRAY_LOG_FORMAT))
    handler.setLevel(logging.INFO)
    root_logger = logging.getLogger("halo_integrator")
    root_logger.addHandler(handler)
    root_logger.setLevel(logging.INFO)


def log_to_stderr() -> None:
    """Warnings and errors also go to stderr, shown when the tray is started from a console."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("%(levelname)s: %(message)s"))
    handler.setLevel(logging.WARNING)
    logging.getLogger("halo_integrator").addHandler(handler)
