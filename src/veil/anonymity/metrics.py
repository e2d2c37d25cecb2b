"""pyCANON's utility and disclosure metrics, computed from the class table.

``original`` is the table before anonymization when rows were suppressed;
without it the table is compared with itself (nothing suppressed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from veil.anonymity.classes import ClassTable, build_class_table
from veil.errors import ParameterError
from veil.io import read_table

__all__ = [
    "average_class_size",
    "average_reidentification_risk",
    "classification_metric",
    "discernibility",
    "max_reidentification_risk",
    "sensitive_entropy",
]


def _original_rows(original: Any, n_rows: int) -> int:
    if original is None:
        return n_rows
    count = read_table(original).height
    if count < n_rows:
        raise ParameterError(
            f"the original table has {count} rows, fewer than the {n_rows} of the anonymized "
            "one; pass the table before anonymization as original="
        )
    return count


def average_class_size(data: Any, quasi: str | Sequence[str], *, original: Any = None) -> float:
    """Normalised average equivalence-class size, ``N / (classes * k)`` (LeFevre et al. 2006).

    1 is ideal: classes no larger than k needs. ``N`` is the rows of ``original``
    when given (pyCANON's ``sup=False``), else of ``data``.
    """
    table = build_class_table(data, quasi, need_sensitive=False)
    sizes = table.class_sizes()
    return _original_rows(original, table.n_rows) / (len(sizes) * int(sizes.min()))


def classification_metric_of(table: ClassTable, attribute: str, original_rows: int) -> float:
    """Share of records whose class's majority value differs from theirs, plus suppressed ones."""
    view = table.view(attribute)
    if not view.n_classes:  # every record alone in its class, and its class's majority
        return float((original_rows - table.n_rows) / original_rows)
    top = np.maximum.reduceat(view.count, view.starts)
    # pyCANON leaves out every count equal to the class maximum (ties included).
    penalised = np.add.reduceat(
        np.where(view.count != top[view.row_class], view.count, 0), view.starts
    )
    return float((original_rows - table.n_rows + int(penalised.sum())) / original_rows)


def classification_metric(
    data: Any, quasi: str | Sequence[str], sensitive: str, *, original: Any = None
) -> float:
    """Classification metric (Iyengar 2002): the penalty of using the class majority as label.

    Each record not of its class's most frequent ``sensitive`` value costs 1,
    as does each suppressed record; divided by the original row count.
    """
    if not isinstance(sensitive, str):
        raise ParameterError("classification_metric takes one sensitive (label) column name")
    table = build_class_table(data, quasi, sensitive)
    return classification_metric_of(table, sensitive, _original_rows(original, table.n_rows))


def discernibility(data: Any, quasi: str | Sequence[str], *, original: Any = None) -> float:
    """Discernibility metric (Bayardo & Agrawal 2005): sum of squared class sizes.

    Each suppressed record costs the size of the original table.
    """
    table = build_class_table(data, quasi, need_sensitive=False)
    sizes = table.class_sizes()
    n_original = _original_rows(original, table.n_rows)
    return float(int((sizes**2).sum()) + (n_original - table.n_rows) * n_original)


def average_reidentification_risk(data: Any, quasi: str | Sequence[str]) -> float:
    """Mean over classes of 1 / class size (pyCANON's ``average_rir``)."""
    sizes = build_class_table(data, quasi, need_sensitive=False).class_sizes()
    return float(np.mean(1 / sizes))


def max_reidentification_risk(data: Any, quasi: str | Sequence[str]) -> float:
    """1 / k: the chance of re-identifying a record of the smallest class."""
    sizes = build_class_table(data, quasi, need_sensitive=False).class_sizes()
    return 1 / int(sizes.min())


def entropy_of_counts(counts: np.ndarray) -> float:
    """Shannon entropy (natural log) of a distribution given by counts."""
    p = counts / counts.sum()
    return float(-np.sum(p * np.log(p))) if len(p) else math.nan


def sensitive_entropy(data: Any, sensitive: str) -> float:
    """Shannon entropy, in nats, of a sensitive attribute over the whole table."""
    if not isinstance(sensitive, str):
        raise ParameterError("sensitive_entropy takes one column name")
    table = build_class_table(data, [sensitive], need_sensitive=False)
    return entropy_of_counts(table.class_sizes())
