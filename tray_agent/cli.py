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

from core.agent import Agent
from core.errors import ConfigError, IntegratorError
from core.run.events import ModuleRunResult
from core.run.logs import log_to_file, log_to_stderr
from core.run.request import RunRequest
from tray_agent import cli_setup
from tray_agent.console import ProgressPrinter, print_results, print_status_table
from tray_agent.exit_codes import EXIT_CONFIG, EXIT_FAILED, EXIT_OK

log = logging.getLogger("halo_integrator.cli")

EXIT_MODULE_FAILED = EXIT_FAILED
AUTO_WORDS = ("AUTO", "auto")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: "--settings X" may stand before or after the command; a subcommand's own
    # default must not overwrite a value given before it.
    common.add_argument(
        "--settings",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="settings folder or appsettings.json (default: the platform's config folder)",
    )
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log progress to stderr",
    )
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
    auto.add_argument(
        "--due",
        action="store_true",
        help="run only the modules whose interval has passed since their last run",
    )

    commands.add_parser(
        "validate",
        parents=[common],
        help="check the Halo connection, then every enabled module's source",
    )

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
    sync.add_argument(
        "--full",
        action="store_true",
        help="read the whole source now instead of only what changed (delta sources)",
    )

    status = commands.add_parser("status", parents=[common], help="last sync / last error")
    status.add_argument("--json", action="store_true", help="machine-readable output")

    commands.add_parser("modules", parents=[common], help="list the modules the agent knows")
    diagnostics = commands.add_parser(
        "diagnostics",
        parents=[common],
        help="write a zip for a support ticket: versions, settings without secrets, runs, logs",
    )
    diagnostics.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        default=".",
        help="the zip to write, or a folder for a dated name (default: the current folder)",
    )
    cli_setup.add_commands(commands, common)

    commands.add_parser("tray", parents=[common], help="start the tray agent")
    commands.add_parser("settings", parents=[common], help="open the settings dialog")

    schedule = commands.add_parser(
        "schedule", parents=[common], help="run AUTO mode from the system's scheduler"
    )
    schedule_actions = schedule.add_subparsers(dest="schedule_action", required=True)
    install = schedule_actions.add_parser(
        "install",
        parents=[common],
        help="write a Task Scheduler task (Windows) or a systemd user timer / cron line (Linux)",
    )
    install.add_argument(
        "--kind",
        choices=("auto", "windows-task", "systemd", "cron"),
        default="auto",
        help="default: windows-task on Windows, systemd on Linux",
    )
    install.add_argument("--every", default="15m", help="how often AUTO runs (5m, 1h, daily@02:00)")
    install.add_argument(
        "--due",
        action="store_true",
        help="schedule AUTO --due: each module then runs on its own interval "
        "(use an --every as short as the shortest interval)",
    )
    install.add_argument("--output", metavar="PATH", help="where to write the definition")
    autostart = commands.add_parser(
        "autostart", parents=[common], help="start the tray at login (on/off)"
    )
    autostart.add_argument("state", choices=("on", "off"))

    # Listed for --help only: main() hands "emulator ..." to the emulator's own parser, so
    # no other command loads the emulator (and aiohttp) just to build its arguments.
    commands.add_parser(
        "emulator", help="run the local Halo API emulator (see: emulator --help)", add_help=False
    )
    demo = commands.add_parser("demo", parents=[common], help="sync sample data into an emulator")
    demo.add_argument("--keep", action="store_true", help="keep the emulator running afterwards")
    return parser


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    args.settings = getattr(args, "settings", None)
    args.verbose = getattr(args, "verbose", False)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["emulator"]:
        return _run_emulator(arguments[1:])
    args = parse_arguments(arguments)
    log_to_stderr(logging.INFO if args.verbose else logging.WARNING)
    if args.command in AUTO_WORDS:
        _log_auto_runs(args.settings_path or args.settings)
    try:
        return _dispatch(args)
    except ConfigError as exc:
        log.error("Configuration error: %s", exc)  # to stderr and, in AUTO mode, to auto.log
        return EXIT_CONFIG
    except IntegratorError as exc:
        log.error("%s: %s", exc.title, exc)
        return EXIT_MODULE_FAILED
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    command = args.command
    if command in AUTO_WORDS:
        request = RunRequest(only_due=args.due)
        settings = args.settings_path or args.settings
        return run_modules(settings, request, origin="auto", interactive=False)
    if command == "sync":
        request = RunRequest.of(
            args.modules,
            dry_run=args.dry_run,
            allow_mass_deactivation=args.allow_mass_deactivation,
            full=args.full,
        )
        return run_modules(args.settings, request, origin="cli", interactive=sys.stderr.isatty())
    if command == "validate":
        return validate(args.settings)
    if command == "status":
        statuses = Agent(args.settings).statuses()
        if args.json:
            print(json.dumps([status.as_dict() for status in statuses], indent=2))
        else:
            print_status_table(statuses)
        return EXIT_OK
    if command == "modules":
        print_module_types()
        return EXIT_OK
    if command == "diagnostics":
        return write_diagnostics(args.settings, args.output)
    if command == "tray":
        from tray_agent.app import run_tray

        return run_tray(args.settings)
    if command == "settings":
        from tray_agent.settings_dialog import run_settings_dialog

        return run_settings_dialog(args.settings)
    if command == "schedule":
        from tray_agent.os_integration import install_schedule

        return install_schedule(args)
    if command == "autostart":
        from tray_agent.os_integration import set_autostart

        return set_autostart(args.settings, enabled=args.state == "on")
    if command == "demo":
        from tray_agent.demo import run_demo

        return run_demo(keep=args.keep)
    return cli_setup.dispatch(args)


def run_modules(
    settings_path: str | None, request: RunRequest, *, origin: str, interactive: bool
) -> int:
    """Run modules and print one line each; the exit code follows the worst outcome."""
    agent = Agent(settings_path, origin=origin)
    if interactive:
        agent.subscribe(ProgressPrinter(sys.stderr))
    results = agent.run(request)
    print_results(results, dry_run=request.dry_run)
    return exit_code(results)


def exit_code(results: Sequence[ModuleRunResult]) -> int:
    """0 when nothing needs an admin (skipped and not-due runs included), else 1."""
    return EXIT_OK if all(result.ok for result in results) else EXIT_MODULE_FAILED


def validate(settings_path: str | None) -> int:
    """The Halo connection, then every enabled module's source: one line each, 0 if all pass."""
    agent = Agent(settings_path)
    connection = agent.validate()
    print(("OK      " if connection.ok else "FAILED  ") + f"Halo: {connection}")
    checks = agent.check_sources()
    for check in checks:
        print(("OK      " if check.ok else "FAILED  ") + str(check))
    passed = connection.ok and all(check.ok for check in checks)
    return EXIT_OK if passed else EXIT_MODULE_FAILED


def write_diagnostics(settings_path: str | None, output: str) -> int:
    """``diagnostics``: the same bundle as the About tab's Save diagnostics bundle."""
    from pathlib import Path

    from core.diagnostics import write_bundle

    try:
        written = write_bundle(settings_path, Path(output))
    except OSError as exc:
        log.error("Cannot write the diagnostics bundle %s: %s", output, exc.strerror or exc)
        return EXIT_FAILED
    print(f"Wrote {written}: attach it to the support ticket (secrets are removed).")
    return EXIT_OK


def print_module_types() -> None:
    """Every module type, and whether this installation can run it."""
    from core.modules.registry import MODULES  # lazily: "tray" shares this module

    for type_name, cls in MODULES.items():
        missing = cls.missing_extra()
        note = f" [{missing}]" if missing else ""
        shared = (
            " Instances share one Halo status record."
            if cls.status_record is not None and cls.status_record.shared
            else ""
        )
        print(f"{type_name:12} {cls.display_name}: {cls.description}{shared}{note}")


def _run_emulator(arguments: Sequence[str]) -> int:
    try:
        from halo_emulator.cli import main as emulator_main
    except ImportError:
        print(
            "The emulator needs the 'emulator' extra: pip install 'halo-integrator[emulator]'",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    return emulator_main(arguments, prog="halo-integrator emulator")


def _log_auto_runs(settings_path: str | None) -> None:
    """AUTO runs under a scheduler nobody watches: keep its messages in logs/auto.log too."""
    from core.settings.model import resolve_settings_path

    log_to_file(resolve_settings_path(settings_path).parent / "logs" / "auto.log", role="auto")


if __name__ == "__main__":
    sys.exit(main())
