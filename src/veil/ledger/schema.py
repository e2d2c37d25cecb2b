"""The ledger file's schema, and its migration from older versions in place.

Version 1 (veil 0.1) recorded finished releases only. Version 2 adds the
state of each entry (reserved, finished, cancelled), who spent it (a spender:
a scientist of the data site, a federated run), and per-spender budgets. A
version-1 file is upgraded in one transaction the first time it is opened for
writing: every release it holds is kept, as finished. Version 3 adds the
``tallies``: how many counted releases of each distinct loss a dataset (and
each of its spenders) holds, kept by triggers in the same transaction as every
change to ``releases``, so admitting a release reads a few rows instead of every
release ever made.
"""

from __future__ import annotations

import sqlite3

__all__ = ["APPLICATION_ID", "SCHEMA_VERSION", "create_schema", "migrate"]

SCHEMA_VERSION = 3
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


# Version 3: counted releases by distinct loss. ``spender`` is '' for the whole
# dataset's row (every release, a spender's or not); a named spender's rows count
# its own releases. A release counts unless cancelled (the ledger's one rule).
_TALLIES = """
CREATE TABLE tallies (
    dataset TEXT NOT NULL,
    spender TEXT NOT NULL,
    epsilon REAL,
    delta REAL NOT NULL,
    rho REAL,
    event TEXT,
    n INTEGER NOT NULL CHECK (n >= 0)
)"""
_TALLIES_INDEX = "CREATE INDEX tallies_by_key ON tallies(dataset, spender, epsilon, delta, rho)"
_LOSS_COLUMNS = ("epsilon", "delta", "rho", "event")


def _bump(row: str, by: int) -> str:
    """Statements adding ``by`` to the tallies of release ``row`` (OLD or NEW)."""
    statements = []
    for whose, when in (("''", ""), (f"{row}.spender", f" AND {row}.spender IS NOT NULL")):
        match = f"dataset = {row}.dataset AND spender = {whose}" + "".join(
            f" AND {c} IS {row}.{c}" for c in _LOSS_COLUMNS
        )
        values = ", ".join(f"{row}.{c}" for c in _LOSS_COLUMNS)
        statements.append(
            f"INSERT INTO tallies(dataset, spender, epsilon, delta, rho, event, n) "
            f"SELECT {row}.dataset, {whose}, {values}, 0 "
            f"WHERE NOT EXISTS (SELECT 1 FROM tallies WHERE {match}){when};"
        )
        statements.append(f"UPDATE tallies SET n = n + ({by}) WHERE {match}{when};")
    return "\n".join(statements)


_KEY_CHANGED = " OR ".join(
    f"OLD.{c} IS NOT NEW.{c}" for c in ("dataset", "spender", *_LOSS_COLUMNS)
)
_TRIGGERS = (
    f"""CREATE TRIGGER tally_insert AFTER INSERT ON releases
    WHEN NEW.state != 'cancelled' BEGIN {_bump("NEW", 1)} END""",
    f"""CREATE TRIGGER tally_delete AFTER DELETE ON releases
    WHEN OLD.state != 'cancelled' BEGIN {_bump("OLD", -1)} END""",
    f"""CREATE TRIGGER tally_update_old AFTER UPDATE ON releases
    WHEN OLD.state != 'cancelled' AND (NEW.state = 'cancelled' OR {_KEY_CHANGED})
    BEGIN {_bump("OLD", -1)} END""",
    f"""CREATE TRIGGER tally_update_new AFTER UPDATE ON releases
    WHEN NEW.state != 'cancelled' AND (OLD.state = 'cancelled' OR {_KEY_CHANGED})
    BEGIN {_bump("NEW", 1)} END""",
)


def create_schema(conn: sqlite3.Connection) -> None:
    """Create every table of the newest version (inside the caller's transaction)."""
    conn.execute(_DATASETS)
    conn.execute(_RELEASES_V1)
    _upgrade_1_to_2(conn)
    _upgrade_2_to_3(conn)
    conn.execute(f"PRAGMA application_id={APPLICATION_ID}")


def _upgrade_1_to_2(conn: sqlite3.Connection) -> None:
    for column in _RELEASES_V2_COLUMNS:
        conn.execute(f"ALTER TABLE releases ADD COLUMN {column}")
    conn.execute(_SPENDERS)
    for statement in _INDEXES:
        conn.execute(statement)
    conn.execute("PRAGMA user_version=2")


def _upgrade_2_to_3(conn: sqlite3.Connection) -> None:
    conn.execute(_TALLIES)
    conn.execute(_TALLIES_INDEX)
    for trigger in _TRIGGERS:
        conn.execute(trigger)
    losses = ", ".join(_LOSS_COLUMNS)
    counted = "state != 'cancelled'"
    conn.execute(
        f"INSERT INTO tallies(dataset, spender, {losses}, n) SELECT dataset, '', {losses}, "
        f"COUNT(*) FROM releases WHERE {counted} GROUP BY dataset, {losses}"
    )
    conn.execute(
        f"INSERT INTO tallies(dataset, spender, {losses}, n) SELECT dataset, spender, "
        f"{losses}, COUNT(*) FROM releases WHERE {counted} AND spender IS NOT NULL "
        f"GROUP BY dataset, spender, {losses}"
    )
    conn.execute("PRAGMA user_version=3")


_UPGRADES = {1: _upgrade_1_to_2, 2: _upgrade_2_to_3}


def migrate(conn: sqlite3.Connection, version: int) -> None:
    """Upgrade a ledger of ``version`` to :data:`SCHEMA_VERSION` (inside a transaction)."""
    while version < SCHEMA_VERSION:
        _UPGRADES[version](conn)
        version += 1
