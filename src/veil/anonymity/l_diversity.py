"""Distinct, entropy and recursive (c, l)-diversity (Machanavajjhala et al. 2007)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from veil.anonymity.classes import ClassTable, SensitiveView, build_class_table

__all__ = ["entropy_l_diversity", "l_diversity", "recursive_c_l_diversity"]

# Classes whose fast entropy lies this close to the minimum are recomputed with
# pyCANON's exact arithmetic, so that floor(exp(H)) agrees to the last bit
# (exp(ln 2) may land just below 2).
_NEAR = 1e-9


def l_of(table: ClassTable, *, others_as_quasi: bool = False) -> int:
    """Fewest distinct sensitive values in any class, over every sensitive attribute."""
    views = table.views(others_as_quasi=others_as_quasi)
    if any(v.n_lone for v in views):
        return 1
    return int(min(v.distinct.min() for v in views))


def _class_entropy(view: SensitiveView) -> np.ndarray:
    """Entropy of each shared class (single-record classes have entropy exactly 0)."""
    if not view.n_classes:
        return np.zeros(0)
    share = view.share
    return -np.add.reduceat(share * np.log(share), view.starts)


def _exact_entropy(view: SensitiveView, c: int) -> float:
    # pyCANON: p listed in sorted-value order, then -np.sum(p * np.log(p)).
    _, counts = view.class_rows(c)
    size = int(view.sizes[c])
    p = [int(n) / size for n in counts]
    return float(-np.sum(p * np.log(p)))


def entropy_l_of(table: ClassTable, *, others_as_quasi: bool = False) -> int:
    """floor(exp(H_min)), H_min the smallest class entropy of any sensitive attribute."""
    views = table.views(others_as_quasi=others_as_quasi)
    fast = [_class_entropy(v) for v in views]
    lone = any(v.n_lone for v in views)
    low = min([float(h.min()) for h in fast if h.size] + ([0.0] if lone else []))
    exact: list[float] = [0.0] if lone else []  # one record: p = [1.0], entropy exactly 0
    for view, h in zip(views, fast, strict=True):
        near = h <= low + _NEAR * max(1.0, abs(low))
        if (near & (view.distinct == 1)).any():
            exact.append(0.0)  # one value: p = [1.0], entropy exactly 0
        candidates = np.flatnonzero(near & (view.distinct > 1))
        exact += [
            _exact_entropy(view, c) for c in view.distinct_patterns(candidates, with_values=False)
        ]
    return int(np.min(np.exp(1) ** np.array(exact)))


def recursive_c_l_of(
    table: ClassTable, *, others_as_quasi: bool = False
) -> tuple[float | int, int]:
    """pyCANON's recursive (c, l): l from the quasi-identifiers alone, c per class as below."""
    ell = l_of(table)
    if ell <= 1:
        return math.nan, ell
    worst: float = 0.0
    for view in table.views(others_as_quasi=others_as_quasi):
        if view.n_lone:
            # A record alone in its class (possible here only with others_as_quasi):
            # after its l - 1 >= 1 most frequent values nothing is left, so c = 1/0 + 1.
            return math.inf, ell
        cls = view.row_class
        # Counts ascending inside each class, as pyCANON's np.sort gives them.
        order = np.lexsort((view.count, cls))
        counts, cls = view.count[order], cls[order]
        rank = np.arange(len(counts)) - view.starts[cls]
        smallest = counts[view.starts]
        skipped = np.bincount(
            cls, weights=np.where(rank < ell - 1, counts, 0), minlength=len(view.sizes)
        )
        rest = view.sizes - skipped.astype(np.int64)
        with np.errstate(divide="ignore"):
            c = np.floor(smallest / rest + 1)
        worst = max(worst, float(c.max()))
    return (int(worst) if math.isfinite(worst) else worst), ell


def l_diversity(
    data: Any,
    quasi: str | Sequence[str],
    sensitive: str | Sequence[str],
    *,
    others_as_quasi: bool = False,
) -> int:
    """The l for which ``data`` is (distinct) l-diverse.

    Each equivalence class holds at least l distinct values of each sensitive
    attribute (Machanavajjhala et al. 2007). Prevents homogeneity and
    background-knowledge attacks.

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
    return l_of(build_class_table(data, quasi, sensitive), others_as_quasi=others_as_quasi)


def entropy_l_diversity(
    data: Any,
    quasi: str | Sequence[str],
    sensitive: str | Sequence[str],
    *,
    others_as_quasi: bool = False,
) -> int:
    """The l for which ``data`` is entropy l-diverse, floored to a whole number.

    Each class's sensitive-value entropy ``-sum(p log p)`` is at least
    ``log(l)`` (Machanavajjhala et al. 2007); the result is
    ``floor(exp(min entropy))``, pyCANON's integer. Prevents homogeneity and
    background-knowledge attacks better than distinct l-diversity, because a
    class dominated by one value has low entropy.
    """
    table = build_class_table(data, quasi, sensitive)
    return entropy_l_of(table, others_as_quasi=others_as_quasi)


def recursive_c_l_diversity(
    data: Any,
    quasi: str | Sequence[str],
    sensitive: str | Sequence[str],
    *,
    others_as_quasi: bool = False,
) -> tuple[float | int, int]:
    """The (c, l) of recursive (c, l)-diversity, computed as pyCANON computes it.

    l is the distinct l-diversity over the quasi-identifiers alone. When l > 1,
    each class's counts are sorted ascending, r_1 <= ... <= r_m, and its c is
    ``floor(r_1 / (r_l + ... + r_m) + 1)``; the table's c is the largest.
    When l == 1, c is undefined and returned as NaN. With ``others_as_quasi``
    a finer class may hold fewer than l values; its c is then infinite (pyCANON
    raises an error there). Recursive (c, l)-diversity itself is due to
    Machanavajjhala et al. 2007; the formula above is pyCANON's, kept so the
    two tools agree.

    Returns
    -------
    tuple
        ``(c, l)``: c an int (NaN when l == 1, inf as above), l an int.
    """
    table = build_class_table(data, quasi, sensitive)
    return recursive_c_l_of(table, others_as_quasi=others_as_quasi)
