"""The privacy ledger: one SQLite file of datasets, their budgets and every release.

Every differentially private release in veil (a statistic, and later a
synthetic table, a trained model, a federated run) goes through
:meth:`Ledger.release`, which in ONE write transaction (``BEGIN IMMEDIATE``)

1. checks that the release fits in what is left of the dataset's budget, and
   refuses it before any noise is drawn;
2. lets the caller draw the noise;
3. records the release, and commits.

While one process holds that transaction the others wait for it, so concurrent
releases never overspend. SQLite's journal (WAL, ``synchronous=FULL``) makes a
commit durable and an interrupted transaction vanish: a process killed in the
middle of a release leaves the ledger as it was, and loses no committed entry.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from veil.dp.accountant import PrivacyLoss, check_delta, check_epsilon, compose
from veil.errors import BudgetExceededError, DataError, ParameterError, VeilError
from veil.ledger.locking import write_lock
from veil.ledger.records import BudgetStatus, LedgerHistory, ReleaseRecord

__all__ = ["DEFAULT_LEDGER", "SCHEMA_VERSION", "Ledger", "PendingRelease"]

DEFAULT_LEDGER = "veil-ledger.db"
SCHEMA_VERSION = 1
_APPLICATION_ID = 0x7665696C  # "veil": marks the SQLite file as a veil ledger
# Float sums of epsilons may land a few ulps above a budget they exactly fill.
_TOLERANCE = 1e-12
_FAST = ("basic", "zcdp")

_SCHEMA = """
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


@dataclass
class PendingRelease:
    """A release admitted by the ledger, inside its transaction, not yet committed.

    Set ``result`` (a JSON-ready dict of what was released) before the ``with``
    block ends; ``id`` and ``status`` are filled in once it is committed.
    """

    dataset: str
    loss: PrivacyLoss
    epsilon_spent_after: float
    epsilon_remaining_after: float
    result: dict[str, Any] | None = None
    id: int | None = None
    status: BudgetStatus | None = field(default=None, repr=False)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")


def _fmt(x: float) -> str:
    return f"{x:.6g}"


class Ledger:
    """A privacy ledger stored in one SQLite file.

    Parameters
    ----------
    path
        The ledger file; ``veil-ledger.db`` in the working directory by default.
    create
        Create the file (and its schema) when it does not exist. Otherwise a
        missing file is an error, so a typo never starts a fresh budget.
    timeout
        Seconds to wait for another process's transaction before giving up.

    Raises
    ------
    DataError
        The file is missing, is not a veil ledger, is corrupt, or has a newer schema.
    VeilError
        The ledger stays locked by another process for longer than ``timeout``.

    Examples
    --------
    >>> ledger = Ledger("veil-ledger.db", create=True)                 # doctest: +SKIP
    >>> ledger.add_dataset("patients", epsilon=1.0, delta=1e-6)        # doctest: +SKIP
    >>> ledger.status("patients").epsilon_remaining                    # doctest: +SKIP
    1.0
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = DEFAULT_LEDGER,
        *,
        create: bool = False,
        timeout: float = 30.0,
    ) -> None:
        self.path = Path(path)
        self.timeout = float(timeout)
        if not math.isfinite(self.timeout) or self.timeout < 0:
            raise ParameterError(f"timeout must be >= 0 seconds; got {timeout!r}")
        if self.path.is_dir():
            raise DataError(f"ledger path {str(self.path)!r} is a folder; expected a file")
        exists = self.path.exists()
        if not exists and not create:
            raise DataError(
                f"no ledger at {str(self.path)!r}; create one with "
                "`veil ledger init NAME --epsilon E --delta D --ledger PATH`"
            )
        if not exists and not self.path.parent.is_dir():
            raise DataError(f"cannot create ledger {str(self.path)!r}: its folder does not exist")
        self._conn = sqlite3.connect(
            str(self.path), timeout=self.timeout, isolation_level=None, check_same_thread=False
        )
        try:
            with self._errors():
                self._open(create)
        except BaseException:
            self._conn.close()
            raise

    # -- connection and schema -------------------------------------------------

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn SQLite failures into one clear veil error."""
        try:
            yield
        except sqlite3.OperationalError as err:
            text = str(err)
            if "locked" in text or "busy" in text:
                raise VeilError(
                    f"ledger {str(self.path)!r} is locked by another process (waited "
                    f"{self.timeout:g} s); try again, or wait longer with --lock-timeout"
                ) from err
            raise DataError(
                f"ledger {str(self.path)!r} cannot be used: {text}; it was left unchanged"
            ) from err
        except sqlite3.DatabaseError as err:
            raise DataError(
                f"ledger {str(self.path)!r} is corrupt or not a SQLite file ({err}); it was "
                "left unchanged: restore it from a backup"
            ) from err

    def _open(self, create: bool) -> None:
        conn = self._conn
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if app_id == 0 and tables == 0 and create:
            self._create_schema()
            return
        if app_id != _APPLICATION_ID:
            raise DataError(
                f"{str(self.path)!r} is a SQLite file but not a veil ledger; choose another "
                "path with --ledger"
            )
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise DataError(
                f"ledger {str(self.path)!r} has schema version {version}, newer than this "
                f"veil understands ({SCHEMA_VERSION}); upgrade veil to use it"
            )
        if version < 1:
            raise DataError(f"ledger {str(self.path)!r} has no schema version; it is corrupt")

    def _create_schema(self) -> None:
        conn = self._conn
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have created it while this one waited for the lock.
            if conn.execute("PRAGMA application_id").fetchone()[0] != _APPLICATION_ID:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA application_id={_APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Close the connection (committed releases are already on disk)."""
        self._conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- datasets and budgets ------------------------------------------------------

    def add_dataset(
        self, name: str, *, epsilon: float, delta: float, description: str = ""
    ) -> BudgetStatus:
        """Register ``name`` with its total privacy budget (epsilon, delta).

        Raises
        ------
        ParameterError
            The name is empty, the budget is out of range, or the dataset exists already.
        """
        if not isinstance(name, str) or not name.strip():
            raise ParameterError(f"dataset name must be a non-empty string; got {name!r}")
        epsilon = check_epsilon(epsilon)
        delta = check_delta(delta)
        with self._errors(), self._transaction():
            row = self._budget_row(name, must_exist=False)
            if row is not None:
                raise ParameterError(
                    f"dataset {name!r} already has a budget (epsilon={_fmt(row[0])}, "
                    f"delta={_fmt(row[1])}) in {str(self.path)!r}; a budget is never raised "
                    "in place: register the new data under a new name"
                )
            self._conn.execute(
                "INSERT INTO datasets(name, epsilon, delta, description, created) "
                "VALUES (?, ?, ?, ?, ?)",
                (name, epsilon, delta, description, _now()),
            )
        return self.status(name)

    def datasets(self) -> list[str]:
        """Names of the registered datasets."""
        with self._errors():
            return [r[0] for r in self._conn.execute("SELECT name FROM datasets ORDER BY name")]

    def _budget_row(self, name: str, *, must_exist: bool = True) -> tuple[Any, ...] | None:
        row = self._conn.execute(
            "SELECT epsilon, delta, description FROM datasets WHERE name = ?", (name,)
        ).fetchone()
        if row is None and must_exist:
            known = [r[0] for r in self._conn.execute("SELECT name FROM datasets ORDER BY name")]
            listed = ", ".join(known) if known else "none yet"
            raise ParameterError(
                f"dataset {name!r} is not in ledger {str(self.path)!r} (datasets: {listed}); "
                f"register it with `veil ledger init {name} --epsilon E --delta D`"
            )
        return row

    def _losses(self, name: str, *, events: bool) -> list[PrivacyLoss]:
        column = "event" if events else "NULL"
        rows = self._conn.execute(
            f"SELECT epsilon, delta, rho, {column} FROM releases WHERE dataset = ? ORDER BY id",
            (name,),
        ).fetchall()
        return [
            PrivacyLoss(epsilon=e, delta=d, rho=r, event=json.loads(ev) if ev is not None else None)
            for e, d, r, ev in rows
        ]

    def _status(self, name: str, losses: list[PrivacyLoss] | None = None) -> BudgetStatus:
        epsilon, delta, description = self._budget_row(name)  # type: ignore[misc]
        if losses is None:
            losses = self._losses(name, events=True)
        comp = compose(losses, delta)
        spent = comp.epsilon if losses else 0.0
        return BudgetStatus(
            dataset=name,
            epsilon=epsilon,
            delta=delta,
            epsilon_spent=spent,
            releases=len(losses),
            accountant=comp.accountant if losses else "none",
            by_accountant=comp.by_accountant if losses else {},
            ledger=str(self.path),
            description=description,
        )

    def status(self, name: str) -> BudgetStatus:
        """The budget of ``name``, what its releases spent, and what is left."""
        with self._errors():
            return self._status(name)

    def history(self, name: str) -> LedgerHistory:
        """Every release recorded for ``name``, oldest first."""
        with self._errors():
            self._budget_row(name)
            rows = self._conn.execute(
                "SELECT id, dataset, created, what, mechanism, parameters, epsilon, delta, rho, "
                "event, result FROM releases WHERE dataset = ? ORDER BY id",
                (name,),
            ).fetchall()
            records = [
                ReleaseRecord(
                    id=r[0],
                    dataset=r[1],
                    created=r[2],
                    what=r[3],
                    mechanism=r[4],
                    parameters=json.loads(r[5]),
                    loss=PrivacyLoss(
                        epsilon=r[6],
                        delta=r[7],
                        rho=r[8],
                        event=json.loads(r[9]) if r[9] is not None else None,
                    ),
                    result=json.loads(r[10]) if r[10] is not None else None,
                )
                for r in rows
            ]
            status = self._status(name, [rec.loss for rec in records])
        return LedgerHistory(status=status, records=records)

    # -- releases ------------------------------------------------------------------

    def _writer(self) -> contextlib.AbstractContextManager[None]:
        return write_lock(self.path, self.timeout)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._writer():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _admit(self, name: str, loss: PrivacyLoss) -> tuple[float, float]:
        """Spent epsilon after ``loss`` and the budget; raise if it does not fit."""
        epsilon, delta, _ = self._budget_row(name)  # type: ignore[misc]
        limit = epsilon * (1.0 + _TOLERANCE)
        before = self._losses(name, events=False)
        # Closed-form accountants first; dp-accounting's only when they refuse and can
        # do better: with a delta = 0 budget only pure losses fit, and for those basic
        # composition is already tight, so RDP/PLD would be wasted time under the lock.
        after = compose([*before, loss], delta, accountants=_FAST).epsilon
        tight = delta == 0
        if after > limit and not tight:
            full = self._losses(name, events=True)
            after = min(after, compose([*full, loss], delta).epsilon)
        if after > limit:
            spent = 0.0
            if before:
                losses = self._losses(name, events=not tight)
                spent = (
                    compose(losses, delta, accountants=_FAST) if tight else compose(losses, delta)
                ).epsilon
            left = max(0.0, epsilon - spent)
            asked = (
                f"epsilon={_fmt(loss.epsilon)}, delta={_fmt(loss.delta)}"
                if loss.epsilon is not None
                else f"rho={_fmt(loss.rho or 0.0)}"
            )
            raise BudgetExceededError(
                f"release refused before any noise was drawn: it needs {asked} but dataset "
                f"{name!r} has epsilon {_fmt(left)} left of {_fmt(epsilon)} (delta budget "
                f"{_fmt(delta)}, {len(before)} releases so far); ask for less epsilon"
            )
        return min(after, epsilon), epsilon

    def check(self, name: str, loss: PrivacyLoss) -> float:
        """Return the epsilon left after ``loss``, or raise if it would not fit (writes nothing).

        Raises
        ------
        BudgetExceededError
            The release would exceed the budget of ``name``.
        """
        with self._errors():
            after, epsilon = self._admit(name, loss)
        return max(0.0, epsilon - after)

    @contextlib.contextmanager
    def release(
        self,
        name: str,
        loss: PrivacyLoss,
        *,
        what: str,
        mechanism: str,
        parameters: dict[str, Any] | None = None,
    ) -> Iterator[PendingRelease]:
        """Check, then let the caller draw noise, then record: one transaction.

        The ``with`` block is where the noise is drawn. The released value must
        not leave the block before it ends: if the block raises, nothing is
        recorded, which is correct only when nothing was published.

        Parameters
        ----------
        name
            The dataset, registered with :meth:`add_dataset`.
        loss
            The privacy loss of this release.
        what, mechanism, parameters
            A description for the history: e.g. "mean(age)", "discrete Laplace",
            ``{"bounds": [0, 120]}``.

        Raises
        ------
        BudgetExceededError
            Before the block runs, when the release would exceed the budget.
        """
        if not isinstance(loss, PrivacyLoss):
            raise ParameterError(f"loss must be a PrivacyLoss; got {type(loss).__name__}")
        params = json.dumps(parameters or {}, default=str, sort_keys=True)
        with self._writer():
            with self._errors():
                self._conn.execute("BEGIN IMMEDIATE")
            try:
                with self._errors():
                    after, epsilon = self._admit(name, loss)
                pending = PendingRelease(
                    dataset=name,
                    loss=loss,
                    epsilon_spent_after=after,
                    epsilon_remaining_after=max(0.0, epsilon - after),
                )
                yield pending
                event = json.dumps(dict(loss.event)) if loss.event is not None else None
                result = json.dumps(pending.result, default=str) if pending.result else None
                with self._errors():
                    cursor = self._conn.execute(
                        "INSERT INTO releases(dataset, created, what, mechanism, parameters, "
                        "epsilon, delta, rho, event, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            name,
                            _now(),
                            what,
                            mechanism,
                            params,
                            loss.epsilon,
                            loss.delta,
                            loss.rho,
                            event,
                            result,
                        ),
                    )
                    self._conn.execute("COMMIT")
                pending.id = cursor.lastrowid
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
