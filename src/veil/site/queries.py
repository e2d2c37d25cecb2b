"""DP queries of a scientist, answered on the real data and charged to their budget.

A query names a statistic of :mod:`veil.dp` (count, sum, mean, variance,
quantile, histogram, grouped count/sum/mean), its column, public clamping
bounds and the epsilon to spend. It is checked against the dataset's roles
(identifier columns are never queried), then released by
:func:`veil.dp.release` with the scientist as the ledger's spender: the
ledger admits it against the scientist's budget and the dataset's total in one
transaction before any noise is drawn (Dwork et al. 2006), so concurrent
queries never overspend. Only the noisy values and their intervals leave.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from veil.dp import Query, release
from veil.errors import ColumnError
from veil.site.auth import AuthError, Principal
from veil.site.datasite import DataSite

__all__ = ["QueryRequest", "answer_query"]


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
    epsilon: float = Field(gt=0.0, le=100.0)
    delta: float = Field(default=0.0, ge=0.0, lt=1.0)
    mechanism: Literal["laplace", "gaussian"] = "laplace"
    alpha: float = Field(default=0.05, ge=1e-12, le=0.5)


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
    if spender is not None and spender not in site.ledger.spenders(dataset):
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
    result = release(
        site.frame(dataset),
        query,
        epsilon=request.epsilon,
        delta=request.delta,
        dataset=dataset,
        ledger=site.ledger,
        mechanism=request.mechanism,
        alpha=request.alpha,
        spender=spender,
    )
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
