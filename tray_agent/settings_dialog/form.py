"""The settings dialog's logic without a display: form values in, ``Settings`` and problems out.

The Tk tabs only copy widget contents into these plain dataclasses and show the problems
this module returns next to the fields they name, so every rule (required fields, blank
secret keeps the stored one, interval syntax, module option checks) is tested without X.
Problem keys are field paths: ``Halo.Url``, ``csv.Interval``, ``csv.Options.path`` (the
instance name first, then the path inside it, ``ad.Options.site_rules[1].site_id``).
"""

from __future__ import annotations

import dataclasses
import json
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from core import __version__
from core.diagnostics import library_versions
from core.errors import ConfigError
from core.modules.options import (
    OptionInfo,
    describe,
    parse_options,
    structured_value,
    to_json_value,
    to_settings,
)
from core.modules.registry import MODULES
from core.settings.model import (
    HaloConnection,
    Interval,
    ModuleSettings,
    Settings,
    instance_name_problem,
    url_problem,
)
from core.settings.secrets import MIN_SECRET_LENGTH, Secret
from core.state.store import STATE_FILE_NAME

Problems = dict[str, str]


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
    """One module instance on the Integrations tab.

    Option values are text, a bool for checkboxes, or JSON text for lists, mappings and
    nested options. ``type`` defaults to ``name`` (the first instance of a type).
    """

    name: str
    enabled: bool = False
    interval: str = "1h"
    options: dict[str, Any] = field(default_factory=dict)
    type: str = ""

    def __post_init__(self) -> None:
        self.type = self.type or self.name


def connection_form(settings: Settings | None) -> ConnectionForm:
    """The fields to show for stored settings (secret never shown: it stays blank)."""
    if settings is None:
        return ConnectionForm()
    halo = settings.halo
    return ConnectionForm(halo.url, halo.client_id, "", halo.tenant or "", halo.auth_url or "")


def module_form(name: str, settings: Settings | None, type_name: str | None = None) -> ModuleForm:
    """The fields to show for one instance: stored values, else the schema defaults."""
    entry = settings.module(name) if settings is not None else None
    type_name = entry.type if entry is not None else (type_name or name)
    stored = entry.options if entry is not None else {}
    options = {}
    for info in describe(MODULES[type_name].Options):
        value = stored.get(info.name, info.default)
        options[info.name] = _display_value(info, value)
    if entry is None:
        return ModuleForm(name, False, "1h", options, type_name)
    return ModuleForm(name, entry.enabled, entry.interval.text, options, type_name)


def module_forms(settings: Settings | None) -> list[ModuleForm]:
    """The Integrations tab's sections: every configured instance of a known type.

    A folder with none shows one (disabled) section per type, so a first-time admin sees
    what there is; modules of types this version does not know are kept, not shown.
    """
    configured = [
        module_form(entry.name, settings)
        for entry in (settings.modules if settings is not None else [])
        if entry.type in MODULES
    ]
    return configured or [module_form(type_name, None) for type_name in MODULES]


def new_instance_problem(name: str, taken: list[str]) -> str | None:
    """Why ``name`` cannot name a new instance beside ``taken``; None when it can."""
    if problem := instance_name_problem(name):
        return problem
    if name.lower() in {other.lower() for other in taken}:
        return f'"{name}" is already used; instance names are unique (in any case)'
    return None


def _display_value(info: OptionInfo, value: Any) -> Any:
    if info.kind == "bool":
        return bool(value)
    if info.secret or value is None:
        return ""  # secrets are never put back into a widget
    if info.structured:
        plain = to_json_value(value)
        text = info.as_text(plain) if info.as_text else None
        return text if text is not None else json.dumps(plain, ensure_ascii=False)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def option_problem(type_name: str, name: str, text: str) -> str | None:
    """The problem of one structured option's JSON text, for the dialog's on-the-fly check."""
    if not text.strip():
        return None
    info = next(info for info in describe(MODULES[type_name].Options) if info.name == name)
    try:
        value = structured_value(info, text)
    except json.JSONDecodeError as exc:
        return f"not valid JSON: {exc.msg} (character {exc.pos + 1})"
    _, problems = parse_options(MODULES[type_name].Options, {name: value})
    own = [
        f"{path}: {message}"
        for path, message in problems
        if path == name or path.startswith((f"{name}[", f"{name}."))
    ]
    return "; ".join(own) or None


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
    if secret is not None and len(form.client_secret) < MIN_SECRET_LENGTH:
        problems["Halo.ClientSecret"] = (
            f"too short: a client secret has at least {MIN_SECRET_LENGTH} characters"
        )
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
    form: ModuleForm, stored: ModuleSettings | None, *, force: bool = False
) -> tuple[ModuleSettings | None, Problems]:
    """Build one module's settings; None when it is off and was never configured (unless
    ``force``: the dialog's source check builds it anyway).

    A blank secret option keeps the stored secret, and a blank text option falls back to
    the schema's default, exactly as an absent key in ``appsettings.json`` would.
    """
    if stored is None and not form.enabled and not force:
        return None, {}
    problems: Problems = {}
    try:
        interval = Interval.parse(form.interval)
    except ValueError as exc:
        problems[f"{form.name}.Interval"] = str(exc)
        interval = stored.interval if stored else Interval.parse("1h")
    options_class = MODULES[form.type].Options
    raw = _raw_options(form, stored, describe(options_class), problems)
    options, option_problems = parse_options(options_class, raw)
    for path, message in option_problems:
        problems.setdefault(f"{form.name}.Options.{path}", message)
    if problems or options is None:
        return None, problems
    entry = ModuleSettings(
        name=form.name,
        type=form.type,
        enabled=form.enabled,
        interval=interval,
        options=to_settings(options),
        halo_record_id=stored.halo_record_id if stored else None,
        # The instance's identity in Halo (the marker on its records): a Save keeps it.
        id=stored.id if stored else "",
    )
    return entry, {}


def _raw_options(
    form: ModuleForm, stored: ModuleSettings | None, infos: list[OptionInfo], problems: Problems
) -> dict[str, Any]:
    stored_options = stored.options if stored else {}
    structured = {info.name: info for info in infos if info.structured}
    secret = {info.name for info in infos if info.secret}
    raw: dict[str, Any] = {}
    for name, value in form.options.items():
        if isinstance(value, bool):
            raw[name] = value
        elif name in structured and str(value).strip():
            try:
                raw[name] = structured_value(structured[name], str(value))
            except json.JSONDecodeError as exc:
                problems[f"{form.name}.Options.{name}"] = (
                    f"not valid JSON: {exc.msg} (character {exc.pos + 1})"
                )
        elif str(value).strip():
            raw[name] = str(value).strip()
        elif name in secret and stored_options.get(name):
            # A secret text, or a mapping of them (a script's environment), kept as stored.
            raw[name] = stored_options[name]
    return raw


def settings_from_form(
    path: Path,
    stored: Settings | None,
    connection: ConnectionForm,
    modules: list[ModuleForm],
    removed: Sequence[str] = (),
) -> tuple[Settings | None, Problems]:
    """The whole dialog as Settings ready for ``Agent.save``, or None and every problem.

    Instances named in ``removed`` are dropped; modules the registry does not know (a newer
    version wrote them) are kept untouched.
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
    kept = [
        by_name.pop(m.name, m) for m in (stored.modules if stored else []) if m.name not in removed
    ]
    if stored is None:
        settings = Settings.new(path, halo)
    else:
        settings = dataclasses.replace(stored, halo=halo, has_plaintext_secrets=False)
    settings.modules = [*kept, *by_name.values()]
    return settings, {}


def newly_enabled(previous: Settings | None, settings: Settings) -> list[str]:
    """The instances enabled in ``settings`` that were off or absent in ``previous``."""
    was_on = {m.name for m in previous.modules if m.enabled} if previous is not None else set()
    return [m.name for m in settings.modules if m.enabled and m.name not in was_on]


def load_problem(error: ConfigError, path: Path) -> str | None:
    """The banner text for a settings file the dialog could not load; None when it is new."""
    if not path.exists():
        return None
    return (
        f"{error.title}: {error} The form starts empty; saving replaces the file "
        f"(the current one is kept as {path.name}.bak)."
    )


def about_rows(settings_path: Path, settings: Settings | None) -> list[tuple[str, str]]:
    """What the About tab lists, as (label, value): versions first, then where files live."""
    log_folder = settings.log_folder if settings else settings_path.parent / "logs"
    rows = [
        ("Halo Integrator", __version__),
        ("Halo instance", settings.halo.url if settings else "(not configured yet)"),
        ("Settings file", str(settings_path)),
        ("Logs folder", str(log_folder)),
        ("State database", str(settings_path.parent / STATE_FILE_NAME)),
        ("Python", f"{platform.python_version()} ({platform.system()} {platform.machine()})"),
    ]
    return rows + library_versions()
