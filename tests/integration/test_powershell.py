"""The ``powershell`` module over the emulator, running real scripts as real processes: the
queue as Halo holds it, the result rule, the scripts-folder fence, literal arguments, the
timeout that kills a process tree, secrets kept off command lines and out of logs, dry
runs, two agents polling at once, and SIGKILL between claim and report.

This machine has no PowerShell, so the scripts are ``.py`` (under the agent's own Python)
and ``.sh`` ones: the same path through the module as ``.ps1`` under ``pwsh``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.halo.client import HaloClient
from core.modules.powershell_scripts import QUEUE_OWNER, PowerShellOptions, PowerShellScripts
from core.outcomes import Outcome
from core.run.context import SourceContext
from core.run.request import RunRequest
from core.run.runner import ModuleRunResult, Runner
from core.settings.model import ModuleSettings, Settings
from core.settings.reader import load_settings
from core.settings.secrets import Secret
from core.settings.writer import save_settings
from core.sources.script_results import UNKNOWN_OUTCOME
from core.state.ledger import WorkLedger
from core.state.store import StateStore
from halo_emulator import Emulator

from .conftest import FAST_RETRY, connection_for

REPOSITORY = Path(__file__).resolve().parents[2]
SECRET_VALUE = "Pa55-w0rd-never-on-a-command-line"
HOSTILE_VALUES = [
    "x; rm -rf /",
    "$(touch pwned)",
    "`touch pwned-too`",
    'it\'s "quoted"',
    "first line\nsecond line",
    "-Command",
    "&& echo done | tee pwned-3 > nul",
    "",
]

SCRIPTS = {
    # Records every argument it got, and that it ran, beside itself.
    "echo_args.py": """
import json, os, sys
from pathlib import Path
here = Path(__file__).parent
with open(here / "runs.txt", "a") as runs:
    runs.write(os.environ["HALO_QUEUE_ENTRY_ID"] + "\\n")
(here / "argv.json").write_text(json.dumps(sys.argv[1:]))
print("args:", len(sys.argv) - 1)
""",
    "echo_args.sh": 'printf "%s\\0" "$@" > "$(dirname "$0")/argv.bin"\necho "sh ok"\n',
    "say.py": """
import sys
print(sys.argv[sys.argv.index("-Text") + 1])
""",
    "fail.py": """
import sys
sys.stdout.write("some output\\n")
sys.stderr.write("Set-ADAccountPassword: access denied\\nsecond line\\n" + "noise\\n" * 40)
sys.exit(2)
""",
    # A child of its own, then both hang; their pids are left beside the script.
    "hang.py": """
import os, subprocess, sys, time
from pathlib import Path
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
Path(__file__).with_name("hang.pids").write_text(f"{os.getpid()} {child.pid}")
print("hanging", flush=True)
time.sleep(120)
""",
    # Says whether the password arrived (its hash is the parameter), then echoes it.
    "secret.py": """
import hashlib, os, sys, time
from pathlib import Path
Path(__file__).with_name("secret.pid").write_text(str(os.getpid()))
time.sleep(1.5)
digest = hashlib.sha256(os.environ.get("AD_PASSWORD", "").encode()).hexdigest()
print("password received:", digest == sys.argv[-1])
print("echoed:", os.environ.get("AD_PASSWORD"))
""",
    # Notes its start, works for -Seconds, notes its end.
    "slow.py": """
import os, sys, time
from pathlib import Path
here = Path(__file__).parent
entry = os.environ["HALO_QUEUE_ENTRY_ID"]
with open(here / "runs.txt", "a") as runs:
    runs.write(entry + "\\n")
time.sleep(float(sys.argv[sys.argv.index("-Seconds") + 1]))
with open(here / "finished.txt", "a") as done:
    done.write(entry + "\\n")
print("done", entry)
""",
}


@pytest.fixture
def scripts(tmp_path: Path) -> Path:
    folder = tmp_path / "scripts"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)  # explicit: a umask of 002 would make it group-writable, refused
    for name, text in SCRIPTS.items():
        (folder / name).write_text(text.lstrip("\n"))
        (folder / name).chmod(0o644)
    return folder


@pytest.fixture
def make_folder(tmp_path: Path, emulator: Emulator, scripts: Path) -> Callable[..., Settings]:
    """A saved settings folder with one powershell instance (more with ``names``)."""

    def make(*names: str, **options: Any) -> Settings:
        settings = Settings.new(tmp_path / "Halo" / "appsettings.json", connection_for(emulator))
        values = {"scripts_folder": str(scripts), "timeout_seconds": 20, **options}
        settings.modules[:] = [
            ModuleSettings(name=name, type="powershell", options=dict(values))
            for name in names or ("scripts",)
        ]
        save_settings(settings)
        return load_settings(settings.folder)

    return make


def halo(emulator: Emulator) -> HaloClient:
    return HaloClient(connection_for(emulator), retry=FAST_RETRY)


def queue_run(
    emulator: Emulator,
    location: str,
    values: dict[str, Any] | None = None,
    **script_fields: Any,
) -> int:
    """A script record, a ticket and a queue entry for it, as Halo's action would make."""
    values = values or {}
    mappings = [{"parametername": name, "finame": f"CF{name}"} for name in values]
    with halo(emulator) as client:
        [script] = client.post_batch(
            "PowerShellScript",
            [{"name": location, "location": location, "fieldmappings_powershell": mappings}
             | script_fields],
        )  # fmt: skip
        [ticket] = client.post_batch("Tickets", [{"summary": f"please run {location}"}])
        entry = {"pssid": script["id"], "faultid": ticket["id"], "execution_parameters": values}
        [queued] = client.post_batch("PowerShellScriptProcessing", [entry])
    return int(queued["id"])


def queue_again(emulator: Emulator, entry_id: int) -> int:
    """Another run of the same script record, for another ticket."""
    with halo(emulator) as client:
        [ticket] = client.post_batch("Tickets", [{"summary": "please run it again"}])
        earlier = client.get(f"PowerShellScriptProcessing/{entry_id}")
        again = {key: earlier[key] for key in ("pssid", "execution_parameters")}
        [queued] = client.post_batch(
            "PowerShellScriptProcessing", [{**again, "faultid": ticket["id"]}]
        )
    return int(queued["id"])


def entry(emulator: Emulator, entry_id: int) -> dict[str, Any]:
    with halo(emulator) as client:
        found: dict[str, Any] = client.get(f"PowerShellScriptProcessing/{entry_id}")
        return found


def ticket_status(emulator: Emulator, entry_id: int) -> int:
    with halo(emulator) as client:
        return int(client.get(f"Tickets/{entry(emulator, entry_id)['faultid']}")["status_id"])


def run(settings: Settings, **flags: bool) -> ModuleRunResult:
    runner = Runner(settings, client_factory=lambda: HaloClient(settings.halo, retry=FAST_RETRY))
    [result] = runner.run(RunRequest(**flags))
    return result


def runs_of(scripts: Path) -> list[str]:
    path = scripts / "runs.txt"
    return path.read_text().split() if path.exists() else []


def agent_process(*arguments: str, **variables: str) -> subprocess.Popen[str]:
    """The agent's CLI as its own process, on this checkout's code."""
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY), **variables}
    return subprocess.Popen(
        [sys.executable, "-m", "tray_agent.cli", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )


def wait_for(condition: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def gone(pid: int) -> bool:
    """No such process, or only its zombie left for its new parent to reap."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "State:\tZ" in status


# -- a run and its result --------------------------------------------------------------------


def test_a_queued_run_executes_the_script_with_its_mapped_parameters_and_posts_success(
    emulator: Emulator, make_folder: Callable[..., Settings], scripts: Path
) -> None:
    entry_id = queue_run(
        emulator, "echo_args.py", {"Username": "ann", "Department": "IT"}, resultstatus=9
    )
    result = run(make_folder())
    assert result.outcome is Outcome.SUCCEEDED and result.counts.processed == 1, result.error
    assert json.loads((scripts / "argv.json").read_text()) == [
        "-Username", "ann", "-Department", "IT",
    ]  # fmt: skip
    done = entry(emulator, entry_id)
    assert (done["processed"], done["success"], done["result_message"]) == (True, True, "args: 4")
    assert done["run_date"] and ticket_status(emulator, entry_id) == 9
    with halo(emulator) as client:
        script = client.get(f"PowerShellScript/{done['pssid']}")
        control = client.get("Control")
    assert script["halointegrator_lastsync"] and script["halointegrator_lasterror"] == ""
    assert control["halointegrator_powershell_lastsync"]
    settings = make_folder()
    [log_file] = (settings.log_folder / "scripts").glob("*.log")
    logged = f"Ran echo_args.py for ticket {done['faultid']} (queue entry {entry_id}): exit code 0"
    assert logged in log_file.read_text()
    assert run(settings).counts.processed == 0 and runs_of(scripts) == [str(entry_id)]


def test_the_result_string_rule_turns_output_into_success_or_failure(
    emulator: Emulator, make_folder: Callable[..., Settings]
) -> None:
    rule = {"resultstatus": 9, "resultfailedstatus": 4}
    exact_hit = queue_run(emulator, "say.py", {"Text": "OK"}, resultstring="OK", **rule)
    exact_miss = queue_run(emulator, "say.py", {"Text": "OK, mostly"}, resultstring="OK", **rule)
    partial_hit = queue_run(
        emulator, "say.py", {"Text": "User reset: OK"}, resultstring="OK",
        resultpartialmatch=True, **rule,
    )  # fmt: skip
    partial_miss = queue_run(
        emulator, "say.py", {"Text": "Access denied"}, resultstring="OK",
        resultpartialmatch=True, **rule,
    )  # fmt: skip
    run(make_folder())
    outcomes = {
        entry_id: (entry(emulator, entry_id)["success"], ticket_status(emulator, entry_id))
        for entry_id in (exact_hit, exact_miss, partial_hit, partial_miss)
    }
    assert outcomes == {
        exact_hit: (True, 9),
        exact_miss: (False, 4),
        partial_hit: (True, 9),
        partial_miss: (False, 4),
    }
    assert entry(emulator, exact_miss)["result_message"].splitlines() == [
        "The output was not exactly the expected result 'OK'.",
        "OK, mostly",
    ]


def test_a_failing_script_posts_failure_with_the_first_lines_of_stderr(
    emulator: Emulator, make_folder: Callable[..., Settings]
) -> None:
    entry_id = queue_run(emulator, "fail.py", resultfailedstatus=4)
    result = run(make_folder())
    [failure] = result.failures
    assert "Exit code 2" in failure.message
    done = entry(emulator, entry_id)
    assert (done["processed"], done["success"]) == (True, False)
    lines = done["result_message"].splitlines()
    assert lines[:3] == ["Exit code 2.", "Set-ADAccountPassword: access denied", "second line"]
    assert len(lines) <= 11 and ticket_status(emulator, entry_id) == 4
    with halo(emulator) as client:
        script = client.get(f"PowerShellScript/{done['pssid']}")
    assert script["halointegrator_lasterror"].startswith("Exit code 2.")


# -- the scripts folder ----------------------------------------------------------------------


def test_scripts_outside_the_folder_are_refused_reported_and_never_run(
    tmp_path: Path, emulator: Emulator, make_folder: Callable[..., Settings], scripts: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    evil = outside / "evil.py"
    evil.write_text(f"open({str(tmp_path / 'evil-ran')!r}, 'a').write('ran')\n")
    (scripts / "link.py").symlink_to(evil)
    (scripts / "linked_folder").symlink_to(outside, target_is_directory=True)
    locations = [
        "../outside/evil.py",
        "..\\outside\\evil.py",
        str(evil),
        "link.py",
        "linked_folder/evil.py",
        "missing.py",
    ]
    entries = [queue_run(emulator, location) for location in locations]
    allowed = queue_run(emulator, str(scripts / "say.py"), {"Text": "inside"})
    result = run(make_folder())
    assert not (tmp_path / "evil-ran").exists()
    for entry_id, location in zip(entries, locations, strict=True):
        refused = entry(emulator, entry_id)
        assert (refused["processed"], refused["success"]) == (True, False), location
        assert refused["result_message"].startswith("Not run: "), location
    assert "contains '..'" in entry(emulator, entries[1])["result_message"]
    for index in (2, 3, 4):  # an absolute path elsewhere, a symlinked file, a symlinked folder
        assert (
            "leads outside the scripts folder" in entry(emulator, entries[index])["result_message"]
        ), locations[index]
    assert len(result.failures) == len(locations)
    assert entry(emulator, allowed)["result_message"] == "inside"  # an absolute path inside


def test_a_missing_interpreter_is_reported_not_run_and_the_queue_goes_on(
    emulator: Emulator, make_folder: Callable[..., Settings], scripts: Path
) -> None:
    """Nothing started, so Halo is told "Not run" at once, never "outcome unknown" later."""
    first = queue_run(emulator, "echo_args.py")
    second = queue_run(emulator, "echo_args.py")
    settings = make_folder(interpreters={".py": ["no-such-interpreter-3f9"]})
    result = run(settings)
    assert result.outcome is Outcome.SUCCEEDED, result.error
    for entry_id in (first, second):
        message = entry(emulator, entry_id)["result_message"]
        assert message.startswith("Not run: Cannot start 'no-such-interpreter-3f9'"), message
    assert runs_of(scripts) == []
    again = run(settings)  # the next poll has nothing left to report
    assert again.outcome is Outcome.SUCCEEDED and again.counts.processed == 0


def test_only_allow_listed_scripts_run_when_allowed_scripts_is_set(
    emulator: Emulator, make_folder: Callable[..., Settings], scripts: Path
) -> None:
    listed = queue_run(emulator, "echo_args.py")
    unlisted = queue_run(emulator, "say.py", {"Text": "should not print"})
    run(make_folder(allowed_scripts=["ECHO_ARGS.py"]))
    assert entry(emulator, listed)["success"] is True and runs_of(scripts) == [str(listed)]
    assert "not in allowed_scripts" in entry(emulator, unlisted)["result_message"]


def test_a_script_others_may_write_is_refused(
    emulator: Emulator, make_folder: Callable[..., Settings], scripts: Path
) -> None:
    (scripts / "echo_args.py").chmod(0o666)
    entry_id = queue_run(emulator, "echo_args.py")
    run(make_folder())
    assert "may be written by other users" in entry(emulator, entry_id)["result_message"]
    assert runs_of(scripts) == []


# -- arguments, output, timeouts, secrets ----------------------------------------------------


def test_values_with_shell_metacharacters_arrive_as_one_literal_argument_each(
    emulator: Emulator, make_folder: Callable[..., Settings], scripts: Path
) -> None:
    values = {f"P{index}": value for index, value in enumerate(HOSTILE_VALUES)}
    queue_run(emulator, "echo_args.py", values)
    run(make_folder())
    expected = [part for name, value in values.items() for part in (f"-{name}", value)]
    assert json.loads((scripts / "argv.json").read_text()) == expected
    queue_run(emulator, "echo_args.sh", values)
    run(make_folder())
    assert (scripts / "argv.bin").read_bytes().split(b"\0")[:-1] == [
        part.encode() for part in expected
    ]
    everywhere = [scripts, scripts.parent, Path.cwd()]
    assert not [path for folder in everywhere for path in folder.glob("pwned*")]


def test_a_value_for_a_parameter_the_script_does_not_declare_is_not_passed(
    emulator: Emulator, make_folder: Callable[..., Settings], scripts: Path
) -> None:
    entry_id = queue_run(emulator, "echo_args.py", {"Username": "ann"})
    with halo(emulator) as client:
        client.post(
            "PowerShellScriptProcessing",
            [{"id": entry_id, "execution_parameters": {"Username": "ann", "Command": "evil"}}],
        )
    run(make_folder())
    assert json.loads((scripts / "argv.json").read_text()) == ["-Username", "ann"]


def test_a_hanging_script_and_its_child_are_killed_at_the_timeout(
    emulator: Emulator, make_folder: Callable[..., Settings], scripts: Path
) -> None:
    entry_id = queue_run(emulator, "hang.py", resultfailedstatus=4)
    started = time.monotonic()
    run(make_folder(timeout_seconds=2))
    assert time.monotonic() - started < 15
    script_pid, child_pid = map(int, (scripts / "hang.pids").read_text().split())
    wait_for(lambda: gone(script_pid) and gone(child_pid), seconds=5)
    done = entry(emulator, entry_id)
    assert (done["processed"], done["success"]) == (True, False)
    assert done["result_message"].startswith("Killed after 2 s (timeout_seconds)")
    assert "hanging" in done["result_message"] and ticket_status(emulator, entry_id) == 4


def test_output_beyond_max_output_bytes_is_dropped(
    emulator: Emulator, make_folder: Callable[..., Settings]
) -> None:
    entry_id = queue_run(emulator, "say.py", {"Text": "y" * 50_000})
    run(make_folder(max_output_bytes=2048))
    assert entry(emulator, entry_id)["result_message"] == "y" * 2048


def test_a_secret_reaches_the_script_by_environment_and_no_log_or_command_line(
    emulator: Emulator, make_folder: Callable[..., Settings], scripts: Path
) -> None:
    digest = hashlib.sha256(SECRET_VALUE.encode()).hexdigest()
    entry_id = queue_run(emulator, "secret.py", {"Expected": digest})
    settings = make_folder(environment={"AD_PASSWORD": Secret(SECRET_VALUE)})
    stored = (settings.folder / "appsettings.json").read_text()
    assert SECRET_VALUE not in stored  # encrypted in the settings file
    # An agent started with a secret of its own in the environment (how the CLI takes
    # secrets): the script does not inherit it.
    own_secret = "agent-own-secret-7f3a"
    agent = agent_process(
        "sync", "--settings", str(settings.folder), HALO_SECRET_BIND_PASSWORD=own_secret
    )
    wait_for(lambda: (scripts / "secret.pid").exists())
    script_pid = int((scripts / "secret.pid").read_text())
    script_command_line = Path(f"/proc/{script_pid}/cmdline").read_bytes()
    agent_command_line = Path(f"/proc/{agent.pid}/cmdline").read_bytes()
    script_environment = Path(f"/proc/{script_pid}/environ").read_bytes()
    out, err = agent.communicate(timeout=60)
    assert agent.returncode == 0, out + err
    assert SECRET_VALUE.encode() not in agent_command_line
    assert SECRET_VALUE.encode() not in script_command_line
    assert f"AD_PASSWORD={SECRET_VALUE}".encode() in script_environment.split(b"\0")
    assert own_secret.encode() not in script_environment
    message = entry(emulator, entry_id)["result_message"]
    assert message.splitlines() == ["password received: True", "echoed: ********"]
    logs = [path for path in settings.log_folder.rglob("*") if path.is_file()]
    assert logs and not [path for path in logs if SECRET_VALUE in path.read_text()]
    assert SECRET_VALUE not in out + err


# -- dry run, caps ---------------------------------------------------------------------------


def test_a_dry_run_lists_what_would_run_and_runs_nothing(
    emulator: Emulator,
    make_folder: Callable[..., Settings],
    scripts: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO")
    would = queue_run(emulator, "echo_args.py", {"Username": "secret-ish value"})
    refused = queue_run(emulator, "../elsewhere.py")
    result = run(make_folder(), dry_run=True)
    assert result.outcome is Outcome.DRY_RUN
    assert (result.counts.processed, result.counts.failed) == (1, 1)
    assert runs_of(scripts) == []
    assert entry(emulator, would)["processed"] is False
    assert entry(emulator, refused)["processed"] is False
    text = caplog.text
    assert "Would run echo_args.py for ticket" in text and "with Username" in text
    assert "Would refuse" in text and "secret-ish value" not in text


def test_max_runs_per_poll_leaves_the_rest_for_the_next_run(
    emulator: Emulator, make_folder: Callable[..., Settings], scripts: Path
) -> None:
    entries = [queue_run(emulator, "echo_args.py") for _ in range(3)]
    settings = make_folder(max_runs_per_poll=2)
    assert run(settings).counts.processed == 2
    assert runs_of(scripts) == [str(n) for n in entries[:2]]
    assert entry(emulator, entries[2])["processed"] is False
    assert run(settings).counts.processed == 1 and len(runs_of(scripts)) == 3


# -- at most once ----------------------------------------------------------------------------


def test_a_result_halo_did_not_take_is_sent_again_and_the_script_not_rerun(
    emulator: Emulator, make_folder: Callable[..., Settings], scripts: Path
) -> None:
    entry_id = queue_run(emulator, "slow.py", {"Seconds": 1})
    settings = make_folder()

    def break_halo_once_the_script_runs() -> None:
        wait_for(lambda: bool(runs_of(scripts)))
        emulator.set_faults(error_rate=1.0)

    breaker = threading.Thread(target=break_halo_once_the_script_runs)
    breaker.start()
    run(settings)
    breaker.join()
    emulator.set_faults(error_rate=0.0)
    assert entry(emulator, entry_id)["processed"] is False
    result = run(settings)
    assert result.counts.processed == 1, result.error
    done = entry(emulator, entry_id)
    assert (done["success"], done["result_message"]) == (True, f"done {entry_id}")
    assert runs_of(scripts) == [str(entry_id)]


def test_halo_unreachable_after_a_run_stops_the_queue_and_the_result_is_sent_later(
    emulator: Emulator, make_folder: Callable[..., Settings], scripts: Path
) -> None:
    first = queue_run(emulator, "slow.py", {"Seconds": 0.5})
    second = queue_again(emulator, first)  # one script record: nothing more to read
    settings = make_folder()

    def cut_halo_off_once_the_script_runs() -> None:
        wait_for(lambda: bool(runs_of(scripts)))
        emulator.set_faults(drop_rate=1.0)

    cutter = threading.Thread(target=cut_halo_off_once_the_script_runs)
    cutter.start()
    result = run(settings)
    cutter.join()
    emulator.set_faults(drop_rate=0.0)
    assert result.outcome is Outcome.FAILED and result.halo_unreachable
    assert runs_of(scripts) == [str(first)]  # the second did not start meanwhile
    assert run(settings).counts.processed == 2
    assert entry(emulator, first)["result_message"] == f"done {first}"
    assert runs_of(scripts) == [str(first), str(second)]


def test_sigkill_between_claim_and_report_never_runs_a_script_twice(
    emulator: Emulator, make_folder: Callable[..., Settings], scripts: Path
) -> None:
    entry_id = queue_run(emulator, "slow.py", {"Seconds": 3})
    later = queue_run(emulator, "slow.py", {"Seconds": 0})
    settings = make_folder()
    agent = agent_process("sync", "--settings", str(settings.folder))
    wait_for(lambda: bool(runs_of(scripts)))
    agent.send_signal(signal.SIGKILL)
    agent.communicate()
    assert entry(emulator, entry_id)["processed"] is False
    finished = agent_process("sync", "--settings", str(settings.folder))
    out, err = finished.communicate(timeout=60)
    assert entry(emulator, entry_id)["processed"] is True, out + err
    unknown = entry(emulator, entry_id)
    assert (unknown["success"], unknown["result_message"]) == (False, UNKNOWN_OUTCOME)
    assert entry(emulator, later)["success"] is True
    assert sorted(runs_of(scripts)) == sorted([str(entry_id), str(later)])
    agent_process("sync", "--settings", str(settings.folder)).communicate(timeout=60)
    assert runs_of(scripts).count(str(entry_id)) == 1


def test_removing_and_adding_the_instance_again_does_not_forget_what_ran(
    emulator: Emulator, make_folder: Callable[..., Settings], scripts: Path
) -> None:
    entry_id = queue_run(emulator, "echo_args.py")
    settings = make_folder("powershell")
    # What a run killed right after its claim leaves behind, then `module remove powershell`.
    WorkLedger(StateStore(settings.folder), QUEUE_OWNER, "script").claim(str(entry_id), marker="")
    StateStore(settings.folder).forget_module("powershell")
    run(make_folder("powershell"))
    assert entry(emulator, entry_id)["result_message"] == UNKNOWN_OUTCOME
    assert runs_of(scripts) == []


@pytest.mark.slow
def test_repeated_kills_at_random_moments_run_each_script_at_most_once(
    emulator: Emulator, make_folder: Callable[..., Settings], scripts: Path
) -> None:
    entries = [queue_run(emulator, "slow.py", {"Seconds": 0.3}) for _ in range(8)]
    settings = make_folder()
    for delay in (0.4, 0.6, 0.8, 1.0, 1.3):
        agent = agent_process("sync", "--settings", str(settings.folder))
        time.sleep(delay)
        agent.send_signal(signal.SIGKILL)
        agent.communicate()
    agent_process("sync", "--settings", str(settings.folder)).communicate(timeout=60)
    runs = runs_of(scripts)
    for entry_id in entries:
        done = entry(emulator, entry_id)
        assert done["processed"] is True
        assert runs.count(str(entry_id)) <= 1
        if done["success"]:
            assert runs.count(str(entry_id)) == 1
        else:
            assert done["result_message"] == UNKNOWN_OUTCOME


def test_the_tray_and_an_auto_run_at_once_run_each_script_once(
    emulator: Emulator, make_folder: Callable[..., Settings], scripts: Path
) -> None:
    # Long enough that the second agent, started once the first runs a script, polls
    # while that script still runs.
    entries = [queue_run(emulator, "slow.py", {"Seconds": 2.5}) for _ in range(2)]
    settings = make_folder()
    auto = agent_process("AUTO", str(settings.path))
    wait_for(lambda: bool(runs_of(scripts)))  # AUTO is running the first script
    tray = Runner(settings, origin="tray").run()
    out, err = auto.communicate(timeout=60)
    assert auto.returncode == 0 and "Outcome unknown" not in out + err, out + err
    assert tray[0].ok and not tray[0].failures, tray[0].error
    assert sorted(runs_of(scripts)) == sorted(str(n) for n in entries)
    assert all(entry(emulator, n)["success"] is True for n in entries)


def test_two_powershell_instances_polling_at_once_run_each_script_once(
    emulator: Emulator, make_folder: Callable[..., Settings], scripts: Path
) -> None:
    # Long enough that the second agent, started once the first runs a script, polls
    # while that script still runs.
    entries = [queue_run(emulator, "slow.py", {"Seconds": 2.5}) for _ in range(2)]
    settings = make_folder("scripts-a", "scripts-b")
    first = agent_process("sync", "scripts-a", "--settings", str(settings.folder))
    wait_for(lambda: bool(runs_of(scripts)))  # the first is running a script
    second = agent_process("sync", "scripts-b", "--settings", str(settings.folder))
    for process in (first, second):
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0 and "Outcome unknown" not in out + err, out + err
    assert sorted(runs_of(scripts)) == sorted(str(n) for n in entries)
    assert all(entry(emulator, n)["success"] is True for n in entries)


@pytest.fixture(autouse=True)
def _no_script_left_running(scripts: Path) -> Iterator[None]:
    """A test that fails half-way must not leave a hanging script behind."""
    yield
    pids = scripts / "hang.pids"
    for pid in map(int, pids.read_text().split()) if pids.exists() else ():
        if not gone(pid):
            os.kill(pid, signal.SIGKILL)


def test_the_source_check_names_the_script_types_and_a_missing_interpreter(
    scripts: Path, tmp_path: Path
) -> None:
    (scripts / "reset.ps1").write_text("param($User)\n")
    options = PowerShellOptions(
        scripts_folder="scripts", interpreters={".ps1": ["no-such-pwsh-here"]}
    )
    context = SourceContext("scripts", tmp_path, logging.getLogger("test"))
    found = PowerShellScripts(options).check(context)
    assert ".ps1, .py, .sh" in found and "not installed: no-such-pwsh-here (for .ps1)" in found
