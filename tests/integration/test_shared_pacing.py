"""Two processes on one settings folder stay together under the instance's rate limit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from halo_emulator import Emulator

from .conftest import SECRET

SCRIPT = """
import sys
from pathlib import Path
from core.settings.model import HaloConnection
from core.halo.client import HaloClient, RetryPolicy, folder_pacer
from core.settings.secrets import Secret
connection = HaloConnection(url=sys.argv[1], client_id="halo-emulator",
                            client_secret=Secret(sys.argv[2]), requests_per_window=10,
                            window_seconds=3.0)
retry = RetryPolicy(rate_limit_patience_seconds=0.1)  # a 429 would fail the run
with HaloClient(connection, pacer=folder_pacer(Path(sys.argv[3]), connection), retry=retry) as c:
    for _ in range(8):
        c.get("Status")
"""


def test_two_processes_share_one_budget(tmp_path: Path) -> None:
    with Emulator(client_secret=SECRET, rate_limit=(10, 3.0)) as emu:
        command = [sys.executable, "-c", SCRIPT, emu.base_url, SECRET, str(tmp_path)]
        processes = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        errors = [process.communicate(timeout=60)[1] for process in processes]
        assert [process.returncode for process in processes] == [0, 0], errors
        stats = emu.stats()
    assert stats["by_status"].get("429", 0) == 0
    assert stats["by_endpoint"]["GET /api/status"] == 16
