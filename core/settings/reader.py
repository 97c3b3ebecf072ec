"""Reading ``appsettings.json``: parse it once into ``core.settings.model``'s dataclasses.

Loading never changes the file. It collects *every* problem and raises one ConfigError whose
message lists them one per line as ``<file>, line <n>, field <path>: <what is wrong>``; the
exception's ``line``/``field`` are those of the first problem. Unknown keys in the top level,
``Halo`` and each module are problems (with a "did you mean" hint), because a misspelt key
that is silently ignored is worse for an admin than an error; ``Options`` belong to the
modules, which validate them and can use ``Settings.line_of`` to report lines too.

An admin may paste a plaintext ``ClientSecret``, or a plaintext value into a module's secret
option, into the file: it is accepted as a Secret, and ``Settings.has_plaintext_secrets``
tells the CLI to save the settings again (encrypting it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.errors import ConfigError, SecretKeyError
from core.settings.json_locations import MISSING, FieldReader, Problem, child_path, parse_with_lines
from core.settings.model import (
    DEFAULT_LOG_FOLDER,
    INSTANCE_ID_PATTERN,
    HaloConnection,
    Interval,
    ModuleSettings,
    Settings,
    default_interval,
    instance_name_problem,
    resolve_settings_path,
    url_problem,
)
from core.settings.secrets import Secret, SecretBox, is_encrypted


def load_settings(path: str | Path | None, *, forget_unreadable_secrets: bool = False) -> Settings:
    """Read, validate and decrypt a settings file (or folder; None = the default folder).

    Raises ConfigError listing every problem with its line and field, or SecretKeyError
    when secrets cannot be decrypted. Never writes anything. ``forget_unreadable_secrets``
    is for ``configure`` when the key file is lost: secrets that cannot be decrypted become
    None and are listed in ``Settings.forgotten_secrets``, so they can be entered again
    without retyping everything else.
    """
    settings_path = resolve_settings_path(path)
    try:
        raw = settings_path.read_bytes()
    except IsADirectoryError as exc:
        raise ConfigError(
            "this is a folder, not a settings file",
            path=str(settings_path),
            hint="Give the settings folder that holds appsettings.json, or the file itself.",
        ) from exc
    except (FileNotFoundError, NotADirectoryError) as exc:
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
    return _parse_settings(settings_path, raw, forget_unreadable_secrets)


def _parse_settings(path: Path, raw: bytes, forget_unreadable_secrets: bool = False) -> Settings:
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
    if forget_unreadable_secrets and not reader.problems:
        settings.forgotten_secrets = secrets.unreadable_fields
        return settings
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
        self.unreadable_fields: list[str] = []
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
            self.unreadable_fields.append(field_path)
            if exc.message not in (problem.message for problem in self.problems):
                self.problems.append(
                    Problem(field_path, exc.message, self.reader.line_of(field_path))
                )
            self.hint = exc.hint
            return None

    def module_options(
        self, options: dict[str, Any], field_path: str, secret_names: frozenset[str]
    ) -> dict[str, Any]:
        """Return a module's options decrypted; plaintext in a secret option counts as pasted."""
        decrypted: dict[str, Any] = self.options(options, field_path)
        for name in secret_names & decrypted.keys():
            decrypted[name] = self._plaintext_as_secret(decrypted[name])
        return decrypted

    def _plaintext_as_secret(self, value: Any) -> Any:
        """Plain text in a secret option, also inside a mapping or list of secrets (a
        script's environment), becomes a Secret: masked in logs, encrypted when saved."""
        if isinstance(value, str) and value:
            self.found_plaintext = True
            return Secret(value)
        if isinstance(value, dict):
            return {key: self._plaintext_as_secret(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._plaintext_as_secret(item) for item in value]
        return value

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
    items = reader.array(root, "", "Modules")
    modules = [
        _read_module(item, f"Modules[{index}]", reader, secrets) for index, item in enumerate(items)
    ]
    assigned_ids = any(isinstance(item, dict) and not item.get("Id") for item in items)
    _check_unique_names(modules, reader)
    log_folder = Path(reader.text(root, "", "LogFolder") or DEFAULT_LOG_FOLDER).expanduser()
    return Settings(
        path=path,
        halo=halo,
        modules=modules,
        log_folder=path.parent / log_folder,
        has_plaintext_secrets=secrets.found_plaintext,
        assigned_ids=assigned_ids,
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
        deadline_seconds=reader.number(section, "Halo", "DeadlineSeconds", 180.0),
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


def _read_module(
    item: Any, field_path: str, reader: FieldReader, secrets: _SecretReader
) -> ModuleSettings:
    section = reader.as_object(item, field_path)
    reader.check_keys(section, field_path, _MODULE_KEYS)
    interval = default_interval()
    interval_text = reader.text(section, field_path, "Interval")
    if interval_text is not None:
        try:
            interval = Interval.parse(interval_text)
        except ValueError as exc:
            reader.problem(f"{field_path}.Interval", str(exc))
    options = reader.as_object(section.get("Options", {}), f"{field_path}.Options")
    name = reader.text(section, field_path, "Name", required=True) or ""
    if name and (problem := instance_name_problem(name)):
        reader.problem(f"{field_path}.Name", problem)
    type_name = reader.text(section, field_path, "Type") or name
    instance_id = (reader.text(section, field_path, "Id") or "").strip().lower()
    if instance_id and not INSTANCE_ID_PATTERN.match(instance_id):
        reader.problem(f"{field_path}.Id", "must be 12 to 32 hexadecimal digits (or absent)")
    return ModuleSettings(
        id=instance_id,
        name=name,
        type=type_name,
        enabled=reader.boolean(section, field_path, "Enabled", True),
        interval=interval,
        options=secrets.module_options(
            options, f"{field_path}.Options", secret_option_names(type_name)
        ),
        halo_record_id=reader.optional_id(section, field_path, "HaloRecordId"),
    )


def secret_option_names(type_name: str) -> frozenset[str]:
    """Return the names of a module type's secret options (none for an unknown type).

    The schema lives with the modules, which sit above the settings (they import Secret from
    here), so the registry is imported at call time rather than with this module.
    """
    from core.modules.options import describe
    from core.modules.registry import MODULES

    module = MODULES.get(type_name)
    if module is None:
        return frozenset()
    return frozenset(info.name for info in describe(module.Options) if info.secret)


def every_secret_option_name() -> frozenset[str]:
    """Return the secret option names of every registered module, for text that no longer
    parses (so which module an option belongs to cannot be told)."""
    from core.modules.registry import MODULES

    return frozenset().union(*(secret_option_names(name) for name in MODULES))


def _check_unique_names(modules: list[ModuleSettings], reader: FieldReader) -> None:
    """Two modules with one name would share state and locks, so each name may appear once."""
    seen: set[str] = set()
    for index, module in enumerate(modules):
        # Case-insensitively: on Windows "CSV" and "csv" would share log folder and lock.
        if module.name and module.name.lower() in seen:
            reader.problem(
                f"Modules[{index}].Name",
                f'module "{module.name}" is listed twice; give the second instance another '
                'Name (and its type as "Type")',
            )
        seen.add(module.name.lower())


# The keys a file may hold, in the order core.settings.writer writes them (test_config checks it).
_HALO_KEYS = (
    "Url", "AuthUrl", "Tenant", "ClientId", "ClientSecret", "Scope", "AllowInsecureHttp",
    "VerifyTls", "CaBundle", "RequestsPerWindow", "WindowSeconds", "BatchSize", "TimeoutSeconds",
    "DeadlineSeconds",
)  # fmt: skip
_MODULE_KEYS = ("Name", "Type", "Id", "Enabled", "Interval", "HaloRecordId", "Options")
