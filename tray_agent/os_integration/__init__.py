"""The system's side of the agent: scheduling AUTO mode and starting the tray at login.

``halo-integrator schedule install`` writes a definition for the system's own scheduler and
prints the one command that activates it; it never registers anything itself, so an admin
sees (and can put under version control) exactly what will run:

* ``windows_task``: Task Scheduler XML for ``schtasks /Create /XML``;
* ``systemd``: a user ``.service`` + ``.timer`` pair;
* ``cron``: one crontab line.

``halo-integrator autostart on|off`` adds or removes the per-user login item (``autostart``).
Everything is plain text building, so all of it is generated and tested on Linux.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from core.errors import ConfigError
from core.settings.model import Interval, resolve_settings_path
from tray_agent.exit_codes import EXIT_CONFIG, EXIT_FAILED, EXIT_OK
from tray_agent.os_integration import autostart, cron, systemd, windows_task
from tray_agent.os_integration.launch import Job, find_cli

INSTALLERS: dict[str, Callable[[Job, Path | None], None]] = {
    "windows-task": windows_task.install,
    "systemd": systemd.install,
    "cron": cron.install,
}

__all__ = ["install_schedule", "resolve_kind", "set_autostart"]


def install_schedule(args: argparse.Namespace) -> int:
    """Write the scheduler definition that runs AUTO for ``args.settings`` every ``args.every``.

    Returns 0 when written, 2 for a bad kind or an interval the scheduler cannot keep
    (the reason on stderr), 1 when the file cannot be written.
    """
    try:
        settings_path = resolve_settings_path(args.settings)
        job = Job(
            settings_path,
            find_cli(),
            _parse_interval(args.every),
            only_due=getattr(args, "due", False),
        )
        install = INSTALLERS[resolve_kind(args.kind)]
        if not settings_path.exists():
            print(
                f"Note: {settings_path} does not exist yet; scheduled runs fail until you run "
                "`halo-integrator configure` for this folder.",
                file=sys.stderr,
            )
        install(job, Path(args.output).expanduser().absolute() if args.output else None)
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except OSError as exc:
        print(f"Cannot write {exc.filename or 'the definition'}: {exc.strerror}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def resolve_kind(
    kind: str | None,
    *,
    platform: str = sys.platform,
    which: Callable[[str], str | None] = shutil.which,
) -> str:
    """Return the scheduler to write for ``kind`` ("auto" picks this machine's).

    auto = windows-task on Windows, systemd where ``systemctl`` exists, else cron.
    Raises ConfigError for an unknown kind.
    """
    kind = kind or "auto"
    if kind == "auto":
        if platform == "win32":
            return "windows-task"
        return "systemd" if which("systemctl") else "cron"
    if kind not in INSTALLERS:
        raise ConfigError(
            f'"{kind}" is not a scheduler kind',
            field="--kind",
            hint="Use auto, windows-task, systemd or cron.",
        )
    return kind


def set_autostart(settings_path: str | None, *, enabled: bool, platform: str = sys.platform) -> int:
    """Start the tray for this settings folder at login (or stop doing so); print what changed.

    Returns 0 when done, 1 on macOS (not supported) or when the entry cannot be written.
    """
    folder = resolve_settings_path(settings_path).parent
    try:
        if platform == "win32":
            autostart.set_windows_run_value(folder, enabled=enabled)
        elif platform == "darwin":
            print(
                "Start at login is not supported on macOS yet: add halo-integrator-tray to "
                "System Settings > General > Login Items.",
                file=sys.stderr,
            )
            return EXIT_FAILED
        else:
            autostart.set_xdg_autostart(folder, enabled=enabled)
    except OSError as exc:
        print(f"Cannot change start at login: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _parse_interval(text: str | None) -> Interval:
    try:
        return Interval.parse(text or "15m")
    except ValueError as exc:
        raise ConfigError(str(exc), field="--every") from exc
