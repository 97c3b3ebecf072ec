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
import os
import sys
from typing import Any

from core.errors import ConfigError
from core.halo.validate import validate_connection
from core.modules.options import describe, parse_options
from core.modules.registry import module_class
from core.settings.model import (
    HaloConnection,
    Interval,
    ModuleSettings,
    Settings,
    resolve_settings_path,
    url_problem,
)
from core.settings.reader import load_settings
from core.settings.secrets import MIN_SECRET_LENGTH, Secret
from core.settings.writer import save_settings
from tray_agent.exit_codes import EXIT_FAILED

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
        "module", parents=[common], help="enable, disable or show a module"
    )
    actions = module.add_subparsers(dest="module_action", required=True, metavar="ACTION")
    enable = actions.add_parser("enable", parents=[common], help="enable and set options")
    enable.add_argument("name")
    enable.add_argument("--interval", help="5m, 1h, daily@02:00 ...")
    enable.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    enable.add_argument(
        "--secret",
        action="append",
        default=[],
        metavar="KEY",
        help=f"secret option; value from ${MODULE_SECRET_PREFIX}<KEY> or one line of stdin",
    )
    enable.add_argument("--halo-record-id", type=int, help="its Halo integration record id")
    for action in ("disable", "show"):
        actions.add_parser(action, parents=[common]).add_argument("name")


def dispatch(args: argparse.Namespace) -> int:
    if args.command == "configure":
        return configure(args)
    if args.module_action == "show":
        return show_module(args.name, args.settings)
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
    settings = load_settings(args.settings)
    cls = module_class(args.name)
    entry = settings.module(args.name)
    if entry is None:
        entry = ModuleSettings(name=args.name)
        settings.modules.append(entry)
    options = dict(entry.options)
    secret_names = {info.name for info in describe(cls.Options) if info.secret}
    for assignment in args.set:
        key, separator, value = assignment.partition("=")
        if not separator:
            raise ConfigError(f"--set {assignment!r} is not KEY=VALUE.")
        if key.strip() in secret_names:
            raise ConfigError(
                f"{key.strip()} is a secret: it must not be given on the command line.",
                hint=f"Use --secret {key.strip()} (value from ${MODULE_SECRET_PREFIX}"
                f"{key.strip().upper()} or stdin). Nothing was saved.",
            )
        options[key.strip()] = value
    for key in args.secret:
        options[key] = _read_secret(f"{MODULE_SECRET_PREFIX}{key.upper()}", key)
    _, problems = parse_options(cls.Options, options)
    if problems:
        listed = "; ".join(f"{name}: {message}" for name, message in problems)
        raise ConfigError(f"Module {args.name} options: {listed}", hint="Nothing was saved.")
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
    print(f"Enabled {args.name} (every {entry.interval.text}) in {settings.path}")
    return 0


def show_module(name: str, settings_path: str | None) -> int:
    cls = module_class(name)
    current: dict[str, Any] = {}
    if resolve_settings_path(settings_path).exists():
        entry = load_settings(settings_path).module(name)
        if entry is not None:
            current = entry.options
            print(
                f"{name}: {'enabled' if entry.enabled else 'disabled'}, every {entry.interval.text}"
            )
    print(f"{cls.display_name}: {cls.description}\n")
    for info in describe(cls.Options):
        value = current.get(info.name)
        shown = "********" if info.secret and value else value
        default = "required" if info.required else f"default {info.default!r}"
        choices = f" ({' | '.join(info.choices)})" if info.choices else ""
        setting = f" = {shown!s}" if shown is not None else ""
        print(f"  {info.name}{setting}  [{info.kind}, {default}]{choices}\n      {info.help}")
    return 0


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
