"""GUI fixtures: one real desktop per test module, and the folder screenshots go to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .desktop import Desktop

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def desktop() -> Iterator[Desktop]:
    with Desktop() as running:
        yield running


@pytest.fixture
def artifacts() -> Path:
    """Screenshots land in test-artifacts/ at the repository root, for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def tk_desktop() -> Iterator[Desktop]:
    """The desktop of every Tk window made in this process, for the whole session.

    Tk never closes a display connection: once a module's desktop stopped, the next Tk root
    on a new display would read the dead connection and Xlib would end the process.
    """
    with Desktop() as running:
        yield running


@pytest.fixture
def tk_root(tk_desktop: Desktop, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A Tk root in this process (on ``tk_desktop``). Tk variables must die on this thread:
    the cycles a test leaves are collected here, before the root goes, not later by gc on
    another thread."""
    import gc
    import tkinter

    monkeypatch.setenv("DISPLAY", tk_desktop.display)
    root = tkinter.Tk()
    root.withdraw()
    yield root
    gc.collect()
    root.destroy()
    gc.collect()
