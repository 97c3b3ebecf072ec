"""Scriptable set-up: ``configure`` and ``module enable|disable|show``.

For admins who deploy many jump boxes from a script, the way ServiceNow's MID Server installs
silently. Secrets never come from an argument (other users see process arguments): the
client secret comes from ``HALO_CLIENT_SECRET`` or stdin, a module secret from
``HALO_SECRET_<KEY>`` or one line of stdin. A secret shorter than ``MIN_SECRET_LENGTH`` and a
URL with a user name or password in it are refused before anything is saved.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from core.agent import Agent
from core.errors import ConfigError
from core.settings.model import (
    HaloConnection,
    Interval,
    ModuleSettings,
    Settings,
    instance_name_problem,
    resolve_settings_path,
    url_problem,
)
from core.settings.reader import load_settings
from core.settings.secrets import MIN_SECRET_LENGTH, Secret
from core.settings.writer import save_settings
from tray_agent.exit_codes import EXIT_FAILED

if TYPE_CHECKING:
    from core.modules.options import OptionInfo

SECRET_ENVIRONMENT_VARIABLE = "HALO_CLIENT_SECRET"  # noqa: S105 - a variable name
MODULE_SECRET_PREFIX = "HALO_SECRET_"  # noqa: S105 - a variable name prefix


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    configure = commands.add_parser(
        "configure",
        parents=[common],
        help=f"set the Halo connection (secret from ${SECRET_ENVIRONMENT_VARIABLE} or stdin)",
    )
    configure.add_argument(
        "--url", required=True, help="instance URL, e.g. https://acme.halopsa.com"
    )
    configure.add_argument("--client-id", required=True)
    configure.add_argument("--tenant", help="hosted Halo only")
    configure.add_argument("--auth-url", help="separate auth server, if Halo shows one")
    configure.add_argument("--allow-insecure-http", action="store_true")
    configure.add_argument("--no-validate", action="store_true", help="save without validating")

    module = commands.add_parser(
        "module",
        parents=[common],
        help="add, change, disable, show or remove a module instance",
        description="Module instances: a TYPE (csv, ...) under a NAME unique in the settings "
        "file. Actions: enable TYPE [--name NAME], disable NAME, show NAME|TYPE, remove NAME.",
    )
    actions = module.add_subparsers(dest="module_action", required=True, metavar="ACTION")
    enable = actions.add_parser(
        "enable",
        parents=[common],
        help="add or change an instance of TYPE and enable it",
        description="Add an instance of TYPE (named NAME, default TYPE) or change it.",
    )
    enable.add_argument(
        "type", metavar="TYPE", help="the module type, see `halo-integrator modules`"
    )
    enable.add_argument("--name", help="instance name (letters, digits, - and _); default: TYPE")
    enable.add_argument("--interval", help="5m, 1h, daily@02:00 ...")
    enable.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set an option; lists, mappings and nested options take JSON (KEY=[...])",
    )
    enable.add_argument(
        "--add",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="append one element (JSON or text) to a list option; repeatable",
    )
    enable.add_argument(
        "--secret",
        action="append",
        default=[],
        metavar="KEY",
        help=f"secret option; value from ${MODULE_SECRET_PREFIX}<KEY> or one line of stdin",
    )
    enable.add_argument("--halo-record-id", type=int, help="its Halo integration record id")
    for action, text in (
        ("disable", "stop running an instance (its settings stay)"),
        ("show", "an instance's settings, or a type's options"),
        ("remove", "remove an instance and forget its local state (Halo records stay)"),
    ):
        actions.add_parser(action, parents=[common], help=text).add_argument("name")


def dispatch(args: argparse.Namespace) -> int:
    if args.command == "configure":
        return configure(args)
    if args.module_action == "show":
        return show_module(args.name, args.settings)
    if args.module_action == "remove":
        agent = Agent(args.settings)
        agent.remove_module(args.name)
        print(f"Removed {args.name} from {agent.settings_path}")
        return 0
    if args.module_action == "disable":
        settings = load_settings(args.settings)
        entry = settings.module(args.name)
        if entry is None:
            raise ConfigError(f"Module {args.name} is not configured.", path=str(settings.path))
        entry.enabled = False
        save_settings(settings)
        print(f"Disabled {args.name} in {settings.path}")
        return 0
    return enable_module(args)


def configure(args: argparse.Namespace) -> int:
    """Set the connection; settings already in the folder (modules, CaBundle, limits) are
    kept, and validation uses them too, so a proxy's CA bundle counts before saving."""
    from core.halo.validate import validate_connection  # lazily: the tray shares this parser

    path = resolve_settings_path(args.settings)
    _check_urls(args)
    given = {
        "url": args.url.rstrip("/"),
        "client_id": args.client_id,
        "client_secret": _read_secret(SECRET_ENVIRONMENT_VARIABLE, "Client secret"),
        "tenant": args.tenant,
        "auth_url": args.auth_url,
        "allow_insecure_http": args.allow_insecure_http,
    }
    if path.exists():
        settings = load_settings(path, forget_unreadable_secrets=True)
        _warn_about_forgotten_secrets(settings)
        settings.halo = dataclasses.replace(settings.halo, **given)
    else:
        settings = Settings.new(path, HaloConnection(**given))
    if not args.no_validate:
        result = validate_connection(settings.halo)
        print(("OK: " if result.ok else "FAILED: ") + str(result))
        if not result.ok:
            print("Nothing was saved.", file=sys.stderr)
            return EXIT_FAILED
    save_settings(settings)
    print(f"Saved {path}")
    return 0


def _check_urls(args: argparse.Namespace) -> None:
    """Refuse a URL the settings reader would refuse, even with --no-validate, before the
    secret is asked for: saved, a user:password@ URL would leak its password into logs."""
    for option, url in (("--url", args.url), ("--auth-url", args.auth_url)):
        problem = url and url_problem(url, allow_insecure=args.allow_insecure_http)
        if problem:
            raise ConfigError(problem, field=option, hint="Nothing was saved.")


def _warn_about_forgotten_secrets(settings: Settings) -> None:
    if not settings.forgotten_secrets:
        return
    print(
        "The stored secrets could not be decrypted (key file lost or replaced); "
        "the client secret is replaced now.",
        file=sys.stderr,
    )
    module_secrets = [f for f in settings.forgotten_secrets if f.startswith("Modules")]
    if module_secrets:
        print(
            "Enter these again with `halo-integrator module enable NAME --secret KEY`: "
            + ", ".join(module_secrets),
            file=sys.stderr,
        )


def enable_module(args: argparse.Namespace) -> int:
    from core.modules.options import describe, parse_options
    from core.modules.registry import module_class

    settings = load_settings(args.settings)
    cls = module_class(args.type)
    name = args.name or args.type
    if problem := instance_name_problem(name):
        raise ConfigError(problem, field="--name")
    entry = settings.module(name)
    if entry is not None and entry.type != args.type:
        raise ConfigError(
            f"{name} is already an instance of {entry.type}, not {args.type}.",
            hint="Choose another --name, or remove it first.",
        )
    if entry is None:
        entry = ModuleSettings(name=name, type=args.type)
        settings.modules.append(entry)
    infos = {info.name: info for info in describe(cls.Options)}
    options = dict(entry.options)
    for assignment in args.set:
        key, value = _assignment(assignment, infos)
        options[key] = _option_value(value, infos.get(key))
    for assignment in args.add:
        key, value = _assignment(assignment, infos)
        if key not in infos or infos[key].kind != "list":
            raise ConfigError(
                f"--add {key}: {key} is not a list option.", hint="Nothing was saved."
            )
        current = options.get(key) or []
        options[key] = [*current, _list_element(value)]
    for key in args.secret:
        secret = _read_secret(f"{MODULE_SECRET_PREFIX}{key.upper()}", key)
        options[key] = _secret_mapping(key, secret) if _kind(infos, key) == "dict" else secret
    _, problems = parse_options(cls.Options, options)
    if problems:
        listed = "; ".join(f"{path}: {message}" for path, message in problems)
        raise ConfigError(f"Module {name} options: {listed}", hint="Nothing was saved.")
    entry.options = options
    entry.enabled = True
    if args.interval:
        try:
            entry.interval = Interval.parse(args.interval)
        except ValueError as exc:
            raise ConfigError(str(exc), field="--interval") from None
    if args.halo_record_id is not None:
        entry.halo_record_id = args.halo_record_id
    save_settings(settings)
    print(f"Enabled {name} ({args.type}, every {entry.interval.text}) in {settings.path}")
    return 0


def _kind(infos: dict[str, OptionInfo], key: str) -> str:
    return infos[key].kind if key in infos else "str"


def _secret_mapping(key: str, value: Secret) -> dict[str, Secret]:
    """A mapping of secrets (a script's ``environment``) read as JSON, each value a Secret."""
    try:
        mapping = json.loads(value.reveal())
    except json.JSONDecodeError:
        mapping = None
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise ConfigError(
            f'--secret {key}: expected a JSON object of texts, such as {{"NAME": "value"}}.',
            hint="Nothing was saved.",
        )
    return {str(name): Secret(text) for name, text in mapping.items()}


def _assignment(assignment: str, infos: dict[str, OptionInfo]) -> tuple[str, str]:
    """KEY and VALUE of ``KEY=VALUE``; a secret never comes from an argument."""
    key, separator, value = assignment.partition("=")
    key = key.strip()
    if not separator:
        raise ConfigError(f"{assignment!r} is not KEY=VALUE.")
    if key in infos and infos[key].secret:
        raise ConfigError(
            f"{key} is a secret: it must not be given on the command line.",
            hint=f"Use --secret {key} (value from ${MODULE_SECRET_PREFIX}"
            f"{key.upper()} or stdin). Nothing was saved.",
        )
    return key, value


def _option_value(text: str, info: OptionInfo | None) -> Any:
    """Text for plain options; JSON for lists, mappings and nested options (or their text
    form, ``base_dns=OU=A,DC=x;OU=B,DC=x``, where the option has one)."""
    from core.modules.options import structured_value

    if info is None or not info.structured:
        return text
    try:
        return structured_value(info, text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{info.name} takes JSON (for example {json.dumps(info.example or [])}): {exc.msg} "
            f"at character {exc.pos + 1}.",
            hint="Quote the whole KEY=VALUE for the shell. Nothing was saved.",
        ) from None


def _list_element(text: str) -> Any:
    """One element for --add: JSON when it parses (an object, a number), else the text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def show_module(name: str, settings_path: str | None) -> int:
    """An instance's settings and its type's options; or a type's options alone."""
    from core.modules.options import describe
    from core.modules.registry import module_class

    entry = None
    if resolve_settings_path(settings_path).exists():
        entry = load_settings(settings_path).module(name)
    cls = module_class(entry.type if entry is not None else name)
    current: dict[str, Any] = entry.options if entry is not None else {}
    if entry is not None:
        state = "enabled" if entry.enabled else "disabled"
        print(f"{entry.name} ({entry.type}): {state}, every {entry.interval.text}")
    print(f"{cls.display_name}: {cls.description}")
    if missing := cls.missing_extra():
        print(f"This installation {missing}.")
    if cls.status_record is not None and cls.status_record.shared:
        print(
            "Every instance of this type reports Last Sync / Last Error on one shared Halo "
            "record; Halo shows whichever ran last (status here is per instance)."
        )
    print()
    for info in describe(cls.Options):
        value = current.get(info.name)
        shown = _shown(info, value)
        default = "required" if info.required else f"default {_shown(info, info.default)}"
        choices = f" ({' | '.join(info.choices)})" if info.choices else ""
        setting = f" = {shown}" if value is not None else ""
        print(f"  {info.name}{setting}  [{info.kind}, {default}]{choices}\n      {info.help}")
        if info.applies_when:
            print(f"      Only when {applies_when_text(info)}.")
        if info.structured and info.example is not None and info.secret:
            variable = f"{MODULE_SECRET_PREFIX}{info.name.upper()}"
            print(f"      e.g. {variable}='{json.dumps(info.example)}' ... --secret {info.name}")
        elif info.structured and info.example is not None:
            print(f"      e.g. --set '{info.name}={json.dumps(info.example)}'")
    return 0


def applies_when_text(info: OptionInfo) -> str:
    """``target is assets``: when an option matters, as ``module show`` says it."""
    return " and ".join(
        f"{other} is {' or '.join(str(value) for value in values)}"
        for other, values in info.applies_when
    )


def _shown(info: OptionInfo, value: Any) -> str:
    from core.modules.options import to_json_value

    if info.secret:
        return "********" if value else "(not set)"
    if info.structured:
        return json.dumps(to_json_value(value), default=str)
    return str(value) if value != "" else '""'


def _read_secret(variable: str, prompt: str) -> Secret:
    value = os.environ.get(variable)
    if value is None:
        if sys.stdin.isatty():
            value = getpass.getpass(f"{prompt}: ")
        else:
            value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise ConfigError(
            f"No {prompt.lower()} given.", hint=f"Set {variable} or pipe it on stdin."
        )
    if len(value) < MIN_SECRET_LENGTH:
        # The logs could not mask it without mangling ordinary words (see core.run.logs).
        raise ConfigError(
            f"The {prompt.lower()} is shorter than {MIN_SECRET_LENGTH} characters: too short "
            "to keep out of the logs.",
            hint="Paste the whole secret (Halo's client secrets are much longer) or choose "
            "a longer one. Nothing was saved.",
        )
    return Secret(value)
