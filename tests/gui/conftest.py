"""GUI fixtures: one real desktop per test module, and the folder screenshots go to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
