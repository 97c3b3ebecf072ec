"""``halo-integrator``: the command line, including AUTO mode for Task Scheduler, cron, systemd.

Exit codes (what a scheduler's history shows): 0 every module succeeded, 1 a module failed
(or Halo could not be validated), 2 the settings are missing or invalid. AUTO stays plain
(no progress bar, one summary line per module); an interactive ``sync`` shows progress.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from core.config import load_settings
from core.errors import ConfigError, IntegratorError
from core.halo_validate import validate_connection
from core.modules.registry import MODULES
from core.runner import ModuleRunResult, Runner
from core.status_report import module_statuses
from tray_agent import cli_setup
from tray_agent.console import ProgressPrinter, print_results, print_status_table

EXIT_OK, EXIT_MODULE_FAILED, EXIT_CONFIG = 0, 1, 2
AUTO_WORDS = ("AUTO", "auto")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--settings",
        metavar="PATH",
        help="settings folder or appsettings.json (default: the platform's config folder)",
    )
    common.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    parser = argparse.ArgumentParser(
        prog="halo-integrator",
        description="Keeps a Halo instance fed with local data (users, assets, mail, ...).",
        parents=[common],
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    auto = commands.add_parser(
        "AUTO",
        aliases=["auto"],
        parents=[common],
        help="run every enabled module once, headless (for schedulers)",
    )
    auto.add_argument("settings_path", nargs="?", metavar="SETTINGS", help="appsettings.json")

    commands.add_parser("validate", parents=[common], help="check the Halo connection")

    sync = commands.add_parser("sync", parents=[common], help="run modules now")
    sync.add_argument("modules", nargs="*", metavar="MODULE", help="default: every enabled one")
    sync.add_argument(
        "--dry-run", action="store_true", help="show what would change; write nothing"
    )
    sync.add_argument(
        "--allow-mass-deactivation",
        action="store_true",
        help="let this run deactivate more than the module's max_deactivate_percent",
    )

    status = commands.add_parser("status", parents=[common], help="last sync / last error")
    status.add_argument("--json", action="store_true", help="machine-readable output")

    commands.add_parser("modules", parents=[common], help="list the modules the agent knows")
    cli_setup.add_commands(commands, common)

    emulator = commands.add_parser(
        "emulator", parents=[common], help="run the local Halo API emulator"
    )
    _add_emulator_arguments(emulator)
    demo = commands.add_parser("demo", parents=[common], help="sync sample data into an emulator")
    demo.add_argument("--keep", action="store_true", help="keep the emulator running afterwards")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose)
    try:
        return _dispatch(args)
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except IntegratorError as exc:
        print(f"{exc.title}: {exc}", file=sys.stderr)
        return EXIT_MODULE_FAILED
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    command = args.command
    if command in AUTO_WORDS:
        return run_modules(args.settings_path or args.settings, origin="auto", interactive=False)
    if command == "sync":
        return run_modules(
            args.settings,
            names=args.modules,
            dry_run=args.dry_run,
            allow_mass_deactivation=args.allow_mass_deactivation,
            origin="cli",
            interactive=sys.stderr.isatty(),
        )
    if command == "validate":
        result = validate_connection(load_settings(args.settings).halo)
        print(("OK: " if result.ok else "FAILED: ") + str(result))
        return EXIT_OK if result.ok else EXIT_MODULE_FAILED
    if command == "status":
        statuses = module_statuses(load_settings(args.settings))
        if args.json:
            print(json.dumps([status.as_dict() for status in statuses], indent=2))
        else:
            print_status_table(statuses)
        return EXIT_OK
    if command == "modules":
        for name, cls in MODULES.items():
            print(f"{name:12} {cls.display_name}: {cls.description}")
        return EXIT_OK
    if command == "emulator":
        return _run_emulator(args)
    if command == "demo":
        from tray_agent.demo import run_demo

        return run_demo(keep=args.keep)
    return cli_setup.dispatch(args)


def run_modules(
    settings_path: str | None,
    *,
    names: Sequence[str] | None = None,
    dry_run: bool = False,
    allow_mass_deactivation: bool = False,
    origin: str,
    interactive: bool,
) -> int:
    """Run modules and print one line each; the exit code follows the worst outcome."""
    settings = load_settings(settings_path)
    listeners = [ProgressPrinter(sys.stderr)] if interactive else []
    runner = Runner(settings, origin=origin, listeners=listeners)
    results = runner.run(names, dry_run=dry_run, allow_mass_deactivation=allow_mass_deactivation)
    print_results(results, dry_run=dry_run)
    return exit_code(results)


def exit_code(results: Sequence[ModuleRunResult]) -> int:
    return (
        EXIT_OK
        if all(result.ok or result.outcome == "skipped" for result in results)
        else (EXIT_MODULE_FAILED)
    )


def _add_emulator_arguments(parser: argparse.ArgumentParser) -> None:
    try:
        from halo_emulator.cli import add_arguments
    except ImportError:  # the emulator extra is not installed: the command explains itself
        return
    add_arguments(parser)


def _run_emulator(args: argparse.Namespace) -> int:
    try:
        from halo_emulator.cli import run
    except ImportError:
        print(
            "The emulator needs the 'emulator' extra: pip install 'halo-integrator[emulator]'",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    return run(args)


def _configure_logging(verbose: bool) -> None:
    from core.run_log import RedactingFilter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter())
    handler.setLevel(logging.INFO if verbose else logging.WARNING)
    root = logging.getLogger("halo_integrator")
    root.addHandler(handler)
    root.setLevel(logging.INFO)


if __name__ == "__main__":
    sys.exit(main())
