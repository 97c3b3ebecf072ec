"""A Windows Task Scheduler definition for AUTO mode, to import with ``schtasks /Create /XML``.

Why these choices:

* **LogonType Password** ("Run whether user is logged on or not", password stored). S4U
  ("Do not store password") runs without network credentials, so a CSV on
  ``\\\\fileserver\\HR`` fails with "access denied" at run time only; Password works for
  local and network sources alike. The account is picked at import (``/RU``; schtasks asks
  for its password) — it must be the account that owns the settings folder, since only it
  can read ``appsettings.key``.
* **HighestAvailable**: an admin account runs elevated, as it does when testing by hand.
* **IgnoreNew** plus the per-module lock: a run that outlasts its interval is not doubled.
* **PT2H** execution limit: a run stuck on a dead share is stopped before the next day.
* **StartWhenAvailable**: a run missed while the machine was off happens at the next start.

Built with ElementTree (no Windows API), so it is generated and tested on any platform.
"""

from __future__ import annotations

import codecs
import datetime
import getpass
import os
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from core.errors import ConfigError
from core.settings.model import SECONDS_PER_DAY
from tray_agent.os_integration.launch import Job, windows_command_line, windows_quote

TASK_NAMESPACE = "http://schemas.microsoft.com/windows/2004/02/mit/task"
TASK_SCHEMA_VERSION = "1.2"  # Vista / Server 2008 and later; all this file needs
TASK_FILE_NAME = "halo-integrator-task.xml"
EXECUTION_TIME_LIMIT = "PT2H"
MAX_REPETITION_SECONDS = 31 * SECONDS_PER_DAY  # Task Scheduler's limit for Repetition
MAX_DAYS_INTERVAL = 365


def install(job: Job, output: Path | None) -> None:
    """Write the task XML (UTF-16 with BOM) and print the ``schtasks`` command to import it."""
    xml_text = build_task_xml(job, today=datetime.date.today())
    path = output or job.folder / TASK_FILE_NAME
    if path.is_dir():
        path = path / TASK_FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(codecs.BOM_UTF16_LE + xml_text.replace("\n", "\r\n").encode("utf-16-le"))
    print(f"Wrote {path} (AUTO every {job.interval.text}).")
    if sys.platform != "win32":
        print("Note: it names this machine's paths; generate it on the Windows machine to use it.")
    print("Create the task from an elevated prompt; schtasks asks for the account's password:")
    print(
        f"  schtasks /Create /TN {windows_quote(job.title)} /XML {windows_quote(str(path))}"
        f" /RU {windows_quote(current_account())}"
    )


def build_task_xml(job: Job, *, today: datetime.date) -> str:
    """Return the task definition as XML text (declared UTF-16; the caller encodes it).

    Raises ConfigError when Task Scheduler cannot repeat at the job's interval.
    """
    task = ElementTree.Element("Task", version=TASK_SCHEMA_VERSION, xmlns=TASK_NAMESPACE)
    info = _child(task, "RegistrationInfo")
    _child(info, "Author", current_account())
    _child(
        info,
        "Description",
        f"Runs Halo Integrator AUTO every {job.interval.text} with {job.settings_path}. "
        "Created by `halo-integrator schedule install`; AUTO logs to the logs folder.",
    )
    _add_trigger(_child(task, "Triggers"), job, today)
    principal = _child(_child(task, "Principals"), "Principal", id="Author")
    _child(principal, "LogonType", "Password")
    _child(principal, "RunLevel", "HighestAvailable")
    _add_settings(_child(task, "Settings"))
    execute = _child(_child(task, "Actions", Context="Author"), "Exec")
    program, *arguments = job.argv()
    _child(execute, "Command", program)
    _child(execute, "Arguments", windows_command_line(tuple(arguments)))
    _child(execute, "WorkingDirectory", str(job.folder))
    ElementTree.indent(task, space="  ")
    body = ElementTree.tostring(task, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-16"?>\n{body}\n'


def current_account() -> str:
    """Return ``DOMAIN\\user`` on Windows (plain user name elsewhere), for Author and /RU."""
    user = getpass.getuser()
    domain = os.environ.get("USERDOMAIN")
    return f"{domain}\\{user}" if domain else user


def xs_duration(seconds: int) -> str:
    """Return seconds as an XML Schema duration the way Task Scheduler writes them (PT1H30M)."""
    days, rest = divmod(seconds, SECONDS_PER_DAY)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    time_part = "".join(
        f"{value}{unit}" for value, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if value
    )
    return (f"P{days}D" if days else "P") + (f"T{time_part}" if time_part else "")


def _add_trigger(triggers: ElementTree.Element, job: Job, today: datetime.date) -> None:
    """Daily at a time or every N days: a CalendarTrigger; minutes/hours: a repeating one."""
    interval = job.interval
    if interval.daily_at is not None:
        _calendar_trigger(triggers, datetime.datetime.combine(today, interval.daily_at), 1)
        return
    seconds = interval.every_seconds or 0
    if seconds % SECONDS_PER_DAY == 0:
        days = seconds // SECONDS_PER_DAY
        if days > MAX_DAYS_INTERVAL:
            raise ConfigError(
                f"Task Scheduler repeats at most every {MAX_DAYS_INTERVAL} days, "
                f'not "{interval.text}"',
                field="--every",
            )
        _calendar_trigger(triggers, datetime.datetime.combine(today, datetime.time()), days)
        return
    if seconds % 60 or seconds > MAX_REPETITION_SECONDS:
        raise ConfigError(
            f"Task Scheduler repeats a task in whole minutes, from 1 minute to 31 days; "
            f'"{interval.text}" is not one of those',
            field="--every",
            hint="Use for example 1m, 5m or 1h.",
        )
    # A one-time trigger at midnight repeated for ever: runs line up on the clock (:00, :15).
    # The schema's triggerBaseType is a sequence: Enabled, StartBoundary, ..., Repetition.
    trigger = _child(triggers, "TimeTrigger")
    _child(trigger, "Enabled", "true")
    _child(trigger, "StartBoundary", _local_time(datetime.datetime.combine(today, datetime.time())))
    repetition = _child(trigger, "Repetition")
    _child(repetition, "Interval", xs_duration(seconds))
    _child(repetition, "StopAtDurationEnd", "false")


def _calendar_trigger(
    triggers: ElementTree.Element, start: datetime.datetime, days_interval: int
) -> None:
    trigger = _child(triggers, "CalendarTrigger")
    _child(trigger, "Enabled", "true")
    _child(trigger, "StartBoundary", _local_time(start))
    _child(_child(trigger, "ScheduleByDay"), "DaysInterval", str(days_interval))


def _add_settings(settings: ElementTree.Element) -> None:
    _child(settings, "MultipleInstancesPolicy", "IgnoreNew")
    # A jump box may be a laptop: a sync on battery is cheap, a missed one is not.
    _child(settings, "DisallowStartIfOnBatteries", "false")
    _child(settings, "StopIfGoingOnBatteries", "false")
    _child(settings, "StartWhenAvailable", "true")
    _child(settings, "AllowStartOnDemand", "true")
    _child(settings, "Enabled", "true")
    _child(settings, "ExecutionTimeLimit", EXECUTION_TIME_LIMIT)


def _local_time(moment: datetime.datetime) -> str:
    """No UTC offset: Task Scheduler then keeps the wall-clock time across DST changes."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _child(
    parent: ElementTree.Element, tag: str, text: str | None = None, **attributes: str
) -> ElementTree.Element:
    element = ElementTree.SubElement(parent, tag, attributes)
    element.text = text
    return element
