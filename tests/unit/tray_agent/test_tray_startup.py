"""The tray's start-up helpers: where its log goes."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from tray_agent.tray_startup import log_to_tray_file


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_the_tray_log_folder_is_created_owner_only(tmp_path: Path) -> None:
    logger = logging.getLogger("halo_integrator")
    before = list(logger.handlers)
    try:
        log_to_tray_file(tmp_path / "settings")
        assert stat.S_IMODE((tmp_path / "settings" / "logs").stat().st_mode) == 0o700
    finally:
        for handler in set(logger.handlers) - set(before):
            logger.removeHandler(handler)
            handler.close()
