"""Fidelity measures: marginal total variation distance and pairwise associations.

Real and synthetic columns are coded the same way (numbers in equal-width bins
over the real range, other values by the real categories), then compared by
the total variation distance of their k-way marginals (half the L1 distance
of the two distributions) and by their association matrices: Pearson's
correlation between two numeric columns, Cramér's V (Cramér 1946) otherwise.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

__all__ = ["MarginalCoder", "associations", "cramers_v", "tvd"]


class MarginalCoder:
    """Common discretization of real and synthetic columns for marginals (non-private).

    Numbers: ``bins`` equal-width bins over the real training range;
    other values: their categories in the real table, unseen ones in one code.
    Missing values get their own code.
    """

    def __init__(self, real: pl.DataFrame, bins: int) -> None:
        self.specs: dict[str, Any] = {}
        for name in real.columns:
            s = real.get_column(name)
            if s.dtype.is_numeric():
                x = s.cast(pl.Float64).drop_nulls().to_numpy()
                x = x[np.isfinite(x)]
                lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 1.0)
                self.specs[name] = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
            else:
                cats = s.drop_nulls().cast(pl.String).unique().sort().to_list()
                self.specs[name] = {c: i for i, c in enumerate(cats)}

    def size(self, name: str) -> int:
        spec = self.specs[name]
        return (len(spec) - 1 if isinstance(spec, np.ndarray) else len(spec)) + 2

    def codes(self, frame: pl.DataFrame, name: str) -> np.ndarray:
        spec, s = self.specs[name], frame.get_column(name)
        size = self.size(name)
        if isinstance(spec, np.ndarray):
            x = s.cast(pl.Float64, strict=False).to_numpy()
            bad = ~np.isfinite(x)
            c = np.clip(
                np.searchsorted(spec, np.where(bad, spec[0], x), side="right") - 1, 0, len(spec) - 2
            )
            c[bad] = size - 1
            return c.astype(np.int64)
        values = s.cast(pl.String).to_list()
        return np.array(
            [size - 1 if v is None else spec.get(v, size - 2) for v in values], dtype=np.int64
        )


def tvd(
    a: dict[str, np.ndarray], b: dict[str, np.ndarray], cols: Sequence[str], sizes: dict[str, int]
) -> float:
    """Total variation distance of the marginals on ``cols`` of two coded tables: 0 to 1."""
    shape = tuple(sizes[c] for c in cols)
    ka = np.ravel_multi_index(tuple(a[c] for c in cols), shape)
    kb = np.ravel_multi_index(tuple(b[c] for c in cols), shape)
    n = int(np.prod(shape))
    pa = np.bincount(ka, minlength=n) / ka.size
    pb = np.bincount(kb, minlength=n) / kb.size
    return float(0.5 * np.abs(pa - pb).sum())


def associations(
    codes: dict[str, np.ndarray], frame: pl.DataFrame, numeric: set[str]
) -> np.ndarray:
    """Pearson between two numeric columns, Cramér's V (on the codes) for any other pair."""
    names = list(codes)
    out = np.eye(len(names))
    for (i, a), (j, b) in itertools.combinations(enumerate(names), 2):
        if a in numeric and b in numeric:
            x = frame.get_column(a).cast(pl.Float64).to_numpy()
            y = frame.get_column(b).cast(pl.Float64).to_numpy()
            ok = np.isfinite(x) & np.isfinite(y)
            v = (
                float(np.corrcoef(x[ok], y[ok])[0, 1])
                if ok.sum() > 2 and x[ok].std() > 0 and y[ok].std() > 0
                else 0.0
            )
        else:
            v = cramers_v(codes[a], codes[b])
        out[i, j] = out[j, i] = v
    return out


def cramers_v(a: np.ndarray, b: np.ndarray) -> float:
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    table = np.zeros((ia.max() + 1, ib.max() + 1))
    np.add.at(table, (ia, ib), 1)
    k = min(table.shape) - 1
    if k == 0:
        return 0.0
    n = table.sum()
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / n
    chi2 = float(((table - expected) ** 2 / np.where(expected > 0, expected, 1)).sum())
    return float(np.sqrt(chi2 / (n * k)))
