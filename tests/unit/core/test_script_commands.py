"""How a queued script becomes a command line, and how its run becomes Halo's result."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from core.errors import ScriptRefusedError
from core.modules.options import parse_options
from core.modules.powershell_scripts import PowerShellOptions
from core.sources.script_commands import command_line, default_interpreters, interpreter_for
from core.sources.script_paths import AllowedScript
from core.sources.script_process import ScriptRun
from core.sources.script_results import ScriptResult, judge

PS1 = AllowedScript(Path("/scripts/reset.ps1"), "reset.ps1")
CMD = AllowedScript(Path("/scripts/reset.cmd"), "reset.cmd")


def test_a_ps1_runs_under_pwsh_without_profile_or_prompts() -> None:
    command = command_line(interpreter_for(PS1, {}), PS1, {"User": "ann"})
    assert command == [
        "pwsh", "-NoProfile", "-NonInteractive", "-File", "/scripts/reset.ps1", "-User", "ann",
    ]  # fmt: skip


def test_windows_runs_windows_powershell_when_the_script_does_not_ask_for_version_7() -> None:
    def ps1(**flags: bool) -> str:
        return default_interpreters(**flags)[".ps1"][0]

    assert ps1(use_powershell_seven=False, windows=True) == "powershell.exe"
    assert ps1(use_powershell_seven=True, windows=True) == "pwsh"
    assert ps1(use_powershell_seven=False, windows=False) == "pwsh"  # there is no other
    assert default_interpreters(windows=True)[".cmd"] == ["cmd", "/c"]


def test_the_admins_interpreter_wins_and_an_empty_one_switches_the_extension_off() -> None:
    python = AllowedScript(Path("/scripts/a.py"), "a.py")
    assert interpreter_for(python, {}) == [sys.executable]
    assert interpreter_for(python, {".PY": ["/opt/python3", "-I"]}) == ["/opt/python3", "-I"]
    with pytest.raises(ScriptRefusedError, match=r"no interpreter for \.ps1"):
        interpreter_for(PS1, {".ps1": []})


def test_a_parameter_name_that_is_not_a_plain_name_is_refused() -> None:
    with pytest.raises(ScriptRefusedError, match="not a plain name"):
        command_line(["pwsh"], PS1, {"User -Command evil": "x"})


def test_values_cmd_exe_would_interpret_are_refused_for_cmd_scripts_only() -> None:
    value = "ann & del /q C:\\*"
    assert command_line(["pwsh"], PS1, {"User": value})[-1] == value
    with pytest.raises(ScriptRefusedError, match=r"cmd\.exe would interpret"):
        command_line(["cmd", "/c"], CMD, {"User": value})
    assert command_line(["cmd", "/c"], CMD, {"User": "ann.smith"})[-1] == "ann.smith"


def test_values_become_text_as_halo_sent_them() -> None:
    command = command_line(["pwsh"], PS1, {"Enabled": True, "Count": 3, "Groups": ["a", "b"]})
    assert command[2:] == ["-Enabled", "true", "-Count", "3", "-Groups", '["a", "b"]']


def finished(stdout: str, exit_code: int = 0, stderr: str = "") -> ScriptRun:
    return ScriptRun(exit_code=exit_code, stdout=stdout, stderr=stderr, duration_seconds=0.1)


def judged(
    run: ScriptRun, expected: str = "", *, partial: bool = False, secrets: tuple[str, ...] = ()
) -> ScriptResult:
    return judge(
        run,
        result_string=expected,
        partial_match=partial,
        timeout_seconds=60,
        secrets=list(secrets),
    )


def test_without_a_result_string_the_exit_code_decides() -> None:
    assert judged(finished("done\n")).success
    failed = judged(finished("", 1, "boom\n"))
    assert not failed.success and failed.message == "Exit code 1.\nboom"


def test_the_result_string_is_matched_exactly_after_trimming_or_as_a_part() -> None:
    assert judged(finished("  OK\n"), "OK").success
    assert not judged(finished("OK then"), "OK").success
    assert judged(finished("all OK then"), "OK", partial=True).success
    assert not judged(finished("OK", exit_code=3), "OK").success


def test_a_configured_secret_the_script_prints_is_masked_and_nothing_else() -> None:
    result = judged(finished("pw Secret-Value-1; Password: shown"), secrets=("Secret-Value-1",))
    assert result.message == "pw ********; Password: shown"


def test_a_kept_result_reads_back_as_it_was_written() -> None:
    result = judged(finished("", 2, "denied"))
    assert ScriptResult.from_text(result.to_text()) == result


def test_interpreter_extensions_and_environment_names_are_checked_with_the_settings() -> None:
    _, problems = parse_options(
        PowerShellOptions,
        {
            "scripts_folder": "scripts",
            "interpreters": {"ps1": ["pwsh"], ".PY": ["python3"]},
            "environment": {"AD PASSWORD": "x" * 12, "AD_PASSWORD": "y" * 12},
        },
    )
    assert problems == [
        ("interpreters.ps1", "must start with a dot, like .ps1"),
        ("environment.AD PASSWORD", "must be a plain variable name (letters, digits, _)"),
    ]


def test_the_result_kept_and_sent_is_cut_to_what_halo_is_sent() -> None:
    from core.sources.script_results import MAX_RESULT_CHARACTERS

    result = judged(finished("x" * 1_000_000))
    assert result.success and result.message == "x" * MAX_RESULT_CHARACTERS
    assert len(result.to_text()) < MAX_RESULT_CHARACTERS + 200  # what state.db keeps
