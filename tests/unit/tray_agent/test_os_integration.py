"""``schedule install`` and ``autostart``: the files they write, parsed and (where the tool
exists) checked by the system's own tools; never the real home, crontab or registry."""

from __future__ import annotations

import argparse
import configparser
import datetime
import os
import shlex
import shutil
import subprocess
import sys
import types
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from core.settings.model import Interval
from tray_agent.os_integration import install_schedule, resolve_kind, set_autostart
from tray_agent.os_integration.autostart import RUN_KEY, desktop_exec_argument
from tray_agent.os_integration.launch import (
    Command,
    Job,
    find_cli,
    find_tray,
    slug,
    windows_command_line,
    windows_quote,
)
from tray_agent.os_integration.windows_task import TASK_NAMESPACE, build_task_xml, xs_duration

NS = {"t": TASK_NAMESPACE}
TODAY = datetime.date(2025, 3, 14)
# Records where it ran and what it was given, so a test can run a cron line for real.
RECORDING_SCRIPT = '#!/bin/sh\nprintf "%s\\n" "$PWD" "$@" > "$HALO_TEST_RECORD"\n'


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    return home


@pytest.fixture
def scripts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installation under a path with spaces: python, halo-integrator, halo-integrator-tray."""
    folder = tmp_path / "Program Files" / "venv" / "bin"
    folder.mkdir(parents=True)
    for name in ("python", "halo-integrator", "halo-integrator-tray"):
        script = folder / name
        script.write_text(RECORDING_SCRIPT)
        script.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(folder / "python"))
    return folder


@pytest.fixture
def settings_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "Halo Configs" / "5 Mins"
    folder.mkdir(parents=True)
    (folder / "appsettings.json").write_text("{}")
    return folder


def install(
    kind: str, every: str, settings: Path, output: Path | None = None, *, due: bool = False
) -> int:
    args = argparse.Namespace(
        settings=str(settings),
        kind=kind,
        every=every,
        output=str(output) if output else None,
        due=due,
    )
    return install_schedule(args)


def job_for(folder: Path, every: str, program: str = "/opt/halo/bin/halo-integrator") -> Job:
    return Job(folder / "appsettings.json", Command(Path(program)), Interval.parse(every))


# --- Windows Task Scheduler -----------------------------------------------------------------


def test_the_task_file_is_utf16_task_xml_that_runs_auto_on_the_settings_file(
    settings_folder: Path, scripts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert install("windows-task", "15m", settings_folder) == 0

    path = settings_folder / "halo-integrator-task.xml"
    raw = path.read_bytes()
    assert raw.startswith(b"\xff\xfe")  # the BOM schtasks expects
    assert raw.decode("utf-16").startswith('<?xml version="1.0" encoding="UTF-16"?>')
    task = ElementTree.fromstring(raw)  # noqa: S314 - our own output
    assert task.tag == f"{{{TASK_NAMESPACE}}}Task"
    assert task.get("version") == "1.2"
    principal = task.find("t:Principals/t:Principal", NS)
    assert principal is not None
    assert principal.findtext("t:LogonType", namespaces=NS) == "Password"
    assert principal.findtext("t:RunLevel", namespaces=NS) == "HighestAvailable"
    assert task.find("t:Actions", NS).get("Context") == principal.get("id")
    settings = task.find("t:Settings", NS)
    assert settings.findtext("t:MultipleInstancesPolicy", namespaces=NS) == "IgnoreNew"
    assert settings.findtext("t:ExecutionTimeLimit", namespaces=NS) == "PT2H"
    assert settings.findtext("t:StartWhenAvailable", namespaces=NS) == "true"
    execute = task.find("t:Actions/t:Exec", NS)
    assert execute.findtext("t:Command", namespaces=NS) == str(scripts / "halo-integrator")
    settings_path = settings_folder / "appsettings.json"
    assert execute.findtext("t:Arguments", namespaces=NS) == f'AUTO "{settings_path}"'
    assert execute.findtext("t:WorkingDirectory", namespaces=NS) == str(settings_folder)
    printed = capsys.readouterr().out
    assert f'schtasks /Create /TN "Halo Integrator (5 Mins)" /XML "{path}" /RU ' in printed


@pytest.mark.parametrize(
    ("every", "interval"),
    [("1m", "PT1M"), ("15m", "PT15M"), ("1h", "PT1H"), ("90m", "PT1H30M"), ("36h", "P1DT12H")],
)
def test_minute_and_hour_intervals_repeat_a_time_trigger_from_midnight(
    every: str, interval: str
) -> None:
    task = ElementTree.fromstring(build_task_xml(job_for(Path("/h/x"), every), today=TODAY))  # noqa: S314

    trigger = task.find("t:Triggers/t:TimeTrigger", NS)
    assert trigger is not None
    # triggerBaseType is an xs:sequence: the order matters to a validating reader.
    assert [child.tag.split("}")[1] for child in trigger] == [
        "Enabled",
        "StartBoundary",
        "Repetition",
    ]
    assert trigger.findtext("t:StartBoundary", namespaces=NS) == "2025-03-14T00:00:00"
    assert trigger.findtext("t:Repetition/t:Interval", namespaces=NS) == interval
    assert trigger.find("t:Repetition/t:Duration", NS) is None  # repeat indefinitely


@pytest.mark.parametrize(
    ("every", "start", "days"),
    [
        ("daily@02:00", "2025-03-14T02:00:00", "1"),
        ("daily@23:45", "2025-03-14T23:45:00", "1"),
        ("1d", "2025-03-14T00:00:00", "1"),
        ("2d", "2025-03-14T00:00:00", "2"),
    ],
)
def test_daily_times_and_whole_days_use_a_calendar_trigger(
    every: str, start: str, days: str
) -> None:
    task = ElementTree.fromstring(build_task_xml(job_for(Path("/h/x"), every), today=TODAY))  # noqa: S314

    trigger = task.find("t:Triggers/t:CalendarTrigger", NS)
    assert trigger is not None
    assert task.find("t:Triggers/t:TimeTrigger", NS) is None
    assert trigger.findtext("t:StartBoundary", namespaces=NS) == start
    assert trigger.findtext("t:ScheduleByDay/t:DaysInterval", namespaces=NS) == days


def test_the_task_file_goes_into_a_settings_folder_that_does_not_exist_yet(
    scripts: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "Daily"
    assert install("windows-task", "daily@02:00", folder) == 0
    assert (folder / "halo-integrator-task.xml").is_file()


def test_paths_with_xml_and_quote_characters_survive_the_task_file() -> None:
    folder = Path('/srv/R&D <Halo> "quoted"')
    job = job_for(folder, "1h", program="/opt/R&D/halo-integrator")
    task = ElementTree.fromstring(build_task_xml(job, today=TODAY))  # noqa: S314

    execute = task.find("t:Actions/t:Exec", NS)
    assert execute.findtext("t:Command", namespaces=NS) == "/opt/R&D/halo-integrator"
    assert execute.findtext("t:WorkingDirectory", namespaces=NS) == str(folder)
    expected = f'AUTO "{folder}/appsettings.json"'.replace('"quoted"', '\\"quoted\\"')
    assert execute.findtext("t:Arguments", namespaces=NS) == expected


@pytest.mark.parametrize("every", ["30s", "90s", "800h"])
def test_intervals_task_scheduler_cannot_repeat_are_refused_without_writing(
    every: str, settings_folder: Path, scripts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert install("windows-task", every, settings_folder) == 2

    error = capsys.readouterr().err
    assert "Task Scheduler" in error and every in error and "Traceback" not in error
    assert not (settings_folder / "halo-integrator-task.xml").exists()


@pytest.mark.parametrize(
    ("argument", "quoted"),
    [
        (r"C:\Halo\5 Mins\appsettings.json", r'"C:\Halo\5 Mins\appsettings.json"'),
        ("C:\\", '"C:\\\\"'),  # a trailing backslash would escape the closing quote
        ('say "hi"', r'"say \"hi\""'),
        ('a\\"b', r'"a\\\"b"'),
    ],
)
def test_windows_arguments_are_quoted_the_way_the_c_runtime_splits_them(
    argument: str, quoted: str
) -> None:
    assert windows_quote(argument) == quoted


def test_windows_command_lines_leave_plain_words_bare() -> None:
    line = windows_command_line((r"C:\Py\Scripts\halo-integrator-tray.exe", "--settings", "D:\\5"))
    assert line == r'"C:\Py\Scripts\halo-integrator-tray.exe" --settings "D:\5"'


def test_xs_durations_are_written_like_task_scheduler_writes_them() -> None:
    assert [xs_duration(s) for s in (60, 3_600, 5_400, 86_400, 90_061)] == [
        "PT1M",
        "PT1H",
        "PT1H30M",
        "P1D",
        "P1DT1H1M1S",
    ]


# --- systemd ----------------------------------------------------------------------------------


def read_units(folder: Path) -> tuple[configparser.ConfigParser, configparser.ConfigParser]:
    service, timer = (configparser.ConfigParser(interpolation=None, strict=True) for _ in range(2))
    for parser in (service, timer):
        parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    (service_path,) = folder.glob("*.service")
    (timer_path,) = folder.glob("*.timer")
    assert service_path.stem == timer_path.stem
    service.read(service_path, encoding="utf-8")
    timer.read(timer_path, encoding="utf-8")
    return service, timer


def test_systemd_units_go_to_the_user_unit_folder_and_run_auto_once_per_start(
    settings_folder: Path,
    scripts: Path,
    private_home: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert install("systemd", "15m", settings_folder) == 0

    unit_folder = private_home / "config" / "systemd" / "user"
    service, timer = read_units(unit_folder)
    assert service["Service"]["Type"] == "oneshot"
    assert service["Service"]["WorkingDirectory"] == str(settings_folder)
    assert shlex.split(service["Service"]["ExecStart"]) == [
        str(scripts / "halo-integrator"),
        "AUTO",
        str(settings_folder / "appsettings.json"),
    ]
    assert timer["Timer"]["OnBootSec"] == "2min"
    assert timer["Timer"]["OnUnitActiveSec"] == "15min"
    assert timer["Install"]["WantedBy"] == "timers.target"
    (timer_path,) = unit_folder.glob("*.timer")

    # --due writes the same timer for AUTO --due: each module on its own interval.
    assert install("systemd", "5m", settings_folder, due=True) == 0
    service, timer = read_units(unit_folder)
    assert shlex.split(service["Service"]["ExecStart"])[1:3] == ["AUTO", "--due"]
    assert timer["Timer"]["OnUnitActiveSec"] == "5min"
    assert timer_path.name.startswith("halo-integrator-5-mins-")
    printed = capsys.readouterr().out
    assert (
        f"systemctl --user daemon-reload && systemctl --user enable --now {timer_path.name}"
        in printed
    )
    assert "loginctl enable-linger" in printed


@pytest.mark.parametrize(
    ("every", "expected"),
    [
        ("daily@02:00", {"OnCalendar": "*-*-* 02:00:00", "Persistent": "true"}),
        ("30s", {"OnBootSec": "2min", "OnUnitActiveSec": "30s", "AccuracySec": "1s"}),
        ("5m", {"OnBootSec": "2min", "OnUnitActiveSec": "5min", "AccuracySec": "1s"}),
        ("1h", {"OnBootSec": "2min", "OnUnitActiveSec": "1h"}),
        ("90m", {"OnBootSec": "2min", "OnUnitActiveSec": "90min"}),
        ("2d", {"OnBootSec": "2min", "OnUnitActiveSec": "2d"}),
    ],
)
def test_each_interval_form_becomes_the_matching_timer(
    every: str, expected: dict[str, str], settings_folder: Path, scripts: Path, tmp_path: Path
) -> None:
    assert install("systemd", every, settings_folder, output=tmp_path / "units") == 0

    _, timer = read_units(tmp_path / "units")
    assert dict(timer["Timer"]) == expected


def test_systemd_escapes_percent_and_dollar_in_paths(scripts: Path, tmp_path: Path) -> None:
    folder = tmp_path / "Tom's 100% $HOME"
    folder.mkdir()
    assert install("systemd", "1h", folder, output=tmp_path / "units") == 0

    service, timer = read_units(tmp_path / "units")
    exec_start = service["Service"]["ExecStart"]
    assert '"' + str(folder).replace("%", "%%").replace("$", "$$") + '/appsettings.json"' in (
        exec_start
    )
    assert service["Service"]["WorkingDirectory"] == str(folder).replace("%", "%%")
    assert "100%% $HOME" in timer["Unit"]["Description"]


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed here; the unit content is still tested above",
)
@pytest.mark.parametrize("every", ["15m", "daily@02:00"])
def test_systemd_analyze_verify_accepts_the_units(
    every: str, scripts: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "Tom's 100% $HOME"
    folder.mkdir()
    assert install("systemd", every, folder, output=tmp_path / "units") == 0
    runtime = tmp_path / "runtime"  # --user verify needs a runtime folder, even without a session
    runtime.mkdir(mode=0o700)

    result = subprocess.run(
        ["systemd-analyze", "--user", "verify", *sorted((tmp_path / "units").iterdir())],
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)},
        check=False,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_systemd_units_outside_the_user_folder_are_linked(
    settings_folder: Path, scripts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert install("systemd", "1h", settings_folder, output=tmp_path / "my units") == 0

    assert "systemctl --user link '" + str(tmp_path / "my units") in capsys.readouterr().out


def test_a_file_as_systemd_output_is_refused(
    settings_folder: Path, scripts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "unit.txt").write_text("")
    assert install("systemd", "1h", settings_folder, output=tmp_path / "unit.txt") == 2
    assert "systemd units need a folder" in capsys.readouterr().err


# --- cron -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("every", "fields"),
    [
        ("1m", "* * * * *"),
        ("5m", "*/5 * * * *"),
        ("15m", "*/15 * * * *"),
        ("30m", "*/30 * * * *"),
        ("60m", "0 * * * *"),
        ("1h", "0 * * * *"),
        ("6h", "0 */6 * * *"),
        ("24h", "0 0 * * *"),
        ("1d", "0 0 * * *"),
        ("daily@02:00", "0 2 * * *"),
        ("daily@23:45", "45 23 * * *"),
    ],
)
def test_intervals_cron_can_keep_become_the_matching_fields(
    every: str, fields: str, settings_folder: Path, scripts: Path, tmp_path: Path
) -> None:
    output = tmp_path / "halo.cron"
    assert install("cron", every, settings_folder, output=output) == 0

    comment, line = output.read_text().splitlines()
    assert comment == f"# Halo Integrator (5 Mins): AUTO every {Interval.parse(every).text}"
    assert line.startswith(fields + " cd ")


@pytest.mark.parametrize(
    ("every", "suggestion"),
    [("7m", "6m or 10m"), ("90m", "1h or 2h"), ("5h", "4h or 6h"), ("2d", "1d"), ("30s", "1m")],
)
def test_intervals_cron_cannot_keep_are_refused_with_the_nearest_ones(
    every: str,
    suggestion: str,
    settings_folder: Path,
    scripts: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert install("cron", every, settings_folder, output=tmp_path / "halo.cron") == 2

    error = capsys.readouterr().err
    assert error.startswith("Configuration error: field --every: cron cannot run a job every")
    assert f"Use {suggestion}, or --kind systemd" in error
    assert not (tmp_path / "halo.cron").exists()


def test_the_cron_line_runs_auto_in_the_settings_folder_whatever_the_path(
    scripts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "Tom's 100% $HOME `x`"
    folder.mkdir()
    assert install("cron", "5m", folder) == 0
    line = capsys.readouterr().out.splitlines()[1]
    command = line.split(" ", 5)[5]
    assert "\\%" in command  # a bare % would end the command for cron

    record = tmp_path / "record.txt"
    # What cron does with the line: unescape \%, then hand it to /bin/sh.
    subprocess.run(
        ["/bin/sh", "-c", command.replace("\\%", "%")],
        env={"PATH": "/usr/bin:/bin", "HALO_TEST_RECORD": str(record)},
        check=True,
    )
    assert record.read_text().splitlines() == [
        str(folder),
        "AUTO",
        str(folder / "appsettings.json"),
    ]


def test_without_output_the_cron_line_is_only_printed(
    settings_folder: Path, scripts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sorted(tmp_path.rglob("*"))
    assert install("cron", "15m", settings_folder) == 0

    assert sorted(tmp_path.rglob("*")) == before
    assert "crontab -e" in capsys.readouterr().out


# --- kinds, executables, names --------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "systemctl", "kind"),
    [
        ("win32", None, "windows-task"),
        ("linux", "/usr/bin/systemctl", "systemd"),
        ("linux", None, "cron"),
        ("darwin", None, "cron"),
    ],
)
def test_auto_picks_the_scheduler_of_the_machine(
    platform: str, systemctl: str | None, kind: str
) -> None:
    assert resolve_kind("auto", platform=platform, which=lambda name: systemctl) == kind


def test_bad_kinds_and_intervals_exit_2_without_a_traceback(
    settings_folder: Path, scripts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert install("launchd", "15m", settings_folder) == 2
    assert install("cron", "often", settings_folder) == 2

    errors = capsys.readouterr().err.splitlines()
    assert errors[0].startswith('Configuration error: field --kind: "launchd" is not a sched')
    assert errors[1].startswith('Configuration error: field --every: "often" is not an interval')


def test_the_cli_wires_schedule_install_and_reports_errors_plainly(
    settings_folder: Path, private_home: Path
) -> None:
    cli = Path(sys.executable).with_name("halo-integrator")
    environment = {**os.environ, "HOME": str(private_home)}
    arguments = ["schedule", "install", "--kind", "cron", "--every", "7m"]
    result = subprocess.run(
        [str(cli), *arguments, "--settings", str(settings_folder)],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    assert result.returncode == 2
    assert "cron cannot run a job every" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_executables_are_found_beside_the_running_python(scripts: Path) -> None:
    assert find_cli() == Command(scripts / "halo-integrator")
    assert find_tray() == Command(scripts / "halo-integrator-tray")


def test_without_installed_scripts_python_runs_the_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    python = tmp_path / "bare" / "python"
    monkeypatch.setattr(sys, "executable", str(python))
    monkeypatch.setattr("sysconfig.get_path", lambda *args: str(tmp_path / "empty"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))

    assert find_cli().argv("AUTO") == (str(python), "-m", "tray_agent.cli", "AUTO")
    assert find_tray().argv() == (str(python), "-m", "tray_agent.cli", "tray")


def test_slugs_keep_folders_apart_and_stay_stable(tmp_path: Path) -> None:
    five, daily = slug(tmp_path / "5 Mins"), slug(tmp_path / "Daily")
    other_daily = slug(tmp_path / "elsewhere" / "Daily")

    assert five.startswith("halo-integrator-5-mins-")
    assert daily.startswith("halo-integrator-daily-")
    assert other_daily.startswith("halo-integrator-daily-") and other_daily != daily
    assert slug(tmp_path / "5 Mins") == five
    assert slug(tmp_path / "Données RH").startswith("halo-integrator-donnees-rh-")
    assert slug(tmp_path / "★★").startswith("halo-integrator-settings-")


# --- start at login -------------------------------------------------------------------------


def read_desktop_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def test_autostart_on_writes_an_xdg_desktop_entry_that_starts_the_tray(
    settings_folder: Path, scripts: Path, private_home: Path
) -> None:
    assert set_autostart(str(settings_folder), enabled=True, platform="linux") == 0

    (path,) = (private_home / "config" / "autostart").glob("*.desktop")
    assert path.name == slug(settings_folder) + ".desktop"
    entry = read_desktop_entry(path)
    assert entry["Type"] == "Application"
    assert entry["X-GNOME-Autostart-enabled"] == "true"
    assert entry["Name"] == "Halo Integrator (5 Mins)"
    assert shlex.split(entry["Exec"]) == [
        str(scripts / "halo-integrator-tray"),
        "--settings",
        str(settings_folder),
    ]


def test_autostart_uses_dot_config_when_xdg_config_home_is_unset(
    settings_folder: Path, scripts: Path, private_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert set_autostart(str(settings_folder), enabled=True, platform="linux") == 0
    assert list((private_home / ".config" / "autostart").glob("halo-integrator-5-mins-*"))


def test_autostart_off_removes_the_entry_and_is_calm_when_already_off(
    settings_folder: Path, scripts: Path, private_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    set_autostart(str(settings_folder), enabled=True, platform="linux")
    assert set_autostart(str(settings_folder), enabled=False, platform="linux") == 0
    assert set_autostart(str(settings_folder), enabled=False, platform="linux") == 0

    assert not list((private_home / "config" / "autostart").iterdir())
    printed = capsys.readouterr().out
    assert "removed" in printed and "already off" in printed


def test_autostart_falls_back_to_the_cli_tray_command(
    settings_folder: Path, scripts: Path, private_home: Path
) -> None:
    (scripts / "halo-integrator-tray").unlink()
    set_autostart(str(settings_folder), enabled=True, platform="linux")

    (path,) = (private_home / "config" / "autostart").glob("*.desktop")
    assert shlex.split(read_desktop_entry(path)["Exec"])[:2] == [
        str(scripts / "halo-integrator"),
        "tray",
    ]


@pytest.mark.parametrize(
    ("argument", "written"),
    [
        ("/opt/halo", "/opt/halo"),
        ("/home/a b", '"/home/a b"'),
        ("/srv/100%", "/srv/100%%"),  # % starts a field code
        ('/srv/say "$hi"', r'"/srv/say \"\$hi\""'),
    ],
)
def test_desktop_exec_arguments_follow_the_desktop_entry_spec(argument: str, written: str) -> None:
    assert desktop_exec_argument(argument) == written


class FakeWinreg(types.ModuleType):
    """The part of winreg the Run key needs, recording values in a dict."""

    HKEY_CURRENT_USER = "HKCU"
    KEY_SET_VALUE = 2
    REG_SZ = 1

    def __init__(self) -> None:
        super().__init__("winreg")
        self.values: dict[tuple[str, str], str] = {}
        self.opened: list[str] = []

    def CreateKeyEx(self, root: str, key: str, reserved: int, access: int) -> FakeKey:
        self.opened.append(f"{root}\\{key}")
        return FakeKey(self, key)

    def SetValueEx(self, key: FakeKey, name: str, reserved: int, kind: int, value: str) -> None:
        assert kind == self.REG_SZ
        self.values[(key.path, name)] = value

    def DeleteValue(self, key: FakeKey, name: str) -> None:
        if (key.path, name) not in self.values:
            raise FileNotFoundError(name)
        del self.values[(key.path, name)]


class FakeKey:
    def __init__(self, registry: FakeWinreg, path: str) -> None:
        self.registry, self.path = registry, path

    def __enter__(self) -> FakeKey:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None


def test_autostart_on_windows_sets_and_deletes_the_hkcu_run_value(
    settings_folder: Path,
    scripts: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    registry = FakeWinreg()
    monkeypatch.setitem(sys.modules, "winreg", registry)

    assert set_autostart(str(settings_folder), enabled=True, platform="win32") == 0
    assert registry.opened == [f"HKCU\\{RUN_KEY}"]
    assert registry.values == {
        (RUN_KEY, slug(settings_folder)): (
            f'"{scripts / "halo-integrator-tray"}" --settings "{settings_folder}"'
        )
    }
    assert set_autostart(str(settings_folder), enabled=False, platform="win32") == 0
    assert set_autostart(str(settings_folder), enabled=False, platform="win32") == 0
    assert registry.values == {}
    assert "already off" in capsys.readouterr().out


def test_autostart_on_macos_says_it_is_not_supported(
    settings_folder: Path, private_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert set_autostart(str(settings_folder), enabled=True, platform="darwin") == 1
    assert "not supported on macOS" in capsys.readouterr().err
    assert not (private_home / "config" / "autostart").exists()
