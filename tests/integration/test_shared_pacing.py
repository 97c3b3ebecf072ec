"""Processes and settings folders on one Halo application stay together under its rate limit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.halo.pacing import STATE_FOLDER_VARIABLE
from core.settings.model import HaloConnection, ModuleSettings, Settings
from core.settings.secrets import Secret
from core.settings.writer import save_settings
from halo_emulator import Emulator

from .conftest import SECRET, halo_users, user_rows, write_csv
from .test_cli import cli

SCRIPT = """
import sys
from pathlib import Path
from core.settings.model import HaloConnection
from core.halo.client import HaloClient, RetryPolicy
from core.halo.pacing import application_pacer
from core.settings.secrets import Secret
connection = HaloConnection(url=sys.argv[1], client_id="halo-emulator",
                            client_secret=Secret(sys.argv[2]), requests_per_window=10,
                            window_seconds=3.0)
retry = RetryPolicy(rate_limit_patience_seconds=0.1)  # a 429 would fail the run
pacer = application_pacer(connection, Path(sys.argv[3]))
with HaloClient(connection, pacer=pacer, retry=retry) as c:
    for _ in range(8):
        c.get("Status")
"""

LIMIT = (10, 2.0)  # requests per window of seconds, in the emulator and in the settings


def test_two_processes_share_one_budget(tmp_path: Path) -> None:
    with Emulator(client_secret=SECRET, rate_limit=(10, 3.0)) as emu:
        command = [sys.executable, "-c", SCRIPT, emu.base_url, SECRET, str(tmp_path)]
        processes = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        errors = [process.communicate(timeout=60)[1] for process in processes]
        assert [process.returncode for process in processes] == [0, 0], errors
        stats = emu.stats()
    assert stats["by_status"].get("429", 0) == 0
    assert stats["by_endpoint"]["GET /api/status"] == 16


def settings_folder(folder: Path, emu: Emulator, first_user: int) -> Path:
    """A folder whose csv module creates sixteen users, two per request, under ``LIMIT``."""
    halo = HaloConnection(
        url=emu.base_url,
        client_id=emu.client_id,
        client_secret=Secret(SECRET),
        requests_per_window=LIMIT[0],
        window_seconds=LIMIT[1],
        batch_size=2,
    )
    settings = Settings.new(folder / "appsettings.json", halo)
    settings.modules.append(
        ModuleSettings(name="csv", options={"path": "users.csv", "target": "users"})
    )
    save_settings(settings)
    write_csv(folder / "users.csv", user_rows(16, start=first_user))
    return folder


@pytest.mark.slow
def test_two_folders_on_one_halo_application_get_no_429_between_them(tmp_path: Path) -> None:
    """A "5 Mins" and a "Daily" folder sync at once: apart, each would spend the whole limit."""
    with Emulator(client_secret=SECRET, rate_limit=LIMIT) as emu:
        folders = [
            settings_folder(tmp_path / "5 Mins", emu, first_user=1),
            settings_folder(tmp_path / "Daily", emu, first_user=101),
        ]
        command = str(Path(sys.executable).with_name("halo-integrator"))
        syncs = [
            subprocess.Popen(
                [command, "sync", "--settings", str(folder)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for folder in folders
        ]
        outputs = [sync.communicate(timeout=120) for sync in syncs]
        assert [sync.returncode for sync in syncs] == [0, 0], outputs
        stats = emu.stats()
        created = [u for u in halo_users(emu) if u["emailaddress"].endswith("@example.com")]
    assert stats["by_status"].get("429", 0) == 0, stats
    assert stats["total"] > 2 * LIMIT[0]  # enough requests that apart they would collide
    assert len(created) == 32
    assert all("rate limit" not in output + errors for output, errors in outputs)


def test_a_corrupt_pacing_file_is_set_aside_and_the_auto_run_goes_on(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    state_folder = tmp_path / "state"
    state_folder.mkdir()
    (state_folder / "pacing.db").write_bytes(b"not a database, whatever it was\n" * 200)
    monkeypatch.setenv(STATE_FOLDER_VARIABLE, str(state_folder))
    folder = settings_folder(tmp_path / "Daily", emulator, first_user=1)

    run = cli("AUTO", str(folder))

    assert run.returncode == 0, run.stdout + run.stderr
    assert "csv: succeeded: 16 created" in run.stdout
    assert "Traceback" not in run.stderr
    auto_log = (folder / "logs" / "auto.log").read_text()
    assert "pacing history" in auto_log and "pacing.db.unreadable" in auto_log
    assert (state_folder / "pacing.db.unreadable").read_bytes().startswith(b"not a database")
    [status] = json.loads(cli("status", "--json", "--settings", str(folder)).stdout)
    assert status["health"] == "ok" and status["last_error"] is None
    again = cli("AUTO", str(folder))  # the new file is a good one
    assert again.returncode == 0 and "pacing history" not in again.stderr, again.stderr
