"""Shared fixtures: the real tables in ../shared/data (CI has them) and small examples."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data; tests using it skip only when the folder is absent (not in CI)."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent: the real-table cross-checks need it")
    return SHARED_DATA
