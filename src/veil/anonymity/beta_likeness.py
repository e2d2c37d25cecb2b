"""Basic and enhanced beta-likeness (Cao & Karras 2012)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from veil.anonymity.classes import ClassTable, SensitiveView, build_class_table

__all__ = ["basic_beta_likeness", "enhanced_beta_likeness"]


def _beta(view: SensitiveView) -> float:
    """Largest (q - p) / p over the values present in the view's classes."""
    p = view.table_share
    worst = -np.inf
    if view.n_classes:
        shared = p[view.value]
        worst = float(((view.share - shared) / shared).max())
    if view.n_lone:  # a record alone in its class: q = 1/1
        lone = p[view.lone_values()]
        worst = max(worst, float(((1.0 - lone) / lone).max()))
    return worst


def beta_of(table: ClassTable, *, others_as_quasi: bool = False) -> float:
    """Largest relative gain (q - p) / p of a sensitive value's share inside a class."""
    # Values absent from a class give -1 and never win: some present value has q >= p.
    return max(_beta(view) for view in table.views(others_as_quasi=others_as_quasi))


def enhanced_beta_of(table: ClassTable, *, others_as_quasi: bool = False) -> float:
    """pyCANON's enhanced beta: per attribute, max over values of min(beta, -ln p)."""
    worst = -np.inf
    for view in table.views(others_as_quasi=others_as_quasi):
        beta = _beta(view)
        worst = max(worst, max(min(beta, float(x)) for x in -np.log(view.table_share)))
    return worst


def basic_beta_likeness(
    data: Any,
    quasi: str | Sequence[str],
    sensitive: str | Sequence[str],
    *,
    others_as_quasi: bool = False,
) -> float:
    """The beta for which ``data`` satisfies basic beta-likeness.

    For every class and sensitive value, the value's share q in the class
    exceeds its share p in the whole table by at most beta, relatively:
    ``(q - p) / p <= beta`` (Cao & Karras 2012). Prevents skewness attacks:
    unlike t-closeness it bounds the gain on rare, most sensitive values.
    """
    return beta_of(build_class_table(data, quasi, sensitive), others_as_quasi=others_as_quasi)


def enhanced_beta_likeness(
    data: Any,
    quasi: str | Sequence[str],
    sensitive: str | Sequence[str],
    *,
    others_as_quasi: bool = False,
) -> float:
    """The beta of enhanced beta-likeness, computed as pyCANON computes it.

    Enhanced beta-likeness caps each value's relative gain at
    ``min(beta, -ln p)`` so that frequent values are not over-constrained
    (Cao & Karras 2012). pyCANON reports ``max over values of min(beta_basic,
    -ln p)`` for each sensitive attribute; veil returns the same number so the
    tools agree.
    """
    table = build_class_table(data, quasi, sensitive)
    return enhanced_beta_of(table, others_as_quasi=others_as_quasi)
