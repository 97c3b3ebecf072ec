"""The settings dialog's logic without a display: form values in, ``Settings`` and problems out.

The Tk tabs only copy widget contents into these plain dataclasses and show the problems
this module returns next to the fields they name, so every rule (required fields, blank
secret keeps the stored one, interval syntax, module option checks) is tested without X.
Problem keys are field paths: ``Halo.Url``, ``csv.Interval``, ``csv.Options.path``.
"""

from __future__ import annotations

import dataclasses
import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, TypedDict

from core import __version__
from core.errors import ConfigError
from core.modules.options import OptionInfo, describe, parse_options, to_settings
from core.modules.registry import MODULES
from core.settings.model import HaloConnection, Interval, ModuleSettings, Settings, url_problem
from core.settings.secrets import Secret
from core.state.store import STATE_FILE_NAME

Problems = dict[str, str]
LIBRARIES = ("httpx", "cryptography", "pystray", "Pillow", "plyer", "schedule")


@dataclass
class ConnectionForm:
    """What the Basic Configuration tab holds; a blank secret means "keep the stored one"."""

    url: str = ""
    client_id: str = ""
    client_secret: str = ""
    tenant: str = ""
    auth_url: str = ""


class _ConnectionFields(TypedDict):
    """The ``HaloConnection`` fields the Basic Configuration tab sets (the rest stay stored)."""

    url: str
    client_id: str
    client_secret: Secret | None
    tenant: str | None
    auth_url: str | None


@dataclass
class ModuleForm:
    """One module on the Integrations tab; option values are text, or bool for checkboxes."""

    name: str
    enabled: bool = False
    interval: str = "1h"
    options: dict[str, Any] = field(default_factory=dict)


def connection_form(settings: Settings | None) -> ConnectionForm:
    """The fields to show for stored settings (secret never shown: it stays blank)."""
    if settings is None:
        return ConnectionForm()
    halo = settings.halo
    return ConnectionForm(halo.url, halo.client_id, "", halo.tenant or "", halo.auth_url or "")


def module_form(name: str, settings: Settings | None) -> ModuleForm:
    """The fields to show for one registry module: stored values, else the schema defaults."""
    entry = settings.module(name) if settings is not None else None
    stored = entry.options if entry is not None else {}
    options = {}
    for info in describe(MODULES[name].Options):
        value = stored.get(info.name, info.default)
        options[info.name] = _display_value(info, value)
    if entry is None:
        return ModuleForm(name, False, "1h", options)
    return ModuleForm(name, entry.enabled, entry.interval.text, options)


def _display_value(info: OptionInfo, value: Any) -> Any:
    if info.kind == "bool":
        return bool(value)
    if info.secret or value is None:
        return ""  # secrets are never put back into a widget
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def connection_from_form(
    form: ConnectionForm, stored: HaloConnection | None
) -> tuple[HaloConnection, Problems]:
    """Build the connection to validate or save; every problem, keyed by field path.

    Advanced values not on the form (rate limits, TLS options) are kept from ``stored``.
    """
    problems: Problems = {}
    url = form.url.strip().rstrip("/")
    allow_insecure = stored.allow_insecure_http if stored else False
    if not url:
        problems["Halo.Url"] = "required, e.g. https://acme.halopsa.com"
    elif problem := url_problem(url, allow_insecure=allow_insecure):
        problems["Halo.Url"] = problem
    auth_url = form.auth_url.strip().rstrip("/") or None
    if auth_url and (problem := url_problem(auth_url, allow_insecure=allow_insecure)):
        problems["Halo.AuthUrl"] = problem
    if not form.client_id.strip():
        problems["Halo.ClientId"] = "required: the client ID of the Halo application"
    secret = Secret(form.client_secret) if form.client_secret else None
    if secret is None and stored is not None:
        secret = stored.client_secret
    if secret is None:
        problems["Halo.ClientSecret"] = "required: the client secret of the Halo application"
    values: _ConnectionFields = {
        "url": url,
        "client_id": form.client_id.strip(),
        "client_secret": secret,
        "tenant": form.tenant.strip() or None,
        "auth_url": auth_url,
    }
    if stored is None:
        return HaloConnection(**values), problems
    return dataclasses.replace(stored, **values), problems


def module_from_form(
    form: ModuleForm, stored: ModuleSettings | None
) -> tuple[ModuleSettings | None, Problems]:
    """Build one module's settings; None when it is off and was never configured.

    A blank secret option keeps the stored secret, and a blank text option falls back to
    the schema's default, exactly as an absent key in ``appsettings.json`` would.
    """
    if stored is None and not form.enabled:
        return None, {}
    problems: Problems = {}
    try:
        interval = Interval.parse(form.interval)
    except ValueError as exc:
        problems[f"{form.name}.Interval"] = str(exc)
        interval = stored.interval if stored else Interval.parse("1h")
    raw = _raw_options(form, stored)
    options, option_problems = parse_options(MODULES[form.name].Options, raw)
    for name, message in option_problems:
        problems[f"{form.name}.Options.{name}"] = message
    if problems or options is None:
        return None, problems
    entry = ModuleSettings(
        name=form.name,
        enabled=form.enabled,
        interval=interval,
        options=to_settings(options),
        halo_record_id=stored.halo_record_id if stored else None,
    )
    return entry, {}


def _raw_options(form: ModuleForm, stored: ModuleSettings | None) -> dict[str, Any]:
    stored_options = stored.options if stored else {}
    raw: dict[str, Any] = {}
    for name, value in form.options.items():
        if isinstance(value, bool):
            raw[name] = value
        elif str(value).strip():
            raw[name] = str(value).strip()
        elif isinstance(stored_options.get(name), Secret):
            raw[name] = stored_options[name]
    return raw


def settings_from_form(
    path: Path,
    stored: Settings | None,
    connection: ConnectionForm,
    modules: list[ModuleForm],
) -> tuple[Settings | None, Problems]:
    """The whole dialog as Settings ready for ``Agent.save``, or None and every problem.

    Modules the registry does not know (a newer version wrote them) are kept untouched.
    """
    halo, problems = connection_from_form(connection, stored.halo if stored else None)
    by_name: dict[str, ModuleSettings] = {}
    for form in modules:
        stored_entry = stored.module(form.name) if stored else None
        entry, module_problems = module_from_form(form, stored_entry)
        problems.update(module_problems)
        if entry is not None:
            by_name[form.name] = entry
    if problems:
        return None, problems
    kept = [by_name.pop(m.name, m) for m in stored.modules] if stored else []
    if stored is None:
        settings = Settings.new(path, halo)
    else:
        settings = dataclasses.replace(stored, halo=halo, has_plaintext_secrets=False)
    settings.modules = [*kept, *by_name.values()]
    return settings, {}


def load_problem(error: ConfigError, path: Path) -> str | None:
    """The banner text for a settings file the dialog could not load; None when it is new."""
    if not path.exists():
        return None
    return (
        f"{error.title}: {error} The form starts empty; saving replaces the file "
        f"(the current one is kept as {path.name}.bak)."
    )


def library_versions() -> list[tuple[str, str]]:
    """(name, version or "not installed") for the libraries support asks about."""
    versions = []
    for name in LIBRARIES:
        try:
            versions.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            versions.append((name, "not installed"))
    return versions


def about_rows(settings_path: Path, settings: Settings | None) -> list[tuple[str, str]]:
    """What the About tab lists, as (label, value): versions first, then where files live."""
    log_folder = settings.log_folder if settings else settings_path.parent / "logs"
    rows = [
        ("Halo Integrator", __version__),
        ("Settings file", str(settings_path)),
        ("Logs folder", str(log_folder)),
        ("State database", str(settings_path.parent / STATE_FILE_NAME)),
        ("Python", f"{platform.python_version()} ({platform.system()} {platform.machine()})"),
    ]
    return rows + library_versions()
