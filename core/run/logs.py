"""Logging for runs: one file per module run under ``logs/``, secrets redacted everywhere.

Admins attach these files to support tickets, so a secret must not reach them even when a
library logs a URL or a header: the redaction filter masks known secret values and anything
that looks like a bearer token, a ``client_secret=`` form field or a password in a URL.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from logging.handlers import RotatingFileHandler
from pathlib import Path

from core.private_files import create_private_file, private_folder
from core.settings.secrets import MIN_SECRET_LENGTH, when_revealed

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
KEEP_RUN_LOGS_PER_MODULE = 50
MASK = "********"
ENGINE_LOGGER = "halo_integrator"
ROTATE_AT_BYTES = 1_000_000
# Each keeps group 1 and masks what follows it: a bearer token, a secret form or JSON field
# (also a connection string's ``Pwd=``), and the password of a URL with user info
# (``postgresql://reader:pw@db01/hr``, as a module option or a driver's message may hold).
PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(
        r"(?i)((?:client_secret|access_token|password|pwd)[\"']?\s*[=:]\s*[\"']?)[^\s&\"',;}]+"
    ),
    re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+(?=@)"),
)


_known_secrets: set[str] = set()
_known_secrets_lock = threading.Lock()


def remember_secrets(values: Iterable[str]) -> None:
    """Every log handler of this process masks these values from now on.

    Process-wide on purpose: a secret must be masked by *every* handler (stderr, auto.log,
    run logs, the tray's log tail), whichever of them formats a record first. Values shorter
    than ``MIN_SECRET_LENGTH`` are ignored (configure refuses them): see ``redact``.
    """
    with _known_secrets_lock:
        _known_secrets.update(_maskable(values))


# A secret read from settings stays encrypted until used; the moment it is, logs mask it.
when_revealed(lambda value: remember_secrets([value]))


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then masks known secrets and token shapes in the whole text.

    Redacting the formatted text (traceback included) rather than mutating the record keeps
    handlers independent: no handler can hand another an unmasked or half-masked record.
    """

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class RedactingFilter(logging.Filter):
    """For handlers whose formatter is not a RedactingFormatter: masks the record in place.

    The message and the traceback text are masked; ``exc_info`` stays, so handlers after this
    one still see that there was an exception (and use the masked ``exc_text``).
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = list(secrets)
        remember_secrets(self.secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage(), self.secrets), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        return True


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with the given and the remembered secrets, and token-like strings, masked.

    A value shorter than ``MIN_SECRET_LENGTH`` is never substituted, given or remembered:
    masking "x" would turn "proxy" into "pro********y", mangling the message and showing
    where the secret was.
    """
    with _known_secrets_lock:
        every_secret = _maskable(secrets) | _known_secrets
    for secret in sorted(every_secret, key=len, reverse=True):
        text = text.replace(secret, MASK)
    for pattern in PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + MASK, text)
    return text


def _maskable(values: Iterable[str]) -> set[str]:
    return {value for value in values if len(value) >= MIN_SECRET_LENGTH}


@contextmanager
def run_log_file(log_folder: Path, module: str, secrets: Iterable[str] = ()) -> Iterator[Path]:
    """Send the engine's log records to a new file for this run; prune old ones after."""
    private_folder(log_folder)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = log_folder / f"{module}-{stamp}-{time.monotonic_ns() % 1_000_000:06d}.log"
    remember_secrets(secrets)
    create_private_file(path)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(RedactingFormatter(LOG_FORMAT))
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


def log_to_file(path: Path, *, role: str, log_format: str = LOG_FORMAT, backups: int = 5) -> bool:
    """Also send the engine's messages to a rotating, redacted file (AUTO's auto.log, the
    tray's tray.log); False when the folder cannot be written (the run reports that itself).

    ``role`` names the handler: installing a role again replaces the old handler, so a
    front end started twice in one process never writes each line twice.
    """
    try:
        private_folder(path.parent)
        create_private_file(path)
        handler = RotatingFileHandler(
            path, maxBytes=ROTATE_AT_BYTES, backupCount=backups, encoding="utf-8"
        )
    except OSError:
        return False
    handler.rotator = _rotate_privately
    handler.setFormatter(RedactingFormatter(log_format))
    handler.setLevel(logging.INFO)
    _install(handler, role)
    return True


def _rotate_privately(source: str, destination: str) -> None:
    """RotatingFileHandler's rename, then the new file is created owner-only before it
    reopens it (it would otherwise be created with the umask's mode)."""
    if os.path.exists(source):
        os.replace(source, destination)
    create_private_file(Path(source))


def log_to_stderr(level: int = logging.WARNING, *, role: str = "console") -> None:
    """Messages from ``level`` up to stderr, redacted, for a front end run from a console."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("%(levelname)s: %(message)s"))
    handler.setLevel(level)
    _install(handler, role)


def _install(handler: logging.Handler, role: str) -> None:
    root = logging.getLogger(ENGINE_LOGGER)
    for old in [h for h in root.handlers if getattr(h, "halo_role", None) == role]:
        root.removeHandler(old)
        old.close()
    handler.halo_role = role  # type: ignore[attr-defined]
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)


def prune(log_folder: Path, module: str, keep: int = KEEP_RUN_LOGS_PER_MODULE) -> None:
    """Keep the newest ``keep`` run logs of a module (the rotation)."""
    files = sorted(log_folder.glob(f"{module}-*.log"), key=lambda p: p.stat().st_mtime)
    for old in files[:-keep]:
        old.unlink(missing_ok=True)
