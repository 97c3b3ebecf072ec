"""core/ is the engine for headless AUTO runs: it must never pull in a UI or the emulator."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import core

FORBIDDEN = {
    "tkinter",
    "pystray",
    "PIL",
    "plyer",
    "schedule",
    "tray_agent",
    "halo_emulator",
    "graph_standin",
    "aiohttp",
    "gi",
    "dbus",
}
CORE = Path(core.__file__).parent


def test_no_core_module_imports_a_ui_or_the_emulator() -> None:
    offenders = []
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_loading_every_core_module_loads_nothing_forbidden() -> None:
    modules = sorted(
        "core." + ".".join(path.relative_to(CORE).with_suffix("").parts)
        for path in CORE.rglob("*.py")
        if path.name != "__init__.py"
    )
    code = (
        f"import importlib, sys\nfor m in {modules!r}: importlib.import_module(m)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {sorted(FORBIDDEN)!r}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_auto_mode_needs_no_display() -> None:
    code = "import tray_agent.cli, sys; print('pystray' in sys.modules, 'tkinter' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.stdout.strip() == "False False"
