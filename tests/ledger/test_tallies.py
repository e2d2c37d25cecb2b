"""The ledger's tallies (schema 3) always equal a count over its releases.

Admission reads the tallies instead of every release, so a tally that drifts
from the releases would let a budget be overspent: these tests drive a ledger
through random reservations, finishes, cancellations and failed blocks, and
compare the tallies with a fresh count after every step; and they check that
an upgraded schema-2 ledger gets tallies that match what it already held.
"""

from __future__ import annotations

import random
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from veil.errors import BudgetExceededError
from veil.ledger import SCHEMA_VERSION, Ledger
from veil.privacy import GaussianEvent, LaplaceEvent, PrivacyLoss, compose

_LOSSES = [
    PrivacyLoss(epsilon=0.01),
    PrivacyLoss(epsilon=0.02),
    PrivacyLoss(epsilon=0.5, delta=1e-7),
    PrivacyLoss.from_event(LaplaceEvent(noise_multiplier=50.0), delta=0.0),
    PrivacyLoss.from_event(GaussianEvent(noise_multiplier=20.0), delta=1e-8),
]
_SPENDERS = [None, "ada", "bo"]


def _counted(db: Path, dataset: str, spender: str | None, events: bool) -> Counter:
    """Counted releases by loss, read the slow way: every row of ``releases``."""
    conn = sqlite3.connect(db)
    try:
        where = "dataset = ? AND state != 'cancelled'"
        args: tuple = (dataset,)
        if spender is not None:
            where += " AND spender = ?"
            args = (dataset, spender)
        column = "event" if events else "NULL"
        rows = conn.execute(
            f"SELECT epsilon, delta, rho, {column} FROM releases WHERE {where}", args
        ).fetchall()
    finally:
        conn.close()
    return Counter(rows)


def _tallied(book: Ledger, dataset: str, spender: str | None, events: bool) -> Counter:
    tally = book._losses(dataset, events=events, spender=spender)
    out: Counter = Counter()
    for loss, n in tally.groups:
        event = None
        if events and loss.event is not None:
            event = book._conn.execute(  # the stored text of this loss's event
                "SELECT event FROM tallies WHERE dataset = ? AND event IS NOT NULL "
                "AND epsilon IS ? AND delta IS ? AND rho IS ? LIMIT 1",
                (dataset, loss.epsilon, loss.delta, loss.rho),
            ).fetchone()[0]
        out[(loss.epsilon, loss.delta, loss.rho, event)] += n
    return out


def _check(book: Ledger, db: Path, dataset: str) -> None:
    for spender in _SPENDERS:
        for events in (False, True):
            assert _tallied(book, dataset, spender, events) == _counted(
                db, dataset, spender, events
            )


@pytest.mark.parametrize("seed", range(3))
def test_tallies_follow_every_change(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    db = tmp_path / "ledger.db"
    with Ledger(db, create=True) as book:
        for dataset in ("a", "b"):
            book.add_dataset(dataset, epsilon=3.0, delta=1e-5)
            for spender in _SPENDERS[1:]:
                book.add_spender(dataset, spender, epsilon=1.0, delta=1e-6)
        open_ones = []
        for _ in range(120):
            dataset = rng.choice(["a", "b"])
            loss = rng.choice(_LOSSES)
            spender = rng.choice(_SPENDERS)
            action = rng.random()
            try:
                if action < 0.4:
                    open_ones.append(
                        book.reserve(dataset, loss, what="q", mechanism="m", spender=spender)
                    )
                elif action < 0.6 and open_ones:
                    book.finish(open_ones.pop(rng.randrange(len(open_ones))), {"v": 1})
                elif action < 0.75 and open_ones:
                    book.cancel(open_ones.pop(rng.randrange(len(open_ones))), reason="test")
                elif action < 0.9:
                    with book.release_at_once(
                        dataset, loss, what="q", mechanism="m", spender=spender
                    ) as pending:
                        pending.result = {"v": 2}
                else:
                    with (
                        pytest.raises(RuntimeError, match="boom"),
                        book.release_at_once(
                            dataset, loss, what="q", mechanism="m", spender=spender
                        ),
                    ):
                        raise RuntimeError("boom")  # rolled back: nothing recorded
            except BudgetExceededError:
                pass
            _check(book, db, dataset)
        for dataset in ("a", "b"):
            _check(book, db, dataset)


def test_tallied_admission_equals_composing_every_release(tmp_path: Path) -> None:
    """The spent budget from tallies is the composition of the releases one by one."""
    db = tmp_path / "ledger.db"
    with Ledger(db, create=True) as book:
        book.add_dataset("d", epsilon=100.0, delta=1e-5)
        for i in range(60):
            with book.release_at_once("d", _LOSSES[i % 5], what="q", mechanism="m") as pending:
                pending.result = {"v": i}
        history = book.history("d")
        one_by_one = compose([r.loss for r in history.records if r.counts], 1e-5)
        assert book.status("d").epsilon_spent == one_by_one.epsilon
        assert book.status("d").releases == 60


def test_schema_2_ledger_gets_tallies_of_what_it_held(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    with Ledger(db, create=True) as book:
        book.add_dataset("d", epsilon=5.0, delta=1e-5)
        book.add_spender("d", "ada", epsilon=1.0, delta=1e-6)
        for i, loss in enumerate(_LOSSES * 3):
            spender = "ada" if i % 2 else None
            reservation = book.reserve("d", loss, what="q", mechanism="m", spender=spender)
            if i % 3 == 0:
                book.cancel(reservation, reason="test")
            else:
                book.finish(reservation, {"v": i})
        before = {s: book.status("d", spender=s).epsilon_spent for s in (None, "ada")}
    conn = sqlite3.connect(db, isolation_level=None)  # back to what schema 2 held
    for trigger in ("tally_insert", "tally_delete", "tally_update_old", "tally_update_new"):
        conn.execute(f"DROP TRIGGER {trigger}")
    conn.execute("DROP TABLE tallies")
    conn.execute("PRAGMA user_version=2")
    conn.close()
    with Ledger(db) as book:
        assert book._conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
        _check(book, db, "d")
        assert {s: book.status("d", spender=s).epsilon_spent for s in (None, "ada")} == before
