"""The ledger file's schema, and its migration from older versions in place.

Version 1 (veil 0.1) recorded finished releases only. Version 2 adds the
state of each entry (reserved, finished, cancelled), who spent it (a spender:
a scientist of the data site, a federated run), and per-spender budgets. A
version-1 file is upgraded in one transaction the first time it is opened for
writing: every release it holds is kept, as finished.
"""

from __future__ import annotations

import sqlite3

__all__ = ["APPLICATION_ID", "SCHEMA_VERSION", "create_schema", "migrate"]

SCHEMA_VERSION = 2
APPLICATION_ID = 0x7665696C  # "veil": marks the SQLite file as a veil ledger

_DATASETS = """
CREATE TABLE datasets (
    name TEXT PRIMARY KEY,
    epsilon REAL NOT NULL CHECK (epsilon > 0),
    delta REAL NOT NULL CHECK (delta >= 0 AND delta < 1),
    description TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL
)"""

_RELEASES_V1 = """
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
)"""

# Version 2: what version 1 had, plus these, each with the value old rows get.
_RELEASES_V2_COLUMNS = (
    "state TEXT NOT NULL DEFAULT 'finished' CHECK (state IN ('reserved', 'finished', 'cancelled'))",
    "spender TEXT",
    "finished TEXT",
    "note TEXT",
    "owner TEXT",
)

_SPENDERS = """
CREATE TABLE spenders (
    dataset TEXT NOT NULL REFERENCES datasets(name),
    name TEXT NOT NULL,
    epsilon REAL NOT NULL CHECK (epsilon > 0),
    delta REAL NOT NULL CHECK (delta >= 0 AND delta < 1),
    created TEXT NOT NULL,
    PRIMARY KEY (dataset, name)
)"""

_INDEXES = (
    "CREATE INDEX IF NOT EXISTS releases_by_dataset ON releases(dataset, id)",
    "CREATE INDEX IF NOT EXISTS releases_by_spender ON releases(dataset, spender, id)",
)


def create_schema(conn: sqlite3.Connection) -> None:
    """Create every table of the newest version (inside the caller's transaction)."""
    conn.execute(_DATASETS)
    conn.execute(_RELEASES_V1)
    _upgrade_1_to_2(conn)
    conn.execute(f"PRAGMA application_id={APPLICATION_ID}")


def _upgrade_1_to_2(conn: sqlite3.Connection) -> None:
    for column in _RELEASES_V2_COLUMNS:
        conn.execute(f"ALTER TABLE releases ADD COLUMN {column}")
    conn.execute(_SPENDERS)
    for statement in _INDEXES:
        conn.execute(statement)
    conn.execute("PRAGMA user_version=2")


_UPGRADES = {1: _upgrade_1_to_2}


def migrate(conn: sqlite3.Connection, version: int) -> None:
    """Upgrade a ledger of ``version`` to :data:`SCHEMA_VERSION` (inside a transaction)."""
    while version < SCHEMA_VERSION:
        _UPGRADES[version](conn)
        version += 1
