"""Shared pieces of the ledger tests: a ledger with one dataset, and worker processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from veil.ledger import Ledger

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    path = tmp_path / "veil-ledger.db"
    with Ledger(path, create=True) as book:
        book.add_dataset("a", epsilon=1.0, delta=1e-6)
        book.add_dataset("b", epsilon=1.0, delta=1e-6)
    return path


def spawn(code: str, *args: str) -> subprocess.Popen[str]:
    """Run ``code`` in a new Python process with veil importable; pipes for talking to it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
