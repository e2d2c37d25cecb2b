"""The privacy ledger: one SQLite file of datasets, their budgets and every release.

Every differentially private release in veil (a statistic, a synthetic table,
a trained model, a federated run) is **reserved, computed, then finished**:

1. :meth:`Ledger.reserve` checks, in one short write transaction, that the
   release fits in what is left of the dataset's budget (and of its spender's,
   when one is named), refuses it before any noise is drawn, and commits an
   entry in state *reserved* that counts as spent from then on;
2. the caller computes, holding no lock: a count takes a millisecond, a DP-SGD
   run an hour, and neither blocks other releases;
3. :meth:`Ledger.finish` records the result (state *finished*), or
   :meth:`Ledger.cancel` marks the entry *cancelled* when nothing was
   published, which gives its budget back and says so in the history.

A process killed between reserve and finish leaves its entry reserved, so it
still counts: conservative, since its noise may have been drawn and seen.
SQLite's journal (WAL, ``synchronous=FULL``) makes every commit durable;
concurrent writers queue on an OS lock and never overspend.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import os
import socket
from collections.abc import Iterator, Sequence
from typing import Any

from veil.errors import BudgetExceededError, ParameterError
from veil.ledger.records import BudgetStatus, LedgerHistory, ReleaseRecord, Reservation
from veil.ledger.schema import SCHEMA_VERSION
from veil.ledger.storage import DEFAULT_LEDGER, LedgerFile
from veil.privacy import PrivacyLoss, check_delta, check_epsilon, compose
from veil.privacy.tally import LossTally

__all__ = ["DEFAULT_LEDGER", "SCHEMA_VERSION", "Ledger", "PendingRelease", "as_ledger"]

# Float sums of epsilons may land a few ulps above a budget they exactly fill.
_TOLERANCE = 1e-12
_FAST = ("basic", "zcdp")
_RECORD_COLUMNS = (
    "id, dataset, created, what, mechanism, parameters, epsilon, delta, rho, event, result, "
    "state, spender, finished, note"
)

#: The name ``Ledger.release`` yields under, kept from veil 0.1.
PendingRelease = Reservation


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _check_name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ParameterError(f"{what} must be a non-empty string; got {value!r}")
    return value


def _loss(e: Any, d: Any, r: Any, ev: Any) -> PrivacyLoss:
    return PrivacyLoss(epsilon=e, delta=d, rho=r, event=json.loads(ev) if ev is not None else None)


@functools.lru_cache(maxsize=4096)
def _shared_loss(e: Any, d: Any, r: Any, ev: Any) -> PrivacyLoss:
    """:func:`_loss`, memoized: a ledger repeats the same few losses (``PrivacyLoss`` is frozen)."""
    return _loss(e, d, r, ev)


def _record(row: tuple[Any, ...]) -> ReleaseRecord:
    return ReleaseRecord(
        id=row[0],
        dataset=row[1],
        created=row[2],
        what=row[3],
        mechanism=row[4],
        parameters=json.loads(row[5]),
        loss=_loss(row[6], row[7], row[8], row[9]),
        result=json.loads(row[10]) if row[10] is not None else None,
        state=row[11],
        spender=row[12],
        finished=row[13],
        note=row[14],
    )


class Ledger(LedgerFile):
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
        The file is missing, is not a veil ledger, is corrupt, has a newer
        schema, or has an older one and cannot be upgraded (read-only).
    LedgerBusyError
        The ledger stays locked by another process for longer than ``timeout``.

    Examples
    --------
    >>> ledger = Ledger("veil-ledger.db", create=True)                 # doctest: +SKIP
    >>> ledger.add_dataset("patients", epsilon=1.0, delta=1e-6)        # doctest: +SKIP
    >>> job = ledger.reserve("patients", loss, what="DP-SGD", mechanism="DP-SGD")  # doctest: +SKIP
    >>> ledger.finish(job, {"accuracy": 0.91})                         # doctest: +SKIP
    """

    # -- datasets, spenders and budgets --------------------------------------------

    def add_dataset(
        self, name: str, *, epsilon: float, delta: float, description: str = ""
    ) -> BudgetStatus:
        """Register ``name`` with its total privacy budget (epsilon, delta).

        Raises
        ------
        ParameterError
            The name is empty, the budget is out of range, or the dataset exists already.
        """
        _check_name(name, "dataset name")
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

    def add_spender(self, name: str, spender: str, *, epsilon: float, delta: float) -> BudgetStatus:
        """Give ``spender`` (a scientist, a federated run) its own budget on dataset ``name``.

        The spender's releases are then checked against this budget and, together
        with everyone's, against the dataset's total. A spender without a budget
        of its own is bounded by the dataset's total alone.

        Raises
        ------
        ParameterError
            Unknown dataset, a budget above the dataset's, or one the spender has already.
        """
        _check_name(spender, "spender")
        epsilon = check_epsilon(epsilon)
        delta = check_delta(delta)
        with self._errors(), self._transaction():
            total_eps, total_delta, _ = self._budget_row(name)  # type: ignore[misc]
            if epsilon > total_eps or delta > total_delta:
                raise ParameterError(
                    f"spender {spender!r} cannot get epsilon={_fmt(epsilon)}, "
                    f"delta={_fmt(delta)}: dataset {name!r} has only epsilon="
                    f"{_fmt(total_eps)}, delta={_fmt(total_delta)} in all"
                )
            row = self._spender_row(name, spender)
            if row is not None:
                raise ParameterError(
                    f"spender {spender!r} already has a budget on {name!r} (epsilon="
                    f"{_fmt(row[0])}, delta={_fmt(row[1])}); a budget is never raised in place"
                )
            self._conn.execute(
                "INSERT INTO spenders(dataset, name, epsilon, delta, created) "
                "VALUES (?, ?, ?, ?, ?)",
                (name, spender, epsilon, delta, _now()),
            )
        return self.status(name, spender=spender)

    def datasets(self) -> list[str]:
        """Names of the registered datasets."""
        with self._errors():
            return [r[0] for r in self._conn.execute("SELECT name FROM datasets ORDER BY name")]

    def spenders(self, name: str) -> list[str]:
        """Names of the spenders with a budget of their own on dataset ``name``."""
        with self._errors():
            self._budget_row(name)
            rows = self._conn.execute(
                "SELECT name FROM spenders WHERE dataset = ? ORDER BY name", (name,)
            )
            return [r[0] for r in rows]

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

    def _spender_row(self, name: str, spender: str) -> tuple[Any, ...] | None:
        return self._conn.execute(
            "SELECT epsilon, delta FROM spenders WHERE dataset = ? AND name = ?", (name, spender)
        ).fetchone()

    def _losses(self, name: str, *, events: bool, spender: str | None = None) -> LossTally:
        # The tallies (kept by triggers with every change to releases) hold each distinct
        # counted loss once with its count: composition does not depend on order, and the
        # closed-form accountants compose a tally in the number of distinct losses.
        if events:
            query = "SELECT epsilon, delta, rho, event, n FROM tallies"
        else:
            query = "SELECT epsilon, delta, rho, NULL, SUM(n) FROM tallies"
        query += " WHERE dataset = ? AND spender = ? AND n > 0"
        if not events:
            query += " GROUP BY 1, 2, 3"
        rows = self._conn.execute(query, (name, "" if spender is None else spender)).fetchall()
        return LossTally((_shared_loss(*key), n) for *key, n in rows)

    def _status(
        self,
        name: str,
        losses: Sequence[PrivacyLoss] | None = None,
        spender: str | None = None,
    ) -> BudgetStatus:
        epsilon, delta, description = self._budget_row(name)  # type: ignore[misc]
        if spender is not None:
            own = self._spender_row(name, spender)
            if own is None:
                raise ParameterError(
                    f"spender {spender!r} has no budget on dataset {name!r}; give one with "
                    f"`veil ledger grant {name} {spender} --epsilon E --delta D`"
                )
            epsilon, delta = own
        if losses is None:
            losses = self._losses(name, events=True, spender=spender)
        where = "dataset = ? AND state = 'reserved'" + (" AND spender = ?" if spender else "")
        args = (name, spender) if spender else (name,)
        reserved = self._conn.execute(f"SELECT count(*) FROM releases WHERE {where}", args)
        comp = compose(losses, delta)
        return BudgetStatus(
            dataset=name,
            epsilon=epsilon,
            delta=delta,
            epsilon_spent=comp.epsilon if losses else 0.0,
            releases=len(losses),
            accountant=comp.accountant if losses else "none",
            by_accountant=comp.by_accountant if losses else {},
            ledger=str(self.path),
            description=description,
            reserved=reserved.fetchone()[0],
            spender=spender,
        )

    def status(self, name: str, *, spender: str | None = None) -> BudgetStatus:
        """The budget of ``name`` (or of its ``spender``), what was spent, and what is left."""
        with self._errors():
            return self._status(name, spender=spender)

    def history(self, name: str, *, spender: str | None = None) -> LedgerHistory:
        """Every entry recorded for ``name`` (or by its ``spender``), oldest first."""
        with self._errors():
            self._budget_row(name)
            query = f"SELECT {_RECORD_COLUMNS} FROM releases WHERE dataset = ?"
            args: tuple[Any, ...] = (name,)
            if spender is not None:
                query += " AND spender = ?"
                args = (name, spender)
            records = [_record(r) for r in self._conn.execute(query + " ORDER BY id", args)]
            counted = [rec.loss for rec in records if rec.counts]
            status = self._status(name, counted, spender=spender)
        return LedgerHistory(status=status, records=records)

    # -- reservations --------------------------------------------------------------

    def _refusal(
        self, name: str, loss: PrivacyLoss, budget: tuple[float, float], spender: str | None
    ) -> BudgetExceededError:
        epsilon, delta = budget
        before = self._losses(name, events=delta > 0, spender=spender)
        spent = 0.0
        if before:
            spent = compose(before, delta, accountants=_FAST if delta == 0 else None).epsilon
        left = max(0.0, epsilon - spent)
        asked = (
            f"epsilon={_fmt(loss.epsilon)}, delta={_fmt(loss.delta)}"
            if loss.epsilon is not None
            else f"rho={_fmt(loss.rho or 0.0)}"
        )
        whose = f"spender {spender!r} of dataset {name!r}" if spender else f"dataset {name!r}"
        return BudgetExceededError(
            f"release refused before any noise was drawn: it needs {asked} but {whose} "
            f"has epsilon {_fmt(left)} left of {_fmt(epsilon)} (delta budget {_fmt(delta)}, "
            f"{len(before)} releases so far); ask for less epsilon"
        )

    def _admit_one(
        self, name: str, loss: PrivacyLoss, budget: tuple[float, float], spender: str | None
    ) -> float:
        """Spent epsilon of one budget after ``loss``; raise if it does not fit."""
        epsilon, delta = budget
        limit = epsilon * (1.0 + _TOLERANCE)
        # Closed-form accountants first; dp-accounting's only when they refuse and can
        # do better: with a delta = 0 budget only pure losses fit, and for those basic
        # composition is already tight, so RDP/PLD would be wasted time under the lock.
        before = self._losses(name, events=False, spender=spender)
        after = compose(before.plus(loss), delta, accountants=_FAST).epsilon
        if after > limit and delta > 0:
            full = self._losses(name, events=True, spender=spender)
            after = min(after, compose(full.plus(loss), delta).epsilon)
        if after > limit:
            raise self._refusal(name, loss, budget, spender)
        return min(after, epsilon)

    def _admit(self, name: str, loss: PrivacyLoss, spender: str | None) -> tuple[float, float]:
        """Spent epsilon of the dataset after ``loss``, and its budget; raise if over any."""
        epsilon, delta, _ = self._budget_row(name)  # type: ignore[misc]
        if spender is not None:
            own = self._spender_row(name, spender)
            if own is not None:
                self._admit_one(name, loss, (own[0], own[1]), spender)
        return self._admit_one(name, loss, (epsilon, delta), None), epsilon

    def check(self, name: str, loss: PrivacyLoss, *, spender: str | None = None) -> float:
        """Return the dataset's epsilon left after ``loss``, or raise if it would not fit.

        Writes nothing. Raises :class:`~veil.errors.BudgetExceededError` when the
        release would exceed the dataset's budget or its spender's.
        """
        _check_loss(loss)
        with self._errors():
            after, epsilon = self._admit(name, loss, spender)
        return max(0.0, epsilon - after)

    def reserve(
        self,
        name: str,
        loss: PrivacyLoss,
        *,
        what: str,
        mechanism: str,
        parameters: dict[str, Any] | None = None,
        spender: str | None = None,
    ) -> Reservation:
        """Admit ``loss`` against the budget and record it as reserved (counted from now).

        One short transaction; no lock is held afterwards, so the caller may
        compute for as long as it needs. Finish with :meth:`finish`, or
        :meth:`cancel` if nothing was published. If the process dies first the
        entry stays reserved and keeps counting.

        Parameters
        ----------
        name
            The dataset, registered with :meth:`add_dataset`.
        loss
            The privacy loss of the whole job.
        what, mechanism, parameters
            A description for the history: e.g. "mean(age)", "discrete Laplace",
            ``{"bounds": [0, 120]}``.
        spender
            Who spends (a scientist, a federated run): checked against the
            spender's own budget too, when it has one (:meth:`add_spender`).

        Raises
        ------
        BudgetExceededError
            The release would exceed the dataset's budget or the spender's;
            nothing is recorded and no noise may be drawn.
        LedgerBusyError
            Another process held the ledger longer than ``timeout`` (retryable).
        """
        _check_loss(loss)
        if spender is not None:
            _check_name(spender, "spender")
        params = json.dumps(parameters or {}, default=str, sort_keys=True)
        event = json.dumps(loss.event.to_dict()) if loss.event is not None else None
        owner = f"{socket.gethostname()}:{os.getpid()}"
        with self._errors(), self._transaction():
            after, epsilon = self._admit(name, loss, spender)
            cursor = self._conn.execute(
                "INSERT INTO releases(dataset, created, what, mechanism, parameters, epsilon, "
                "delta, rho, event, state, spender, owner) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'reserved', ?, ?)",
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
                    spender,
                    owner,
                ),
            )
        return Reservation(
            id=int(cursor.lastrowid),  # type: ignore[arg-type]
            dataset=name,
            loss=loss,
            what=what,
            mechanism=mechanism,
            epsilon_spent_after=after,
            epsilon_remaining_after=max(0.0, epsilon - after),
            spender=spender,
        )

    def _close_entry(
        self,
        reservation: Reservation | int,
        state: str,
        result: Any,
        note: str | None,
    ) -> ReleaseRecord:
        rid = reservation.id if isinstance(reservation, Reservation) else reservation
        if not isinstance(rid, int) or isinstance(rid, bool):
            raise ParameterError(f"expected a Reservation or its id; got {reservation!r}")
        payload = json.dumps(result, default=str) if result is not None else None
        with self._errors():
            with self._transaction():
                row = self._conn.execute(
                    "SELECT state, finished, dataset FROM releases WHERE id = ?", (rid,)
                ).fetchone()
                if row is None:
                    raise ParameterError(
                        f"no reservation {rid} in ledger {str(self.path)!r}; reserve first"
                    )
                if row[0] != "reserved":
                    verb = "finish" if state == "finished" else "cancel"
                    raise ParameterError(
                        f"cannot {verb} reservation {rid} of dataset {row[2]!r}: it was "
                        f"already {row[0]} at {row[1]}; an entry is closed once"
                    )
                self._conn.execute(
                    "UPDATE releases SET state = ?, result = ?, finished = ?, note = ? "
                    "WHERE id = ?",
                    (state, payload, _now(), note, rid),
                )
            record = _record(
                self._conn.execute(
                    f"SELECT {_RECORD_COLUMNS} FROM releases WHERE id = ?", (rid,)
                ).fetchone()
            )
        if isinstance(reservation, Reservation):
            reservation.state = state
        return record

    def finish(self, reservation: Reservation | int, result: Any = None) -> ReleaseRecord:
        """Record the result of a reserved release (a JSON-ready value) and close it.

        Raises
        ------
        ParameterError
            No such reservation, or it was already finished or cancelled.
        """
        return self._close_entry(reservation, "finished", result, None)

    def cancel(self, reservation: Reservation | int, *, reason: str) -> ReleaseRecord:
        """Give a reservation's budget back: only when NOTHING of it was published.

        The entry stays in the history as cancelled, with ``reason``. Cancelling
        after any noisy value left the process would understate the spend: in
        doubt, finish instead.

        Raises
        ------
        ParameterError
            No such reservation, it was already finished or cancelled, or no reason.
        """
        _check_name(reason, "the reason for cancelling")
        return self._close_entry(reservation, "cancelled", None, f"nothing published: {reason}")

    @contextlib.contextmanager
    def release(
        self,
        name: str,
        loss: PrivacyLoss,
        *,
        what: str,
        mechanism: str,
        parameters: dict[str, Any] | None = None,
        spender: str | None = None,
    ) -> Iterator[Reservation]:
        """Reserve, let the caller draw noise in the ``with`` block, then finish.

        Set ``result`` on the yielded reservation before the block ends. The
        released value must not leave the block before it ends: if the block
        raises, the reservation is cancelled (nothing was published). If the
        process dies inside the block, the entry stays reserved and counts.

        Raises
        ------
        BudgetExceededError
            Before the block runs, when the release would exceed the budget.
        """
        pending = self.reserve(
            name, loss, what=what, mechanism=mechanism, parameters=parameters, spender=spender
        )
        try:
            yield pending
        except BaseException as err:
            # If even the cancel fails, the entry stays reserved: counted, never lost.
            with contextlib.suppress(Exception):
                self.cancel(pending, reason=f"the computation failed ({type(err).__name__})")
            raise
        self.finish(pending, pending.result)

    @contextlib.contextmanager
    def release_at_once(
        self,
        name: str,
        loss: PrivacyLoss,
        *,
        what: str,
        mechanism: str,
        parameters: dict[str, Any] | None = None,
        spender: str | None = None,
    ) -> Iterator[Reservation]:
        """:meth:`release` in ONE transaction, for a block that takes milliseconds.

        The loss is admitted, the caller draws its noise in the block and sets
        ``result``, and the entry is written as finished, all while the
        ledger's write lock is held: one durable commit instead of two, and the
        noise is still drawn only after the budget admitted it. The released
        value must not leave the block before it ends: if the block raises or
        the commit fails, nothing is recorded, and nothing may be published.
        Other writers wait for the block, so keep long computations in
        :meth:`release`.

        Raises
        ------
        BudgetExceededError
            Before the block runs, when the release would exceed the budget.
        """
        with self._transaction():
            pending = self.reserve(
                name, loss, what=what, mechanism=mechanism, parameters=parameters, spender=spender
            )
            yield pending
            self.finish(pending, pending.result)


def _check_loss(loss: Any) -> None:
    if not isinstance(loss, PrivacyLoss):
        raise ParameterError(f"loss must be a PrivacyLoss; got {type(loss).__name__}")


def as_ledger(
    ledger: Ledger | str | os.PathLike[str], *, create: bool = False, timeout: float = 30.0
) -> tuple[Ledger, bool]:
    """The :class:`Ledger` for ``ledger`` (a ledger or its path), and whether to close it.

    Every job that charges a budget takes a ledger or a path; this is the one
    place that tells them apart (like scikit-learn's ``check_random_state``)::

        book, owned = as_ledger(ledger)
        try:
            ...
        finally:
            if owned:
                book.close()
    """
    if isinstance(ledger, Ledger):
        return ledger, False
    if isinstance(ledger, (str, os.PathLike)):
        return Ledger(ledger, create=create, timeout=timeout), True
    raise ParameterError(
        f"ledger must be a veil.ledger.Ledger or the path of a ledger file; got "
        f"{type(ledger).__name__}"
    )
