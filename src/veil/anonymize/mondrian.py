"""Mondrian multidimensional partitioning (LeFevre, DeWitt and Ramakrishnan 2006).

The table is cut recursively: each partition is split on the quasi-identifier
with the widest normalized range, at the median, as long as both halves still
satisfy the privacy models; partitions that cannot be cut are the equivalence
classes, and each quasi-identifier is released as its range (numbers, dates)
or its set of values (categories) within the class.

* **strict**: a cut sends every row with a value at or below the median left,
  the rest right, so the classes' regions never overlap;
* **relaxed**: rows sharing the median value may go to both sides, so that
  the halves are balanced (more, smaller classes; overlapping ranges).

Like the lattice search, it runs on the distinct (quasi-identifier,
sensitive) combinations weighted by their row counts rather than on the
rows: a strict cut never separates two identical rows, and a relaxed cut
splits a combination's count, which is then dealt to rows at the end. That is
what makes a million rows take seconds, not minutes.

**Suppression.** With a budget of ``suppression`` rows, a partition that no
cut can split may shed its most extreme rows: the rows holding the smallest
or the largest value of one quasi-identifier are suppressed when the rest
still satisfies the models and the loss goes down (the NCP the rest saves
outweighs the cost, 1 per cell, of the suppressed rows), and the rest is then
partitioned again. Outliers that would stretch a class's ranges are removed
that way, never more rows than the budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from veil.anonymize.encoding import dense_codes
from veil.anonymize.evaluation import ClassStats
from veil.anonymize.models import KAnonymity, PrivacyModel
from veil.errors import DataError, ParameterError

__all__ = ["MondrianResult", "mondrian"]


@dataclass
class MondrianResult:
    """Generalized quasi-identifier columns (over all rows), classes and loss."""

    columns: dict[str, pl.Series]
    row_class: np.ndarray
    classes: int
    loss: float
    kept: np.ndarray | None = None  # (rows,) False for suppressed rows
    suppressed: int = 0


@dataclass
class _Items:
    codes: np.ndarray  # (items, m) ordinal code per quasi-identifier
    scale: np.ndarray  # (items, m) position used for widths: value (numeric) or code
    span: np.ndarray  # (m,) global range of ``scale``
    weight: np.ndarray
    sa_codes: list[np.ndarray]
    sa_sizes: list[int]
    sa_numeric: list[bool]
    sa_p: list[np.ndarray]
    row_item: np.ndarray
    numeric: np.ndarray | None = None  # (m,) range-based NCP (numbers, dates)
    n_values: np.ndarray | None = None  # (m,) distinct values per quasi-identifier


def _ordinal(values: pl.Series) -> tuple[np.ndarray, pl.Series, np.ndarray | None]:
    """Codes in sorted order (nulls last), the distinct values, their numeric positions."""
    distinct = values.unique().sort(nulls_last=True)
    known = distinct.drop_nulls()
    if values.dtype.is_numeric() or values.dtype.is_temporal():
        physical = values.to_physical()
        found = np.searchsorted(known.to_physical().to_numpy(), physical.fill_null(0).to_numpy())
        codes = np.where(physical.is_null().to_numpy(), len(known), found).astype(np.int64)
    else:  # a hash lookup: much faster than sorting a million strings
        mapping = pl.Series(np.arange(len(known), dtype=np.int64))
        codes = (
            values.replace_strict(known, mapping, default=len(known), return_dtype=pl.Int64)
            .fill_null(len(known))
            .to_numpy()
        )
    numeric = values.dtype.is_numeric() or values.dtype.is_temporal()
    position = None
    if numeric:
        position = distinct.to_physical().cast(pl.Float64).to_numpy().copy()
        if distinct.null_count():  # a missing value sits one step past the largest
            finite = position[~np.isnan(position)]
            top = finite.max() if finite.size else 0.0
            step = (np.ptp(finite) if finite.size else 0.0) or 1.0
            position[np.isnan(position)] = top + step
    return codes, distinct, position


def _prepare(frame: pl.DataFrame, quasi: Sequence[str], sensitive: Sequence[str]):
    codes_cols, distincts, positions = [], [], []
    for name in quasi:
        codes, distinct, position = _ordinal(frame[name])
        codes_cols.append(codes)
        distincts.append(distinct)
        positions.append(position)
    sa_cols, sa_sizes, sa_numeric = [], [], []
    for name in sensitive:
        codes, distinct, _ = _ordinal(frame[name])
        sa_cols.append(codes)
        sa_sizes.append(len(distinct))
        sa_numeric.append(frame[name].dtype.is_numeric())
    sizes = [len(d) for d in distincts] + sa_sizes
    key, _ = dense_codes([*codes_cols, *sa_cols], sizes)
    _, first, row_item, weight = np.unique(
        key, return_index=True, return_inverse=True, return_counts=True
    )
    codes = np.stack([c[first] for c in codes_cols], axis=1)
    scale = np.stack(
        [
            pos[codes[:, j]] if pos is not None else codes[:, j].astype(np.float64)
            for j, pos in enumerate(positions)
        ],
        axis=1,
    )
    span = np.ptp(scale, axis=0) if scale.size else np.zeros(len(quasi))
    sa_codes = [c[first] for c in sa_cols]
    sa_p = [
        np.bincount(c, weights=weight, minlength=n) / weight.sum()
        for c, n in zip(sa_codes, sa_sizes, strict=True)
    ]
    items = _Items(
        codes,
        scale,
        span,
        weight.astype(np.float64),
        sa_codes,
        sa_sizes,
        sa_numeric,
        sa_p,
        row_item.astype(np.int64),
        np.array([p is not None for p in positions], dtype=bool),
        np.array([len(d) for d in distincts], dtype=np.int64),
    )
    return items, distincts, positions


class _Checker:
    """Tests whether every part of a candidate cut satisfies the models."""

    def __init__(self, items: _Items, models: Sequence[PrivacyModel]) -> None:
        self.items = items
        self.models = list(models)
        self.min_size = max([m.k for m in models if isinstance(m, KAnonymity)], default=1)
        self.only_k = all(isinstance(m, KAnonymity) for m in models)

    def ok(self, parts: Sequence[tuple[np.ndarray, np.ndarray]]) -> bool:
        if any(w.sum() < self.min_size for _, w in parts):
            return False
        if self.only_k:
            return True
        it = self.items
        idx = np.concatenate([p[0] for p in parts])
        weight = np.concatenate([p[1] for p in parts])
        cls = np.repeat(np.arange(len(parts)), [len(p[0]) for p in parts])
        stats = ClassStats.build(
            cls, len(parts), weight, [c[idx] for c in it.sa_codes], it.sa_sizes, it.sa_numeric
        )
        for sa, p in zip(stats.sensitive, it.sa_p, strict=True):
            sa.set_distribution(p)
        return all(bool(m.passes(stats).all()) for m in self.models)


def _cut(
    idx: np.ndarray, w: np.ndarray, column: np.ndarray, strict: bool
) -> list[tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]]:
    """Candidate cuts of a partition along one dimension, best first."""
    order = np.argsort(column[idx], kind="stable")
    idx, w, v = idx[order], w[order], column[idx][order]
    cum = np.cumsum(w)
    half = cum[-1] / 2
    if not strict:
        pos = int(np.searchsorted(cum, half))  # item holding the median row
        before = cum[pos - 1] if pos else 0.0
        take = np.floor(half - before)  # whole rows only
        left_idx, left_w = idx[: pos + 1].copy(), w[: pos + 1].copy()
        right_idx, right_w = idx[pos:].copy(), w[pos:].copy()
        left_w[-1] = take
        right_w[0] = w[pos] - take
        left = (left_idx[left_w > 0], left_w[left_w > 0])
        right = (right_idx[right_w > 0], right_w[right_w > 0])
        return [(left, right)] if left[0].size and right[0].size else []
    # Strict: the cut falls between two distinct values; try the median one first.
    ends = np.flatnonzero(np.r_[v[1:] != v[:-1], True])
    if ends.size < 2:
        return []
    below = ends[:-1]
    best = below[np.argsort(np.abs(cum[below] - half), kind="stable")[:2]]
    return [((idx[: e + 1], w[: e + 1]), (idx[e + 1 :], w[e + 1 :])) for e in best]


def _ncp_per_row(items: _Items, idx: np.ndarray) -> float:
    """Summed NCP over the quasi-identifiers of one row of a class holding items ``idx``."""
    total = 0.0
    for j in range(items.codes.shape[1]):
        if items.numeric[j]:
            col = items.scale[idx, j]
            total += (col.max() - col.min()) / items.span[j] if items.span[j] > 0 else 0.0
        elif items.n_values[j] > 1:
            total += (np.unique(items.codes[idx, j]).size - 1) / (items.n_values[j] - 1)
    return total


def _peel(
    items: _Items, checker: _Checker, idx: np.ndarray, w: np.ndarray, budget: float
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] | None:
    """The best extreme-value slice of a partition to suppress, or ``None``.

    Candidates: for each quasi-identifier, the items holding its smallest or
    its largest value in the partition. One is taken when it fits the budget,
    the rest satisfies the models, and the loss drops: the rest's rows save
    more NCP than the suppressed rows cost (1 per cell, minus what they cost kept).
    """
    m = items.codes.shape[1]
    size = float(w.sum())
    here = _ncp_per_row(items, idx)
    best, best_gain = None, 0.0
    for j in range(m):
        col = items.codes[idx, j]
        for edge in (col.min(), col.max()):
            out = col == edge
            removed = float(w[out].sum())
            if removed > budget or out.all():
                continue
            rest = (idx[~out], w[~out])
            if rest[1].sum() < checker.min_size:
                continue
            gain = (size - removed) * (here - _ncp_per_row(items, rest[0]))
            gain -= removed * (m - here)
            if gain > best_gain + 1e-12 and checker.ok([rest]):
                best, best_gain = ((idx[out], w[out]), rest), gain
    return best


def _partition(
    items: _Items, checker: _Checker, strict: bool, budget: float = 0.0
) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[tuple[np.ndarray, np.ndarray]]]:
    root = (np.arange(items.weight.shape[0]), items.weight.copy())
    if not checker.ok([root]):
        raise DataError(
            "the whole table does not satisfy the requested privacy models, so no partition "
            "can; relax the models (e.g. a smaller k or l)"
        )
    span = np.where(items.span > 0, items.span, 1.0)
    done: list[tuple[np.ndarray, np.ndarray]] = []
    gone: list[tuple[np.ndarray, np.ndarray]] = []
    stack = [root]
    while stack:
        idx, w = stack.pop()
        if idx.size == 0:
            continue
        cuts: list = []
        if w.sum() >= 2 * checker.min_size:
            sub = items.scale[idx]
            width = (sub.max(axis=0) - sub.min(axis=0)) / span
            for dim in np.argsort(-width, kind="stable"):
                if width[dim] <= 0:
                    break
                cuts = [c for c in _cut(idx, w, items.scale[:, dim], strict) if checker.ok(c)]
                if cuts:
                    break
        if cuts:
            stack.extend(cuts[0])
            continue
        # No cut: the partition is a class, unless shedding outliers lowers the loss.
        peeled = _peel(items, checker, idx, w, budget) if budget >= 1 else None
        if peeled is None:
            done.append((idx, w))
        else:
            gone.append(peeled[0])
            budget -= float(peeled[0][1].sum())
            stack.append(peeled[1])
    return done, gone


def _format(values: pl.Series, code: int) -> str:
    value = values[code]
    return "missing" if value is None else str(value)


def _release(
    values: pl.Series,
    position: np.ndarray | None,
    part: np.ndarray,
    codes: np.ndarray,
    weight: np.ndarray,
    n_parts: int,
) -> tuple[list[str | None], float]:
    """Label of each part for one quasi-identifier, and the parts' summed NCP.

    ``part``/``codes``/``weight`` list the (part, item) entries, grouped by part.
    """
    starts = np.flatnonzero(np.r_[True, part[1:] != part[:-1]])
    lo = np.minimum.reduceat(codes, starts)
    hi = np.maximum.reduceat(codes, starts)
    size = np.add.reduceat(weight, starts)
    labels: list[str | None] = [None] * n_parts
    if position is not None:
        full = position[-1] - position[0]
        ncp = (position[hi] - position[lo]) / full if full > 0 else np.zeros(lo.size)
        text = {}
        for a, b in set(zip(lo.tolist(), hi.tolist(), strict=True)):
            if a == b:
                text[a, b] = None if values[a] is None else str(values[a])
            elif values[b] is None:  # the range reaches the missing value
                text[a, b] = f"[{values[a]}, {values[b - 1]}] or missing"
            else:
                text[a, b] = f"[{values[a]}, {values[b]}]"
        for i, (a, b) in enumerate(zip(lo.tolist(), hi.tolist(), strict=True)):
            labels[i] = text[a, b]
        return labels, float((size * ncp).sum())
    pairs = np.unique(part.astype(np.int64) * (len(values) + 1) + codes)
    pair_part, pair_code = pairs // (len(values) + 1), pairs % (len(values) + 1)
    count = np.bincount(pair_part, minlength=n_parts)
    ncp = (count - 1) / max(len(values) - 1, 1)
    bounds = np.r_[0, np.cumsum(count)]
    for i in range(n_parts):
        if count[i] == 1:
            code = int(pair_code[bounds[i]])
            labels[i] = None if values[code] is None else str(values[code])
        else:
            chosen = pair_code[bounds[i] : bounds[i + 1]]
            labels[i] = "|".join(_format(values, int(c)) for c in chosen)
    return labels, float((size * ncp).sum())


def mondrian(
    frame: pl.DataFrame,
    quasi: Sequence[str],
    sensitive: Sequence[str],
    models: Sequence[PrivacyModel],
    *,
    strict: bool = True,
    suppression: int = 0,
) -> MondrianResult:
    """Partition ``frame`` with Mondrian and generalize each class's quasi-identifiers.

    Parameters
    ----------
    frame
        The table.
    quasi, sensitive
        Column names.
    models
        Privacy models every class must satisfy (k-anonymity, l-diversity,
        t-closeness, ... in any combination).
    strict
        Strict (non-overlapping) or relaxed multidimensional partitioning.
    suppression
        Most rows that may be suppressed (peeled off as outliers, see above).
    """
    if isinstance(suppression, bool) or not isinstance(suppression, (int, np.integer)):
        raise ParameterError(f"suppression is a number of rows here; got {suppression!r}")
    if suppression < 0:
        raise ParameterError(f"suppression must be >= 0 rows; got {suppression}")
    items, distincts, positions = _prepare(frame, quasi, sensitive)
    kept_parts, gone = _partition(items, _Checker(items, models), strict, float(suppression))
    parts = kept_parts + gone
    n_kept = len(kept_parts)
    m = len(quasi)
    n = float(items.weight.sum())
    # Rows of each item are dealt to the parts holding it, in order.
    part_of = np.repeat(np.arange(len(parts)), [p[0].size for p in parts])
    part_items = np.concatenate([p[0] for p in parts])
    part_w = np.concatenate([p[1] for p in parts]).round().astype(np.int64)
    order = np.argsort(part_items, kind="stable")
    dealt = np.repeat(part_of[order], part_w[order])
    row_order = np.argsort(items.row_item, kind="stable")
    row_class = np.empty(items.row_item.shape[0], dtype=np.int64)
    row_class[row_order] = dealt
    labels: list[list[str | None]] = []
    total_ncp = 0.0
    entry_w = np.concatenate([p[1] for p in parts])
    live = part_of < n_kept
    for j in range(m):
        lab, ncp = _release(
            distincts[j],
            positions[j],
            part_of[live],
            items.codes[part_items[live], j],
            entry_w[live],
            n_kept,
        )
        labels.append(lab + [None] * len(gone))
        total_ncp += ncp
    suppressed = round(sum(float(p[1].sum()) for p in gone))
    total_ncp += suppressed * m
    columns = {
        name: pl.Series(name, labels[j], dtype=pl.String).gather(row_class)
        for j, name in enumerate(quasi)
    }
    loss = total_ncp / (n * m) if n and m else 0.0
    kept = row_class < n_kept
    return MondrianResult(columns, row_class, n_kept, loss, kept, suppressed)
