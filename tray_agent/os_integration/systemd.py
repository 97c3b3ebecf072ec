"""A systemd user service + timer pair that runs AUTO mode for one settings folder.

The service is ``Type=oneshot`` (AUTO runs every enabled module once and exits); the timer
starts it. ``daily@HH:MM`` becomes ``OnCalendar`` with ``Persistent=true``, so a run missed
while the machine was off happens at the next start. Intervals become monotonic timers:
``OnBootSec`` fires once right after the user manager starts (systemd fires a boot timer
that is already in the past at once) and ``OnUnitActiveSec`` repeats from the last start,
so a run that outlasts its interval is never doubled (the module lock also protects).
``Persistent=`` is left out there: systemd applies it to ``OnCalendar`` timers only.
"""

from __future__ import annotations

import getpass
import shlex
from pathlib import Path

from core.errors import ConfigError
from tray_agent.os_integration.launch import PLAIN_WORD, Job, config_home

FIRST_RUN_AFTER_START = "2min"
RUN_TIME_LIMIT = "2h"  # as the Windows task's ExecutionTimeLimit
PRECISE_BELOW_SECONDS = 600  # systemd coalesces timers by 1 min unless told otherwise


def default_folder() -> Path:
    """Return ``$XDG_CONFIG_HOME/systemd/user``, where ``systemctl --user`` finds units."""
    return config_home() / "systemd" / "user"


def install(job: Job, output: Path | None) -> None:
    """Write ``<slug>.service`` and ``<slug>.timer`` and print the commands that start them."""
    folder = output or default_folder()
    if folder.is_file():
        raise ConfigError(
            f"{folder} is a file; systemd units need a folder",
            field="--output",
            hint="Leave --output out to use ~/.config/systemd/user.",
        )
    folder.mkdir(parents=True, exist_ok=True)
    units = build_units(job)
    for name, text in units.items():
        (folder / name).write_text(text, encoding="utf-8", newline="\n")
        print(f"Wrote {folder / name}")
    service, timer = units.keys()
    print(f"Start it (AUTO every {job.interval.text}):")
    if folder.absolute() != default_folder().absolute():  # systemd looks only in its folders
        paths = " ".join(shlex.quote(str(folder / name)) for name in units)
        print(f"  systemctl --user link {paths}")
    print(f"  systemctl --user daemon-reload && systemctl --user enable --now {timer}")
    print("Keep it running while you are logged out (once per account, needs sudo):")
    print(f"  sudo loginctl enable-linger {getpass.getuser()}")
    print(f"Check it: systemctl --user list-timers; journalctl --user -u {service}")


def build_units(job: Job) -> dict[str, str]:
    """Return ``{file name: content}`` for the service and then the timer."""
    return {f"{job.slug}.service": _service(job), f"{job.slug}.timer": _timer(job)}


def quote_exec_argument(argument: str) -> str:
    """Quote one ``ExecStart=`` word: C-style escapes, then systemd's ``%`` and ``$``."""
    if PLAIN_WORD.fullmatch(argument):
        return argument
    escaped = argument.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + _escape_specifiers(escaped).replace("$", "$$") + '"'


def timespan(seconds: int) -> str:
    """Return a systemd time span in the largest whole unit: 900 -> ``15min``."""
    for unit_seconds, unit in ((86_400, "d"), (3_600, "h"), (60, "min")):
        if seconds % unit_seconds == 0:
            return f"{seconds // unit_seconds}{unit}"
    return f"{seconds}s"


def _service(job: Job) -> str:
    command = " ".join(quote_exec_argument(argument) for argument in job.argv())
    return (
        "# Written by `halo-integrator schedule install`; AUTO logs to the logs folder.\n"
        "[Unit]\n"
        f"Description={_escape_specifiers(job.title)} AUTO run\n"
        "\n"
        "[Service]\n"
        "Type=oneshot\n"
        f"WorkingDirectory={_escape_specifiers(str(job.folder))}\n"
        f"ExecStart={command}\n"
        f"TimeoutStartSec={RUN_TIME_LIMIT}\n"
    )


def _timer(job: Job) -> str:
    interval = job.interval
    if interval.daily_at is not None:
        schedule = f"OnCalendar=*-*-* {interval.daily_at:%H:%M}:00\nPersistent=true\n"
    else:
        seconds = interval.every_seconds or 0
        schedule = f"OnBootSec={FIRST_RUN_AFTER_START}\nOnUnitActiveSec={timespan(seconds)}\n"
        if seconds < PRECISE_BELOW_SECONDS:
            schedule += "AccuracySec=1s\n"
    return (
        "[Unit]\n"
        f"Description=Run {_escape_specifiers(job.title)} AUTO ({interval.text})\n"
        "\n"
        "[Timer]\n"
        f"{schedule}"
        "\n"
        "[Install]\n"
        "WantedBy=timers.target\n"
    )


def _escape_specifiers(text: str) -> str:
    """systemd expands ``%n``, ``%h``... in most settings; a folder named "100%" must not."""
    return text.replace("%", "%%")
