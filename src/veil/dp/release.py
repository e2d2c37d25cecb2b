"""Release a statistic of a table with differential privacy, through the ledger.

:func:`release` is the front door: it checks the query and the table, plans the
mechanisms (their privacy loss and error are known before anything runs),
computes the exact aggregates, then in one ledger transaction checks the
budget, draws the noise and records the release.

Budget split: a statistic built from several noisy aggregates (a mean is a
noisy sum over a noisy count) gives each an equal share of epsilon (of rho for
the Gaussian mechanism); composition of the shares is the release's loss.
"""

from __future__ import annotations

from typing import Any

from veil.dp import queries as qs
from veil.dp.planning import Budget, plan_release
from veil.dp.queries import Query
from veil.dp.results import Release
from veil.errors import ParameterError
from veil.io import to_polars
from veil.ledger import as_ledger
from veil.privacy import PrivacyLoss, check_delta, check_epsilon, then, zcdp_for_epsilon
from veil.privacy import zcdp_to_epsilon as _to_eps

__all__ = ["MECHANISMS", "release"]

MECHANISMS = ("laplace", "gaussian")


def _total_loss(parts: list[PrivacyLoss], budget: Budget) -> PrivacyLoss:
    loss = then(*parts)
    if budget.mechanism == "gaussian" and loss.rho is not None and loss.epsilon is None:
        return PrivacyLoss.zcdp(
            loss.rho, epsilon=_to_eps(loss.rho, budget.delta), delta=budget.delta, event=loss.event
        )
    return loss


def release(
    data: Any,
    query: Query,
    *,
    epsilon: float,
    delta: float = 0.0,
    dataset: str,
    ledger: Any,
    mechanism: str = "laplace",
    privacy_unit: str | None = None,
    max_contributions: int | None = None,
    alpha: float = 0.05,
    spender: str | None = None,
) -> Release:
    """Release ``query`` on ``data`` with (epsilon, delta)-DP, recorded in ``ledger``.

    Parameters
    ----------
    data
        A path, pandas, polars (eager or lazy) or pyarrow table.
    query
        What to release (:class:`~veil.dp.queries.Query`).
    epsilon, delta
        The privacy loss this release may spend (no default epsilon: choose it).
        ``delta`` must be > 0 for the Gaussian mechanism and for group-by or
        categorical histograms whose keys are unknown in advance.
    dataset
        The dataset's name in the ledger, whose budget is charged.
    ledger
        A :class:`~veil.ledger.Ledger` or the path of a ledger file.
    mechanism
        "laplace" (pure epsilon-DP, discrete Laplace noise) or "gaussian"
        (zCDP, discrete Gaussian noise; better for many releases).
    privacy_unit, max_contributions
        When one person may own several rows: the person id column and the
        number of their rows kept (the first ones). Without ``privacy_unit``
        each row is one person.
    alpha
        1 - confidence level of the stated intervals.
    spender
        Who spends (a scientist, a federated run): the release is also checked
        against that spender's own budget in the ledger, when it has one.

    Returns
    -------
    Release

    Raises
    ------
    ParameterError, ColumnError, DataError
        Bad parameters or data; nothing is recorded.
    BudgetExceededError
        The release would exceed the dataset's budget; no noise is drawn.
    """
    epsilon = check_epsilon(epsilon)
    delta = check_delta(delta)
    if not 0.0 < float(alpha) < 1.0:
        raise ParameterError(f"alpha must be in (0, 1), e.g. 0.05; got {alpha!r}")
    if mechanism not in MECHANISMS:
        raise ParameterError(f"mechanism must be one of {MECHANISMS}; got {mechanism!r}")
    if mechanism == "gaussian" and delta == 0.0:
        raise ParameterError("the Gaussian mechanism needs delta > 0 (e.g. --delta 1e-7)")
    if query.partition_selection and delta == 0.0:
        raise ParameterError(
            f"{query.label()} has keys unknown in advance: choosing them privately needs "
            "delta > 0 (e.g. --delta 1e-7), or give the categories"
        )
    if query.partition_selection and mechanism != "laplace":
        raise ParameterError("keys unknown in advance are selected with --mechanism laplace")
    if privacy_unit is not None and max_contributions is None:
        raise ParameterError(
            f"with privacy unit {privacy_unit!r}, give max_contributions: the number of rows "
            "kept per person (--max-contributions)"
        )
    k = 1 if max_contributions is None else int(max_contributions)
    if k < 1 or (k != max_contributions and max_contributions is not None):
        raise ParameterError(f"max_contributions must be a positive integer; got {k!r}")
    rho = zcdp_for_epsilon(epsilon, delta) if mechanism == "gaussian" else None
    budget = Budget(mechanism, epsilon, delta, rho)

    frame, _ = to_polars(data, lazy_files=True)
    table = qs.prepare(frame, query, privacy_unit)
    table = qs.bound_contributions(table, privacy_unit, k)

    book, own = as_ledger(ledger)
    try:
        plan = plan_release(table, query, budget, k, float(alpha))
        loss = _total_loss(plan.losses, budget)
        parameters = {
            "bounds": list(query.bounds) if query.bounds else None,
            "q": query.q,
            "bins": query.bins,
            "categories": list(query.categories) if query.categories else None,
            "by": list(query.by),
            "privacy_unit": privacy_unit,
            "max_contributions": k,
            "requested_epsilon": epsilon,
            "requested_delta": delta,
        }
        with book.release(
            dataset,
            loss,
            what=query.label(),
            mechanism=plan.mechanism,
            parameters=parameters,
            spender=spender,
        ) as pending:
            values, lows, highs, labels = plan.run()
            pending.result = {"labels": labels, "values": values}
        return Release(
            dataset=dataset,
            what=query.label(),
            statistic=query.statistic,
            values=values,
            ci_low=lows,
            ci_high=highs,
            alpha=float(alpha),
            loss=loss,
            mechanism=plan.mechanism,
            labels=labels,
            column=query.column,
            parameters=parameters,
            noise=plan.noise,
            release_id=pending.id,
            ledger=str(book.path),
            epsilon_remaining=pending.epsilon_remaining_after,
        )
    finally:
        if own:
            book.close()
