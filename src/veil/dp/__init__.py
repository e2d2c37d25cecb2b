"""Differential privacy: mechanisms, table queries, local DP, and privacy accounting.

Release statistics of a sensitive table with a guarantee (Dwork et al. 2006),
every release charged to the dataset's budget in the ledger (:mod:`veil.ledger`)::

    from veil.ledger import Ledger
    import veil.dp as vdp

    ledger = Ledger("veil-ledger.db", create=True)
    ledger.add_dataset("patients", epsilon=1.0, delta=1e-6)
    r = vdp.mean("patients.csv", "age", bounds=(0, 120), epsilon=0.5,
                 dataset="patients", ledger=ledger)
    r.value, r.ci_low[0], r.ci_high[0]     # one interval per released value

Noise comes from OpenDP's exact samplers; randomized response from the
operating system's secure source. No function has a default epsilon.
"""

from __future__ import annotations

from typing import Any

from veil.dp.mechanisms import (
    DiscreteGaussianMechanism,
    DiscreteLaplaceMechanism,
    ExponentialMechanism,
    GaussianMechanism,
    LaplaceMechanism,
    Mechanism,
    ReportNoisyMax,
)
from veil.dp.queries import Query
from veil.dp.randomized_response import FrequencyEstimate, RandomizedResponse
from veil.dp.release import MECHANISMS, release
from veil.dp.results import Release
from veil.privacy import Composition, PrivacyLoss, compose

__all__ = [
    "MECHANISMS",
    "Composition",
    "DiscreteGaussianMechanism",
    "DiscreteLaplaceMechanism",
    "ExponentialMechanism",
    "FrequencyEstimate",
    "GaussianMechanism",
    "LaplaceMechanism",
    "Mechanism",
    "PrivacyLoss",
    "Query",
    "RandomizedResponse",
    "Release",
    "ReportNoisyMax",
    "compose",
    "count",
    "histogram",
    "mean",
    "median",
    "quantile",
    "release",
    "sum",
    "variance",
]


def count(data: Any, *, epsilon: float, by: Any = (), **kwargs: Any) -> Release:
    """DP number of rows (per group of ``by`` when given). See :func:`release`."""
    return release(data, Query("count", by=_tuple(by)), epsilon=epsilon, **kwargs)


def sum(
    data: Any, column: str, *, bounds: Any, epsilon: float, by: Any = (), **kwargs: Any
) -> Release:
    """DP sum of ``column`` clamped to ``bounds``. See :func:`release`."""
    query = Query("sum", column, bounds=bounds, by=_tuple(by))
    return release(data, query, epsilon=epsilon, **kwargs)


def mean(
    data: Any, column: str, *, bounds: Any, epsilon: float, by: Any = (), **kwargs: Any
) -> Release:
    """DP mean of ``column`` clamped to ``bounds`` (noisy sum / noisy count)."""
    query = Query("mean", column, bounds=bounds, by=_tuple(by))
    return release(data, query, epsilon=epsilon, **kwargs)


def variance(data: Any, column: str, *, bounds: Any, epsilon: float, **kwargs: Any) -> Release:
    """DP variance of ``column`` clamped to ``bounds``."""
    return release(data, Query("variance", column, bounds=bounds), epsilon=epsilon, **kwargs)


def quantile(
    data: Any, column: str, q: float, *, bounds: Any, epsilon: float, **kwargs: Any
) -> Release:
    """DP ``q``-quantile of ``column`` by the exponential mechanism over a grid in ``bounds``."""
    return release(data, Query("quantile", column, bounds=bounds, q=q), epsilon=epsilon, **kwargs)


def median(data: Any, column: str, *, bounds: Any, epsilon: float, **kwargs: Any) -> Release:
    """DP median of ``column``: :func:`quantile` with q = 0.5."""
    return quantile(data, column, 0.5, bounds=bounds, epsilon=epsilon, **kwargs)


def histogram(
    data: Any,
    column: str,
    *,
    epsilon: float,
    bounds: Any = None,
    bins: int | None = None,
    categories: Any = None,
    **kwargs: Any,
) -> Release:
    """DP counts per bin (numeric: ``bins`` over ``bounds``) or per category.

    Without ``bins`` or ``categories`` the categories are selected privately,
    which needs ``delta`` > 0.
    """
    query = Query(
        "histogram",
        column,
        bounds=bounds,
        bins=bins,
        categories=tuple(categories) if categories is not None else None,
    )
    return release(data, query, epsilon=epsilon, **kwargs)


def _tuple(by: Any) -> tuple[str, ...]:
    if isinstance(by, str):
        return (by,)
    return tuple(by)
