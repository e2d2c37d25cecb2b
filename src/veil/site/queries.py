"""DP queries of a scientist, answered on the real data and charged to their budget.

A query names a statistic of :mod:`veil.dp` (count, sum, mean, variance,
quantile, histogram, grouped count/sum/mean), its column, public clamping
bounds and the epsilon to spend. It is checked against the dataset's roles
(identifier columns are never queried), then released by
:func:`veil.dp.release` with the scientist as the ledger's spender: the
ledger admits it against the scientist's budget and the dataset's total in one
transaction before any noise is drawn (Dwork et al. 2006), so concurrent
queries never overspend. Only the noisy values and their intervals leave.

A query asked again with the same parameters reuses the plan of its first
answer (:class:`AnswerPlans`): the exact aggregates of the unchanging table and
the calibrated mechanisms, which draw fresh noise on every run. Each answer is
still reserved in the ledger and charged in full; only the aggregation over
the rows is not repeated.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal

from opendp.mod import OpenDPException
from pydantic import BaseModel, ConfigDict, Field

from veil.dp import Query, Release, release
from veil.dp.planning import Budget, Plan, plan_release
from veil.dp.queries import prepare
from veil.errors import ColumnError, ParameterError, VeilError
from veil.privacy import PrivacyLoss, zcdp_for_epsilon
from veil.site.auth import AuthError, Principal
from veil.site.datasite import DataSite

__all__ = ["AnswerPlans", "QueryRequest", "answer_query", "is_planned"]


class QueryRequest(BaseModel):
    """A DP query as sent by a scientist (the JSON body of ``POST /datasets/{name}/queries``)."""

    model_config = ConfigDict(extra="forbid")

    statistic: Literal["count", "sum", "mean", "variance", "quantile", "histogram"]
    column: str | None = Field(default=None, max_length=200)
    bounds: tuple[float, float] | None = Field(
        default=None, description="(low, high) clamping bounds, chosen without the data"
    )
    q: float | None = Field(default=None, ge=0.0, le=1.0)
    bins: int | None = Field(default=None, ge=1, le=10_000)
    categories: list[str | int | float] | None = Field(default=None, max_length=10_000)
    by: list[str] = Field(default_factory=list, max_length=8)
    epsilon: float = Field(ge=1e-9, le=100.0)
    delta: float = Field(default=0.0, ge=0.0, lt=1.0)
    mechanism: Literal["laplace", "gaussian"] = "laplace"
    alpha: float = Field(default=0.05, ge=1e-12, le=0.5)


def is_planned(site: DataSite, dataset: str, request: QueryRequest) -> bool:
    """Whether ``request`` was answered before on ``dataset`` (its answer is then quick)."""
    return _plans(site).get((dataset, request.model_dump_json())) is not None


def answer_query(
    site: DataSite, principal: Principal, dataset: str, request: QueryRequest
) -> dict[str, Any]:
    """Release ``request`` on ``dataset`` for ``principal``; return the noisy answer.

    Raises
    ------
    NotFoundError
        Unknown dataset.
    AuthError
        403: the scientist has no budget on the dataset.
    ColumnError, ParameterError, DataError
        An identifier or unknown column, missing bounds, a bad parameter; nothing spent.
    BudgetExceededError
        The release would exceed the scientist's or the dataset's budget; no noise drawn.
    """
    record = site.dataset(dataset)
    spender = None if principal.is_owner else principal.name
    if spender is not None and not site.has_budget(dataset, spender):
        raise AuthError(
            403,
            f"{spender!r} has no budget on dataset {dataset!r}; ask the site's owner to grant one",
        )
    roles = {c["name"]: c["role"] for c in record.columns}
    for col in [request.column, *request.by]:
        if col is not None and roles.get(col) == "identifier":
            raise ColumnError(
                f"column {col!r} of {dataset!r} is an identifier: it is never queried"
            )
    if request.bounds is not None and not all(math.isfinite(b) for b in request.bounds):
        raise ColumnError(f"bounds must be finite numbers; got {list(request.bounds)}")
    query = Query(
        request.statistic,
        request.column,
        bounds=request.bounds,
        q=request.q,
        bins=request.bins,
        categories=tuple(request.categories) if request.categories is not None else None,
        by=tuple(request.by),
    )
    try:
        key = (dataset, request.model_dump_json())
        plans = _plans(site)
        cached = plans.get(key)
        if cached is None:
            frame = site.frame(dataset)
            result = release(
                frame,
                query,
                epsilon=request.epsilon,
                delta=request.delta,
                dataset=dataset,
                ledger=site.ledger,
                mechanism=request.mechanism,
                alpha=request.alpha,
                spender=spender,
            )
            plans.put(key, _plan_of(frame, query, request, result))
        else:
            result = cached.answer(site, dataset, spender)
    except VeilError:
        raise
    except (ValueError, OverflowError, ArithmeticError, OpenDPException) as err:
        # Extreme but schema-valid numbers (epsilon near 1e-9 with bounds near 1e308)
        # can defeat a mechanism's calibration; nothing was recorded before it.
        raise ParameterError(
            f"these parameters cannot be calibrated into a mechanism ({type(err).__name__}: "
            f"{' '.join(str(err).split())[:200]}); use a larger epsilon or narrower bounds"
        ) from None
    answer = {
        "dataset": dataset,
        "what": result.what,
        "statistic": result.statistic,
        "labels": result.labels,
        "values": [float(v) for v in result.values],
        "ci_low": [None if v is None else float(v) for v in result.ci_low],
        "ci_high": [None if v is None else float(v) for v in result.ci_high],
        "alpha": result.alpha,
        "epsilon": result.loss.epsilon,
        "delta": result.loss.delta,
        "mechanism": result.mechanism,
        "release_id": result.release_id,
    }
    site.record(
        principal.name,
        "query",
        dataset,
        {
            k: answer[k]
            for k in ("what", "epsilon", "delta", "mechanism", "release_id", "labels", "values")
        },
    )
    return answer


@dataclass(frozen=True)
class _Planned:
    """A query's plan and what its ledger entries record (as its first release did)."""

    plan: Plan
    loss: PrivacyLoss
    mechanism: str
    what: str
    statistic: str
    column: str | None
    parameters: dict[str, Any]
    alpha: float

    def answer(self, site: DataSite, dataset: str, spender: str | None) -> Release:
        """Admit the loss, draw fresh noise, record it finished: one ledger transaction."""
        # Drawing the noise takes well under a millisecond, so the whole cycle is one
        # durable commit (noise still drawn only once the budget admitted the loss).
        with (
            site.write_lock,
            site.ledger.release_at_once(
                dataset,
                self.loss,
                what=self.what,
                mechanism=self.mechanism,
                parameters=self.parameters,
                spender=spender,
            ) as pending,
        ):
            values, lows, highs, labels = self.plan.run()
            pending.result = {"labels": labels, "values": values}
        return Release(
            dataset=dataset,
            what=self.what,
            statistic=self.statistic,
            values=values,
            ci_low=lows,
            ci_high=highs,
            alpha=self.alpha,
            loss=self.loss,
            mechanism=self.mechanism,
            labels=labels,
            column=self.column,
            parameters=self.parameters,
            noise=self.plan.noise,
            release_id=pending.id,
            ledger=str(site.ledger.path),
            epsilon_remaining=pending.epsilon_remaining_after,
        )


def _plan_of(frame: Any, query: Query, request: QueryRequest, result: Release) -> _Planned:
    rho = (
        zcdp_for_epsilon(request.epsilon, request.delta)
        if request.mechanism == "gaussian"
        else None
    )
    budget = Budget(request.mechanism, request.epsilon, request.delta, rho)
    plan = plan_release(prepare(frame, query, None), query, budget, 1, request.alpha)
    return _Planned(
        plan=plan,
        loss=result.loss,
        mechanism=result.mechanism,
        what=result.what,
        statistic=result.statistic,
        column=result.column,
        parameters=result.parameters,
        alpha=result.alpha,
    )


class AnswerPlans:
    """Plans of the queries answered lately, by dataset and exact parameters (LRU).

    Only a query that was released once (so checked by :func:`veil.dp.release`)
    is planned here; datasets never change once registered, so a plan stays valid.
    """

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._plans: OrderedDict[tuple[str, str], _Planned] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> _Planned | None:
        with self._lock:
            found = self._plans.get(key)
            if found is not None:
                self._plans.move_to_end(key)
            return found

    def put(self, key: tuple[str, str], planned: _Planned) -> None:
        with self._lock:
            self._plans[key] = planned
            while len(self._plans) > self.size:
                self._plans.popitem(last=False)


_PLANS_LOCK = threading.Lock()


def _plans(site: DataSite) -> AnswerPlans:
    """The site's own plans (each site its own: two sites may name datasets alike)."""
    plans = getattr(site, "answer_plans", None)
    if plans is None:
        with _PLANS_LOCK:
            plans = getattr(site, "answer_plans", None)
            if plans is None:
                plans = AnswerPlans()
                site.answer_plans = plans  # type: ignore[attr-defined]
    return plans
