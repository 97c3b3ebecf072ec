"""The command line for a queued script: its interpreter, the file, its parameters.

The interpreter comes from the file's extension (``.ps1`` → PowerShell, ``.py``, ``.sh``,
``.cmd``, or what the admin sets), never from Halo. Each parameter becomes two list entries,
``-Name`` and the value exactly as Halo sent it: no shell sees them, so quotes, ``;``,
``$(...)``, backticks and newlines reach the script as they are. The one exception is
``cmd.exe``, which parses its own command line again, so values it would interpret are
refused for ``.cmd`` / ``.bat`` scripts rather than passed.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from core.errors import ScriptRefusedError
from core.sources.script_paths import AllowedScript

POWERSHELL_ARGUMENTS = ("-NoProfile", "-NonInteractive", "-File")
PARAMETER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# What cmd.exe acts on inside its command line: separators, redirection, escapes, variables.
CMD_SPECIAL = re.compile(r'[&|<>^%!"\r\n]')
CMD_EXTENSIONS = frozenset({".cmd", ".bat"})


def default_interpreters(
    *, use_powershell_seven: bool = True, windows: bool = os.name == "nt"
) -> dict[str, list[str]]:
    """Extension → command, before the admin's ``interpreters`` option.

    ``usepowershellseven`` on the Halo script chooses ``pwsh`` over Windows PowerShell 5.1
    (``powershell.exe``); elsewhere there is only ``pwsh``. ``.py`` runs under the Python
    running the agent, so a script needs no second installation.
    """
    powershell = "pwsh" if use_powershell_seven or not windows else "powershell.exe"
    return {
        ".ps1": [powershell, *POWERSHELL_ARGUMENTS],
        ".py": [sys.executable],
        ".sh": ["/bin/sh"],
        ".cmd": ["cmd", "/c"],
        ".bat": ["cmd", "/c"],
    }


def interpreters(
    configured: Mapping[str, Sequence[str]], *, use_powershell_seven: bool = True
) -> dict[str, list[str]]:
    """The defaults with the admin's ``interpreters`` over them (extensions in lower case)."""
    return {
        **default_interpreters(use_powershell_seven=use_powershell_seven),
        **{extension.lower(): list(command) for extension, command in configured.items()},
    }


def interpreter_for(
    script: AllowedScript,
    configured: Mapping[str, Sequence[str]],
    *,
    use_powershell_seven: bool = True,
) -> list[str]:
    """The command that runs ``script``; ScriptRefusedError when its extension has none
    (or the admin switched it off with an empty list)."""
    commands = interpreters(configured, use_powershell_seven=use_powershell_seven)
    command = commands.get(script.extension)
    if not command:
        known = ", ".join(sorted(key for key, value in commands.items() if value))
        raise ScriptRefusedError(
            f"no interpreter for {script.extension or 'files without an extension'} "
            f"(configured: {known})"
        )
    return command


def command_line(
    interpreter: Sequence[str], script: AllowedScript, parameters: Mapping[str, Any]
) -> list[str]:
    """``interpreter`` + the script's path + ``-Name value`` for each parameter.

    Raises ScriptRefusedError for a parameter name that is not a plain identifier, a value
    with a NUL character (no OS can pass it), or a value cmd.exe would interpret.
    """
    arguments = [*interpreter, str(script.path)]
    for name, value in parameters.items():
        if not PARAMETER_NAME.fullmatch(name):
            raise ScriptRefusedError(f"the parameter name {name!r} is not a plain name")
        text = argument_text(value)
        if "\0" in text:
            raise ScriptRefusedError(f"the value of parameter {name} contains a NUL character")
        if script.extension in CMD_EXTENSIONS and CMD_SPECIAL.search(text):
            raise ScriptRefusedError(
                f"the value of parameter {name} holds characters cmd.exe would interpret; "
                "use a .ps1 or .py script for such values"
            )
        arguments += [f"-{name}", text]
    return arguments


def argument_text(value: Any) -> str:
    """A Halo value as one argument: text as it is, true/false, numbers, JSON for lists."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)
