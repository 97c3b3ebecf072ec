"""The admin's settings: ``appsettings.json`` parsed once into dataclasses, saved atomically.

A settings folder holds ``appsettings.json`` (what the admin edits), ``appsettings.key`` (the
key that encrypts its secrets, see ``core.secrets``) and, by default, the ``logs`` folder.
Several folders can live side by side ("5 Mins", "Daily"), each a separate configuration.

Loading never changes the file. It collects *every* problem and raises one ConfigError whose
message lists them one per line as ``<file>, line <n>, field <path>: <what is wrong>``; the
exception's ``line``/``field`` are those of the first problem. Unknown keys in the top level,
``Halo`` and each module are problems (with a "did you mean" hint), because a misspelt key
that is silently ignored is worse for an admin than an error; ``Options`` belong to the
modules, which validate them and can use ``Settings.line_of`` to report lines too.

An admin may paste a plaintext ``ClientSecret`` into the file: it is accepted, and
``Settings.has_plaintext_secrets`` tells the CLI to save the settings again (encrypting it).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from platformdirs import user_config_dir

from core.errors import ConfigError, SecretKeyError
from core.json_locations import MISSING, FieldReader, Problem, child_path, parse_with_lines
from core.secrets import Secret, SecretBox, is_encrypted

SETTINGS_FILE_NAME = "appsettings.json"
BACKUP_SUFFIX = ".bak"
SETTINGS_FILE_MODE = 0o600
SETTINGS_FOLDER_MODE = 0o700
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
    if path.is_dir() or (not path.exists() and path.suffix.lower() != ".json"):
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


def _default_interval() -> Interval:
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


@dataclass
class ModuleSettings:
    """One entry of ``Modules``; ``options`` are the module's own (it validates them)."""

    name: str
    enabled: bool = True
    interval: Interval = field(default_factory=_default_interval)
    options: dict[str, Any] = field(default_factory=dict)
    halo_record_id: int | None = None


@dataclass
class Settings:
    """Everything in one ``appsettings.json``, parsed and with secrets decrypted."""

    path: Path
    halo: HaloConnection
    modules: list[ModuleSettings]
    log_folder: Path
    has_plaintext_secrets: bool = False
    field_lines: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    @property
    def folder(self) -> Path:
        """The settings folder: home of the key file and, by default, the logs."""
        return self.path.parent

    def module(self, name: str) -> ModuleSettings | None:
        """Return the module with this registry name, or None when it is not configured."""
        return next((module for module in self.modules if module.name == name), None)

    def line_of(self, field_path: str) -> int | None:
        """Return the line of ``Modules[0].Options.path`` in the loaded file (None if new)."""
        return self.field_lines.get(field_path)

    @classmethod
    def new(cls, path: Path, halo: HaloConnection) -> Settings:
        """Return fresh settings (no modules, logs beside the file) for ``configure``."""
        path = Path(path)
        return cls(path, halo, [], path.parent / DEFAULT_LOG_FOLDER)


def load_settings(path: str | Path | None) -> Settings:
    """Read, validate and decrypt a settings file (or folder; None = the default folder).

    Raises ConfigError listing every problem with its line and field, or SecretKeyError
    when secrets cannot be decrypted. Never writes anything.
    """
    settings_path = resolve_settings_path(path)
    try:
        raw = settings_path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
        raise ConfigError(
            "the settings file does not exist",
            path=str(settings_path),
            hint="Run `halo-integrator configure` to create it.",
        ) from exc
    except OSError as exc:
        raise ConfigError(
            f"cannot read the settings file: {exc.strerror}",
            path=str(settings_path),
            hint="Run the integrator as the account that owns the settings folder.",
        ) from exc
    return _parse_settings(settings_path, raw)


def _parse_settings(path: Path, raw: bytes) -> Settings:
    """Parse the bytes of a settings file; raise one error listing every problem found."""
    try:
        text = raw.decode("utf-8-sig")  # Notepad may add a byte-order mark
        located = parse_with_lines(text)
    except UnicodeDecodeError as exc:
        raise ConfigError("the file is not UTF-8 text", path=str(path), hint=_FIX_HINT) from exc
    except json.JSONDecodeError as exc:
        raise _json_error(path, exc) from exc
    reader = FieldReader(located)
    secrets = _SecretReader(path.parent, reader)
    settings = _read_settings(path, reader, secrets)
    _raise_problems(path, reader.problems, secrets)
    return settings


def _json_error(path: Path, error: json.JSONDecodeError) -> ConfigError:
    """Translate a syntax error, blaming a missing comma on the line that needs it.

    The decoder stops at the token *after* the missing comma, usually on the next line;
    admins look for the comma at the end of the previous value, so that is the line given.
    """
    line, column = error.lineno, error.colno
    message = f"not valid JSON: {error.msg} (column {column})"
    if error.msg == "Expecting ',' delimiter":
        before = error.doc[: error.pos].rstrip()
        line = before.count("\n") + 1
        message = "not valid JSON: a comma (,) is missing at the end of this line"
    return ConfigError(message, path=str(path), line=line, hint=_FIX_HINT)


_FIX_HINT = "Nothing was changed: correct the file, or run `halo-integrator configure`."


def _raise_problems(path: Path, problems: list[Problem], secrets: _SecretReader) -> None:
    """Raise ConfigError (or SecretKeyError when only secrets failed) listing every problem."""
    if not problems and not secrets.problems:
        return
    error_type = ConfigError if problems else SecretKeyError
    ordered = sorted(problems, key=lambda problem: problem.line or 0) + secrets.problems
    first = ordered[0]
    message = "\n".join([first.message, *(problem.describe(str(path)) for problem in ordered[1:])])
    hint = _FIX_HINT if problems else secrets.hint
    raise error_type(message, path=str(path), line=first.line, field=first.field, hint=hint)


class _SecretReader:
    """Decrypts secret fields, opening the key file only once and only when one is encrypted."""

    def __init__(self, folder: Path, reader: FieldReader) -> None:
        self.folder = folder
        self.reader = reader
        self.problems: list[Problem] = []
        self.hint = ""
        self.found_plaintext = False
        self._box: SecretBox | None = None

    def secret(self, mapping: dict[str, Any], field_path: str, key: str) -> Secret | None:
        """Return a secret field: decrypted, or a pasted plaintext (flagged for re-saving)."""
        value = mapping.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            self.reader.problem(child_path(field_path, key), "must be text")
            return None
        return self.decrypt(value, child_path(field_path, key))

    def decrypt(self, value: str, field_path: str) -> Secret | None:
        if not is_encrypted(value):
            self.found_plaintext = True
            return Secret(value)
        try:
            self._box = self._box or SecretBox.for_folder(self.folder)
            return self._box.decrypt(value)
        except SecretKeyError as exc:
            if exc.message not in (problem.message for problem in self.problems):
                self.problems.append(
                    Problem(field_path, exc.message, self.reader.line_of(field_path))
                )
            self.hint = exc.hint
            return None

    def options(self, value: Any, field_path: str) -> Any:
        """Return module options with every ``enc:v1:`` string (at any depth) decrypted."""
        if isinstance(value, dict):
            return {
                key: self.options(item, child_path(field_path, key)) for key, item in value.items()
            }
        if isinstance(value, list):
            return [
                self.options(item, child_path(field_path, index))
                for index, item in enumerate(value)
            ]
        return self.decrypt(value, field_path) if is_encrypted(value) else value


def _read_settings(path: Path, reader: FieldReader, secrets: _SecretReader) -> Settings:
    """Map the document onto the dataclasses; the readers record every problem on the way."""
    root = reader.as_object(reader.located.value, "")
    reader.check_keys(root, "", ("Halo", "LogFolder", "Modules"))
    halo = _read_halo(reader.as_object(root.get("Halo", MISSING), "Halo"), reader, secrets)
    modules = [
        _read_module(item, f"Modules[{index}]", reader, secrets)
        for index, item in enumerate(reader.array(root, "", "Modules"))
    ]
    _check_unique_names(modules, reader)
    log_folder = Path(reader.text(root, "", "LogFolder") or DEFAULT_LOG_FOLDER).expanduser()
    return Settings(
        path=path,
        halo=halo,
        modules=modules,
        log_folder=path.parent / log_folder,
        has_plaintext_secrets=secrets.found_plaintext,
        field_lines=reader.located.lines,
    )


def _read_halo(
    section: dict[str, Any], reader: FieldReader, secrets: _SecretReader
) -> HaloConnection:
    reader.check_keys(section, "Halo", _HALO_KEYS)
    allow_insecure = reader.boolean(section, "Halo", "AllowInsecureHttp", False)
    url = _read_url(section, "Url", reader, allow_insecure, required=True)
    return HaloConnection(
        url=url or "",
        client_id=reader.text(section, "Halo", "ClientId", required=True) or "",
        client_secret=secrets.secret(section, "Halo", "ClientSecret"),
        tenant=reader.text(section, "Halo", "Tenant") or None,
        auth_url=_read_url(section, "AuthUrl", reader, allow_insecure, required=False),
        scope=reader.text(section, "Halo", "Scope") or "all",
        allow_insecure_http=allow_insecure,
        verify_tls=reader.boolean(section, "Halo", "VerifyTls", True),
        ca_bundle=reader.text(section, "Halo", "CaBundle") or None,
        requests_per_window=int(
            reader.number(section, "Halo", "RequestsPerWindow", 300, whole=True)
        ),
        window_seconds=reader.number(section, "Halo", "WindowSeconds", 300.0),
        batch_size=int(reader.number(section, "Halo", "BatchSize", 100, whole=True)),
        timeout_seconds=reader.number(section, "Halo", "TimeoutSeconds", 30.0),
    )


def _read_url(
    section: dict[str, Any], key: str, reader: FieldReader, allow_insecure: bool, *, required: bool
) -> str | None:
    """Return a Halo URL without a trailing slash; https unless loopback or allowed."""
    url = reader.text(section, "Halo", key, required=required)
    if not url:
        return None
    problem = url_problem(url, allow_insecure=allow_insecure)
    if problem:
        reader.problem(f"Halo.{key}", problem)
    return url.rstrip("/")


def url_problem(url: str, *, allow_insecure: bool = False) -> str | None:
    """Return why ``url`` cannot be a Halo address, or None when it can.

    Plain http would send the client secret and tokens readable on the wire, so it is only
    accepted for loopback (a local emulator or proxy) or when the admin sets AllowInsecureHttp.
    """
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


def _read_module(
    item: Any, field_path: str, reader: FieldReader, secrets: _SecretReader
) -> ModuleSettings:
    section = reader.as_object(item, field_path)
    reader.check_keys(section, field_path, _MODULE_KEYS)
    interval = _default_interval()
    interval_text = reader.text(section, field_path, "Interval")
    if interval_text is not None:
        try:
            interval = Interval.parse(interval_text)
        except ValueError as exc:
            reader.problem(f"{field_path}.Interval", str(exc))
    options = reader.as_object(section.get("Options", {}), f"{field_path}.Options")
    return ModuleSettings(
        name=reader.text(section, field_path, "Name", required=True) or "",
        enabled=reader.boolean(section, field_path, "Enabled", True),
        interval=interval,
        options=secrets.options(options, f"{field_path}.Options"),
        halo_record_id=reader.optional_id(section, field_path, "HaloRecordId"),
    )


def _check_unique_names(modules: list[ModuleSettings], reader: FieldReader) -> None:
    """Two modules with one name would share state and locks, so each name may appear once."""
    seen: set[str] = set()
    for index, module in enumerate(modules):
        if module.name and module.name in seen:
            reader.problem(
                f"Modules[{index}].Name",
                f'module "{module.name}" is listed twice; use another settings folder '
                "for a second one",
            )
        seen.add(module.name)


# The on-disk order of keys; reading checks against the same names so the two cannot drift.
_HALO_KEYS = (
    "Url", "AuthUrl", "Tenant", "ClientId", "ClientSecret", "Scope", "AllowInsecureHttp",
    "VerifyTls", "CaBundle", "RequestsPerWindow", "WindowSeconds", "BatchSize", "TimeoutSeconds",
)  # fmt: skip
_MODULE_KEYS = ("Name", "Enabled", "Interval", "HaloRecordId", "Options")


def settings_to_json(settings: Settings, box: SecretBox) -> dict[str, Any]:
    """Return the on-disk shape of ``settings``, every Secret encrypted with ``box``."""
    halo = settings.halo
    secret = halo.client_secret
    return {
        "Halo": {
            "Url": halo.url,
            "AuthUrl": halo.auth_url,
            "Tenant": halo.tenant,
            "ClientId": halo.client_id,
            "ClientSecret": box.encrypt(secret) if secret else None,
            "Scope": halo.scope,
            "AllowInsecureHttp": halo.allow_insecure_http,
            "VerifyTls": halo.verify_tls,
            "CaBundle": halo.ca_bundle,
            "RequestsPerWindow": halo.requests_per_window,
            "WindowSeconds": _plain_number(halo.window_seconds),
            "BatchSize": halo.batch_size,
            "TimeoutSeconds": _plain_number(halo.timeout_seconds),
        },
        "LogFolder": _relative_to_folder(settings.log_folder, settings.folder),
        "Modules": [
            {
                "Name": module.name,
                "Enabled": module.enabled,
                "Interval": module.interval.text,
                "HaloRecordId": module.halo_record_id,
                "Options": _encrypt_secrets(module.options, box),
            }
            for module in settings.modules
        ],
    }


def _plain_number(value: float) -> float | int:
    """Write 300 rather than 300.0, as an admin would type it."""
    return int(value) if float(value).is_integer() else value


def _relative_to_folder(path: Path, folder: Path) -> str:
    """Store folders inside the settings folder relatively, so the folder can be moved."""
    try:
        return Path(path).relative_to(folder).as_posix() or "."
    except ValueError:
        return str(path)


def _encrypt_secrets(value: Any, box: SecretBox) -> Any:
    """Return ``value`` with every Secret (at any depth) replaced by its encrypted form."""
    if isinstance(value, Secret):
        return box.encrypt(value)
    if isinstance(value, dict):
        return {key: _encrypt_secrets(item, box) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_encrypt_secrets(item, box) for item in value]
    return value


def save_settings(settings: Settings) -> None:
    """Write the settings atomically (0600), keeping the previous file as ``.bak``.

    Creates the folder (0700) and the key file when missing. A crash at any moment leaves
    either the old or the new complete file in place, never a mix.
    """
    folder = settings.folder
    folder.mkdir(parents=True, exist_ok=True, mode=SETTINGS_FOLDER_MODE)
    box = SecretBox.for_folder(folder, create=True)
    text = json.dumps(settings_to_json(settings, box), indent=2, ensure_ascii=False) + "\n"
    if settings.path.exists():
        backup = settings.path.with_name(settings.path.name + BACKUP_SUFFIX)
        _write_atomically(backup, settings.path.read_bytes())
    _write_atomically(settings.path, text.encode("utf-8"))
    settings.has_plaintext_secrets = False


def _write_atomically(target: Path, data: bytes) -> None:
    """Write a private temp file in the target's folder, fsync it, then rename it over."""
    descriptor, temporary_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(descriptor, SETTINGS_FILE_MODE)
        with os.fdopen(descriptor, "wb") as temporary_file:
            temporary_file.write(data)
            temporary_file.flush()
            os.fsync(temporary_file.fileno())
        os.replace(temporary_name, target)
    except BaseException:
        Path(temporary_name).unlink(missing_ok=True)
        raise
    _fsync_folder(target.parent)


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable on POSIX; Windows cannot open a folder, and needs no such step."""
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
