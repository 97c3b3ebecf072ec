"""A crontab line that runs AUTO mode; printed (and written to --output), never installed.

Cron can only do what its fields express: steps that divide an hour (every 5 minutes) or a
day (every 6 hours), or a fixed time of day. Other intervals (7m, 90m, 2d, 30s) are refused
with the nearest intervals cron can keep, rather than silently rounded: an admin who asked
for 90 minutes should decide between 1h and 2h, or use the systemd timer.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from core.errors import ConfigError
from core.settings.model import SECONDS_PER_DAY
from tray_agent.os_integration.launch import Job

MINUTE_STEPS = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30)  # the divisors of 60
HOUR_STEPS = (1, 2, 3, 4, 6, 8, 12, 24)  # the divisors of 24
SUPPORTED_SECONDS = tuple(60 * m for m in MINUTE_STEPS) + tuple(3_600 * h for h in HOUR_STEPS)


def install(job: Job, output: Path | None) -> None:
    """Print the crontab line; with ``output``, also write it there with a comment."""
    line = crontab_line(job)
    if output is None:
        print("Add this line to the crontab of the account that runs AUTO (crontab -e):")
        print(line)
        return
    if output.is_dir():
        output = output / f"{job.slug}.cron"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        f"# {job.title}: AUTO every {job.interval.text}\n{line}\n", encoding="utf-8", newline="\n"
    )
    print(f"Wrote {output}:")
    print(line)
    print("Add it to your crontab (your existing lines are kept):")
    print(f"  (crontab -l 2>/dev/null; cat {shlex.quote(str(output))}) | crontab -")


def crontab_line(job: Job) -> str:
    """Return ``<schedule> cd <folder> && <halo-integrator> AUTO <settings> >/dev/null 2>&1``.

    AUTO keeps its own log (logs/auto.log), so cron's mail is silenced. Raises ConfigError
    when cron cannot express the interval.
    """
    command = " ".join(shlex.quote(argument) for argument in job.argv())
    shell = f"cd {shlex.quote(str(job.folder))} && {command} >/dev/null 2>&1"
    # Cron turns an unescaped % into a newline, even inside the shell's quotes.
    escaped = shell.replace("%", "\\%")
    return f"{cron_schedule(job)} {escaped}"


def cron_schedule(job: Job) -> str:
    """Return the five time fields for the job's interval."""
    interval = job.interval
    if interval.daily_at is not None:
        return f"{interval.daily_at.minute} {interval.daily_at.hour} * * *"
    seconds = interval.every_seconds or 0
    if seconds not in SUPPORTED_SECONDS:
        raise ConfigError(
            f'cron cannot run a job every "{interval.text}": it repeats in steps that divide '
            "an hour (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 minutes) or a day "
            "(1, 2, 3, 4, 6, 8, 12 hours), or daily at a time",
            field="--every",
            hint=f"Use {_nearest(seconds)}, or --kind systemd, which runs any interval.",
        )
    if seconds < 3_600:
        minutes = seconds // 60
        return "* * * * *" if minutes == 1 else f"*/{minutes} * * * *"
    hours = seconds // 3_600
    if hours == 24:
        return "0 0 * * *"
    return "0 * * * *" if hours == 1 else f"0 */{hours} * * *"


def _nearest(seconds: int) -> str:
    shorter = [value for value in SUPPORTED_SECONDS if value < seconds]
    longer = [value for value in SUPPORTED_SECONDS if value > seconds]
    choices = ([_text(max(shorter))] if shorter else []) + ([_text(min(longer))] if longer else [])
    return " or ".join(choices)


def _text(seconds: int) -> str:
    if seconds == SECONDS_PER_DAY:
        return "1d"
    return f"{seconds // 3_600}h" if seconds % 3_600 == 0 else f"{seconds // 60}m"
