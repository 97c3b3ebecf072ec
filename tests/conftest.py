"""Fixtures for the whole suite."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.halo import pacing
from core.halo.pacing import STATE_FOLDER_VARIABLE


@pytest.fixture(autouse=True, scope="session")
def user_state_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """No test (nor a process it starts) writes the pacing history into the real home.

    Session-wide, so processes started by session fixtures (the GUI's tray) inherit it too;
    a test that needs its own folder sets the variable again.
    """
    folder = tmp_path_factory.mktemp("user-state")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(STATE_FOLDER_VARIABLE, str(folder))
        yield folder


@pytest.fixture(autouse=True)
def own_pacing_history(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Each test paces from an empty history, in this process and in those it starts.

    Pacers are keyed by the Halo URL and client ID, and the kernel hands a later test's
    emulator a port an earlier one used: sharing one history, a test could wait minutes
    for the 300-per-5-minutes window other tests filled (one CI run waited 133 s).
    """
    monkeypatch.setenv(STATE_FOLDER_VARIABLE, str(tmp_path_factory.mktemp("pacing")))
    with pacing._SHARED_PACERS_LOCK:
        saved = dict(pacing._SHARED_PACERS)
        pacing._SHARED_PACERS.clear()
    yield
    with pacing._SHARED_PACERS_LOCK:
        pacing._SHARED_PACERS.clear()
        pacing._SHARED_PACERS.update(saved)


@pytest.fixture(autouse=True)
def engine_log_handlers() -> Iterator[None]:
    """A CLI run in the test process installs console and auto.log handlers: take them off
    again, so no later test logs into a closed capture stream or another test's folder."""
    engine = logging.getLogger("halo_integrator")
    before = list(engine.handlers)
    yield
    for handler in [h for h in engine.handlers if h not in before]:
        engine.removeHandler(handler)
        handler.close()
