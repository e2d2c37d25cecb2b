"""Ledgers written by veil 0.1 (schema 1) open and migrate in place, losing nothing."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

import pytest

from veil.errors import DataError
from veil.ledger import SCHEMA_VERSION, Ledger
from veil.privacy import PrivacyLoss

# The schema veil 0.1 created, verbatim, and three releases as it recorded them.
_SCHEMA_1 = """
CREATE TABLE datasets (
    name TEXT PRIMARY KEY,
    epsilon REAL NOT NULL CHECK (epsilon > 0),
    delta REAL NOT NULL CHECK (delta >= 0 AND delta < 1),
    description TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL
);
CREATE TABLE releases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset TEXT NOT NULL REFERENCES datasets(name),
    created TEXT NOT NULL,
    what TEXT NOT NULL,
    mechanism TEXT NOT NULL,
    parameters TEXT NOT NULL,
    epsilon REAL,
    delta REAL NOT NULL,
    rho REAL,
    event TEXT,
    result TEXT
);
CREATE INDEX releases_by_dataset ON releases(dataset, id);
"""
_ROWS = [
    ("count()", "discrete Laplace", 0.2, 0.0, None,
     {"type": "discrete_laplace", "noise_parameter": 0.2, "sensitivity": 1}, {"value": 10}),
    ("mean(age)", "discrete Gaussian", 0.3, 1e-7, 0.004, {"type": "zcdp", "rho": 0.004}, None),
    ("sum(x)", "Laplace", 0.1, 0.0, None, None, {"value": 3.5}),
]  # fmt: skip


def _schema_1_ledger(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(_SCHEMA_1)
    conn.execute(f"PRAGMA application_id={0x7665696C}")
    conn.execute("PRAGMA user_version=1")
    conn.execute(
        "INSERT INTO datasets VALUES ('patients', 1.0, 1e-6, 'old', '2026-01-01T00:00:00+00:00')"
    )
    for what, mech, eps, delta, rho, event, result in _ROWS:
        conn.execute(
            "INSERT INTO releases(dataset, created, what, mechanism, parameters, epsilon, delta, "
            "rho, event, result) VALUES ('patients', '2026-01-02T00:00:00+00:00', ?, ?, '{}', "
            "?, ?, ?, ?, ?)",
            (
                what,
                mech,
                eps,
                delta,
                rho,
                json.dumps(event) if event else None,
                json.dumps(result) if result else None,
            ),
        )
    conn.close()


def test_schema_1_opens_and_migrates_losing_nothing(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _schema_1_ledger(path)
    with Ledger(path) as book:
        history = book.history("patients")
        assert [r.what for r in history.records] == ["count()", "mean(age)", "sum(x)"]
        assert all(r.state == "finished" for r in history.records)
        assert history.records[0].result == {"value": 10}
        assert history.records[0].loss.event == _ROWS[0][5]
        assert history.status.epsilon_spent <= 0.6 + 1e-12
        book.finish(book.reserve("patients", PrivacyLoss.pure(0.1), what="x", mechanism="m"))
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("SELECT count(*) FROM releases").fetchone()[0] == 4
    conn.close()
    with Ledger(path) as book:  # opening again migrates nothing more
        assert book.status("patients").releases == 4


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _make_read_only(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``path`` and its folder read-only, as a user (not root) would see them."""
    path.chmod(0o444)
    path.parent.chmod(0o555)
    if os.geteuid() == 0:
        # Root writes through permission bits; let the ledger see what a user would.
        real = os.access
        monkeypatch.setattr(
            "veil.ledger.storage.os.access",
            lambda p, mode: False if mode & os.W_OK else real(p, mode),
        )


def _make_writable(path: Path) -> None:
    path.parent.chmod(0o755)
    path.chmod(0o644)


def test_read_only_schema_1_is_a_clear_error_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "old.db"
    _schema_1_ledger(path)
    before = _digest(path), sorted(os.listdir(folder))
    _make_read_only(path, monkeypatch)
    try:
        with pytest.raises(DataError, match=r"schema version 1 .* read-only; make the file"):
            Ledger(path)
        assert (_digest(path), sorted(os.listdir(folder))) == before  # no -wal, -shm, .lock
    finally:
        _make_writable(path)


def test_read_only_current_ledger_is_shown_not_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "new.db"
    with Ledger(path, create=True) as book:
        book.add_dataset("d", epsilon=1.0, delta=0.0)
        book.finish(book.reserve("d", PrivacyLoss.pure(0.25), what="x", mechanism="m"))
    before = _digest(path), sorted(os.listdir(folder))
    _make_read_only(path, monkeypatch)
    try:
        with Ledger(path) as book:
            assert book.status("d").epsilon_spent == 0.25
            with pytest.raises(DataError, match="read-only: it can be shown but not written"):
                book.reserve("d", PrivacyLoss.pure(0.1), what="x", mechanism="m")
        assert (_digest(path), sorted(os.listdir(folder))) == before
    finally:
        _make_writable(path)
