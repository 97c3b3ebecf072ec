"""Logging for runs: one file per module run under ``logs/``, secrets redacted everywhere.

Admins attach these files to support tickets, so a secret must not reach them even when a
library logs a URL or a header: the redaction filter masks known secret values and anything
that looks like a bearer token or a ``client_secret=`` form field.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
KEEP_RUN_LOGS_PER_MODULE = 50
MASK = "********"
PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)((?:client_secret|access_token|password)[\"']?\s*[=:]\s*[\"']?)[^\s&\"',}]+"),
)


class RedactingFilter(logging.Filter):
    """Masks secret values and token-like strings in every record it sees."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        message = redact(record.getMessage(), self.secrets)
        record.msg, record.args = message, None
        if record.exc_info:
            record.exc_text = redact(
                logging.Formatter().formatException(record.exc_info), self.secrets
            )
            record.exc_info = None
        return True


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    for pattern in PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + MASK, text)
    return text


@contextmanager
def run_log_file(log_folder: Path, module: str, secrets: Iterable[str] = ()) -> Iterator[Path]:
    """Send the engine's log records to a new file for this run; prune old ones after."""
    log_folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = log_folder / f"{module}-{stamp}-{time.monotonic_ns() % 1_000_000:06d}.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger("halo_integrator")
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    try:
        yield path
    finally:
        root.removeHandler(handler)
        handler.close()
        prune(log_folder, module)


def prune(log_folder: Path, module: str, keep: int = KEEP_RUN_LOGS_PER_MODULE) -> None:
    """Keep the newest ``keep`` run logs of a module (the rotation)."""
    files = sorted(log_folder.glob(f"{module}-*.log"), key=lambda p: p.stat().st_mtime)
    for old in files[:-keep]:
        old.unlink(missing_ok=True)
