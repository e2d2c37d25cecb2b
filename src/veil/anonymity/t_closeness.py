"""t-closeness with the Earth Mover's Distance (Li, Li & Venkatasubramanian 2007)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from veil.anonymity.classes import ClassTable, SensitiveView, build_class_table

__all__ = ["t_closeness"]

_NEAR = 1e-8  # relative band around the maximum that is recomputed exactly


def _ordered_emd(view: SensitiveView) -> np.ndarray:
    """EMD per class under the ordered distance |i - j| / (m - 1), without dense vectors.

    EMD = (1/(m-1)) * sum_i |Q(i) - P(i)|, Q and P the cumulative class and
    table distributions over the m sorted values. Between two values present
    in a class Q is constant, so each stretch sums in O(1) from prefix sums of
    P, split where P crosses Q (P increases).
    """
    m = len(view.totals)
    if m == 1 or not view.n_classes:
        return np.zeros(view.n_classes)
    cum_p = np.cumsum(view.totals / view.n_rows)
    prefix = np.concatenate([[0.0], np.cumsum(cum_p)])  # prefix[i] = sum_{j<i} P(j)
    value = view.value  # sorted by class, then value
    share = view.share
    level = np.cumsum(share)  # running Q, reset per class below
    level -= np.repeat(level[view.starts] - share[view.starts], view.distinct)
    first = np.zeros(len(value), dtype=bool)
    first[view.starts] = True
    last = np.zeros(len(value), dtype=bool)
    last[np.append(view.starts[1:], len(value)) - 1] = True
    start = value
    stop = np.where(last, m, np.roll(value, -1))
    cross = np.clip(np.searchsorted(cum_p, level, side="right"), start, stop)
    stretch = (
        level * (cross - start)
        - (prefix[cross] - prefix[start])
        + (prefix[stop] - prefix[cross])
        - level * (stop - cross)
    )
    total = np.add.reduceat(stretch, view.starts) + prefix[value[view.starts]]
    return total / (m - 1)


def _equal_emd(view: SensitiveView) -> np.ndarray:
    """EMD per class under the equal distance: half the L1 distance of the distributions."""
    if not view.n_classes:
        return np.zeros(0)
    p = view.table_share
    share = view.share
    present = np.add.reduceat(np.abs(share - p[view.value]), view.starts)
    absent = 1.0 - np.add.reduceat(p[view.value], view.starts)
    return 0.5 * (present + np.maximum(absent, 0.0))


def _lone_emd(view: SensitiveView) -> np.ndarray:
    """EMD of a single-record class holding each value: the distance of a point mass.

    Ordered: the class's cumulative distribution steps from 0 to 1 at the
    value's rank v, so EMD = (sum_{i<v} P(i) + sum_{i>=v} (1 - P(i))) / (m - 1).
    Equal: half of (1 - p_v) + (1 - p_v).
    """
    m = len(view.totals)
    if m == 1:
        return np.zeros(1)
    if not view.ordered:
        return 1.0 - view.table_share
    prefix = np.concatenate([[0.0], np.cumsum(np.cumsum(view.totals / view.n_rows))])
    v = np.arange(m)
    return (2 * prefix[v] + (m - v) - prefix[m]) / (m - 1)


def _exact_emd(view: SensitiveView, values: np.ndarray, counts: np.ndarray, size: int) -> float:
    # pyCANON's arithmetic on dense vectors in sorted-value order, summed in sequence.
    m = len(view.totals)
    q = np.zeros(m)
    q[values] = counts / size
    r = q - view.totals / view.n_rows
    if view.ordered:
        if m == 1:
            return 0.0
        return float(1 / (m - 1) * np.cumsum(np.abs(np.cumsum(r)))[-1])
    return float(0.5 * np.cumsum(np.abs(r))[-1])


def t_of(table: ClassTable, *, others_as_quasi: bool = False) -> float:
    """Largest EMD between a class's and the table's sensitive distribution."""
    worst = 0.0
    for view in table.views(others_as_quasi=others_as_quasi):
        fast = _ordered_emd(view) if view.ordered else _equal_emd(view)
        lone = view.lone_values()
        fast_lone = _lone_emd(view)[lone]
        top = max(float(fast.max()) if fast.size else 0.0, float(fast_lone.max(initial=0.0)))
        near = top - _NEAR * max(1.0, top)
        for c in view.distinct_patterns(np.flatnonzero(fast >= near), with_values=True):
            values, counts = view.class_rows(c)
            worst = max(worst, _exact_emd(view, values, counts, int(view.sizes[c])))
        one = np.ones(1, dtype=np.int64)
        for v in lone[fast_lone >= near]:
            worst = max(worst, _exact_emd(view, np.array([v]), one, 1))
    return worst


def t_closeness(
    data: Any,
    quasi: str | Sequence[str],
    sensitive: str | Sequence[str],
    *,
    others_as_quasi: bool = False,
) -> float:
    """The t for which ``data`` is t-close.

    The distribution of each sensitive attribute inside every equivalence
    class is within Earth Mover's Distance t of its distribution in the whole
    table (Li et al. 2007). Prevents skewness and similarity attacks.

    Numeric, boolean and date/time attributes use the ordered distance
    (values ranked; neighbours are 1/(m-1) apart); strings and categoricals
    the equal distance (half the L1 distance). This is pyCANON's choice, which
    rejects date columns: veil ranks them like numbers. With one distinct
    value the distance is 0.

    Parameters
    ----------
    data
        A path, or a pandas, polars or pyarrow table.
    quasi, sensitive
        Column names; with several sensitive attributes the worst one counts.
    others_as_quasi
        Assess each sensitive attribute with the others added to the
        quasi-identifiers (pyCANON's ``gen=False``).
    """
    return t_of(build_class_table(data, quasi, sensitive), others_as_quasi=others_as_quasi)
