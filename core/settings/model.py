"""The admin's settings as dataclasses, and the rules every reader of them shares.

A settings folder holds ``appsettings.json`` (what the admin edits), ``appsettings.key`` (the
key that encrypts its secrets, see ``core.settings.secrets``) and, by default, the ``logs`` folder.
Several folders can live side by side ("5 Mins", "Daily"), each a separate configuration.

This module is the model: ``core.settings.reader`` parses and validates a file into it and
``core.settings.writer`` saves it atomically; both import from here, never the reverse, so the
dataclasses can be used (by the settings dialog, the CLI, tests) without either.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from platformdirs import user_config_dir

from core.settings.secrets import Secret

SETTINGS_FILE_NAME = "appsettings.json"
DEFAULT_LOG_FOLDER = "logs"
SECONDS_PER_DAY = 86_400

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3_600, "d": SECONDS_PER_DAY}
_EVERY_PATTERN = re.compile(r"(\d+)([smhd])")
_DAILY_PATTERN = re.compile(r"daily@(\d{1,2}):(\d{2})")


def default_settings_folder() -> Path:
    """Return the per-user config folder used when the admin names no folder."""
    return Path(user_config_dir("halo-integrator", appauthor=False))


def resolve_settings_path(value: str | Path | None) -> Path:
    """Return the absolute path of the settings FILE for a folder, a file or None (default).

    An existing folder, or a path that does not exist and does not end in ``.json``, is taken
    as a folder (so ``--settings "D:/Halo/5 Mins"`` works before the folder exists).
    """
    if value is None:
        return default_settings_folder().absolute() / SETTINGS_FILE_NAME
    path = Path(value).expanduser().absolute()
    if path.suffix.lower() == ".json":
        return path  # even a folder named so: reading it then says it is a folder
    if path.is_dir() or not path.exists():
        return path / SETTINGS_FILE_NAME
    return path


@dataclass(frozen=True)
class Interval:
    """How often a module runs: every N seconds/minutes/hours/days, or daily at a local time."""

    every_seconds: int | None
    daily_at: datetime.time | None
    text: str

    @classmethod
    def parse(cls, text: str) -> Interval:
        """Parse ``30s``, ``5m``, ``1h``, ``2d`` or ``daily@02:00``.

        Raises ValueError with a message an admin can act on.
        """
        cleaned = str(text).strip().lower()
        every = _EVERY_PATTERN.fullmatch(cleaned)
        if every and int(every.group(1)) > 0:
            number, unit = int(every.group(1)), every.group(2)
            return cls(number * _UNIT_SECONDS[unit], None, f"{number}{unit}")
        daily = _DAILY_PATTERN.fullmatch(cleaned)
        if daily and int(daily.group(1)) < 24 and int(daily.group(2)) < 60:
            at = datetime.time(int(daily.group(1)), int(daily.group(2)))
            return cls(None, at, f"daily@{at:%H:%M}")
        raise ValueError(f'"{text}" is not an interval; use 5m, 1h or daily@02:00')

    def seconds_hint(self) -> int:
        """Return the nominal period in seconds (daily = 86400), for "last success too old"."""
        return self.every_seconds if self.every_seconds is not None else SECONDS_PER_DAY


def default_interval() -> Interval:
    """Return the interval of a module whose settings name none (hourly)."""
    return Interval.parse("1h")


@dataclass
class HaloConnection:
    """Where and how to reach the Halo instance; ``client_secret`` is decrypted in memory."""

    url: str
    client_id: str
    client_secret: Secret | None
    tenant: str | None = None
    auth_url: str | None = None
    scope: str = "all"
    allow_insecure_http: bool = False
    verify_tls: bool = True
    ca_bundle: str | None = None
    requests_per_window: int = 300
    window_seconds: float = 300.0
    batch_size: int = 100
    timeout_seconds: float = 30.0
    # How long a run keeps retrying a Halo that fails (from its start or Halo's last good
    # answer): no retry starts past it, see core.halo.retry.Deadline. Three minutes keep a
    # failing run of a 5-minute module inside its interval.
    deadline_seconds: float = 180.0


INSTANCE_NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


def instance_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a module instance (it names files: logs/<name>/, locks)."""
    if INSTANCE_NAME_PATTERN.fullmatch(name):
        return None
    return f'"{name}" is not a module name; use letters, digits, - and _ (at most 64)'


@dataclass
class ModuleSettings:
    """One entry of ``Modules``: an instance ``name`` of a module ``type``.

    State, locks, logs and status are keyed by the name, behaviour by the type; the type
    defaults to the name, so files from before instances (``"Name": "csv"``) stay valid.
    ``options`` are the module's own (it validates them). ``id`` is the instance's
    identity in Halo: the marker on every record it writes carries it, so that two folders
    with an instance of the same name stay apart, and the records survive a lost state DB
    (the settings file holds the id, the state DB does not).
    """

    name: str
    enabled: bool = True
    interval: Interval = field(default_factory=default_interval)
    options: dict[str, Any] = field(default_factory=dict)
    halo_record_id: int | None = None
    type: str = ""
    id: str = ""

    def __post_init__(self) -> None:
        self.type = self.type or self.name
        self.id = self.id or new_instance_id()

    def secret_values(self, *, decrypt: bool = True) -> list[str]:
        """Return the revealed values of this module's Secret options (at any depth), for
        logs to mask; ``decrypt=False`` leaves out the ones not decrypted yet."""
        return [s.reveal() for s in _secrets_in(self.options) if decrypt or s.is_decrypted]


INSTANCE_ID_PATTERN = re.compile(r"^[0-9a-f]{12,32}$")


def new_instance_id() -> str:
    return secrets.token_hex(6)


def _secrets_in(value: Any) -> list[Secret]:
    if isinstance(value, Secret):
        return [value]
    if isinstance(value, dict):
        return [secret for item in value.values() for secret in _secrets_in(item)]
    if isinstance(value, list | tuple):
        return [secret for item in value for secret in _secrets_in(item)]
    return []


@dataclass
class Settings:
    """Everything in one ``appsettings.json``, parsed and with secrets decrypted."""

    path: Path
    halo: HaloConnection
    modules: list[ModuleSettings]
    log_folder: Path
    has_plaintext_secrets: bool = False
    # A module entry had no Id yet (a file from before ids, or written by hand): saving
    # the file keeps the one it was given, before any record is marked with it.
    assigned_ids: bool = False
    field_lines: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    # Fields whose secret could not be decrypted and was dropped (see load_settings).
    forgotten_secrets: list[str] = field(default_factory=list, repr=False, compare=False)

    @property
    def folder(self) -> Path:
        """The settings folder: home of the key file and, by default, the logs."""
        return self.path.parent

    def module(self, name: str) -> ModuleSettings | None:
        """Return the module instance with this name, or None when it is not configured."""
        return next((module for module in self.modules if module.name == name), None)

    def secret_values(self, *, decrypt: bool = True) -> list[str]:
        """Return the client secret and every module's Secret options, revealed.

        For ``core.run.logs.remember_secrets``: whatever front end shows these settings must
        keep all of them out of every log, not only the ones of the module that runs.
        ``decrypt=False``: only those already in clear (typed, pasted or used), decrypting
        nothing; the logs mask the others when they are revealed (``when_revealed``).
        """
        secret = self.halo.client_secret
        client_secret = [secret.reveal()] if secret and (decrypt or secret.is_decrypted) else []
        modules = [
            value for entry in self.modules for value in entry.secret_values(decrypt=decrypt)
        ]
        return client_secret + modules

    def line_of(self, field_path: str) -> int | None:
        """Return the line of ``Modules[0].Options.path`` in the loaded file (None if new)."""
        return self.field_lines.get(field_path)

    @classmethod
    def new(cls, path: Path, halo: HaloConnection) -> Settings:
        """Return fresh settings (no modules, logs beside the file) for ``configure``."""
        path = Path(path)
        return cls(path, halo, [], path.parent / DEFAULT_LOG_FOLDER)


def url_problem(url: str, *, allow_insecure: bool = False) -> str | None:
    """Return why ``url`` cannot be a Halo address, or None when it can.

    Plain http would send the client secret and tokens readable on the wire, so it is only
    accepted for loopback (a local emulator or proxy) or when the admin sets AllowInsecureHttp.
    A user name or password (``user:pw@host``) is refused before anything else, and without
    repeating the address: it would only end up in retry warnings and error messages.
    """
    if "@" in url:
        return (
            'a Halo address holds no user name or password (no "@"); use one like '
            "https://acme.halopsa.com: the client ID and secret are what signs in"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return f'"{url}" is not a web address; use one like https://acme.halopsa.com'
    if parts.query or parts.fragment or parts.path.rstrip("/").lower().endswith("/api"):
        return f"use the instance address only, like {parts.scheme}://{parts.netloc}"
    if parts.scheme == "http" and not (allow_insecure or _is_loopback(parts.hostname)):
        return (
            f'"{url}" uses plain http; use https, or set "AllowInsecureHttp": true '
            "if this server really has no TLS"
        )
    return None


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
