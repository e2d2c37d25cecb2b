"""How the (class, value, count) rows of each sensitive attribute are counted.

Three strategies, all exact, chosen by where the table lives and its shape:

- *Pairs first* (an eager table with few distinct (quasi-identifiers,
  sensitive values) combinations, like Adult): one streaming group-by over
  all those columns finds each combination's first row and count; the rest,
  sensitive values included, runs on the small table of combinations.
- *In memory* (other eager tables): one window expression gives every row the
  index of its class's first row, beside a small group-by counting each
  attribute's values. Only the records of classes of two or more are paired
  with their values (a bincount, or a sort when cells are many); a
  single-record class is tallied by its value, the value's count less those
  records. When they are few (near-unique tables) only their values are
  read, so such tables cost about one polars group-by and little memory.
- *Grouped* (a file or LazyFrame, possibly larger than memory): one streaming
  ``group_by(keys)`` with, per sensitive value, a scalar count (cheap where
  polars' list aggregations are not); attributes with more than
  ``DENSE_VALUES`` values use the joint ``group_by(keys + attribute)`` table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

__all__ = [
    "DENSE_VALUES",
    "Counted",
    "count_grouped",
    "count_in_memory",
    "count_joint",
    "count_with_values",
    "value_codes",
]

#: Above this many distinct values, the grouped strategy counts an attribute
#: from the joint (keys + attribute) table instead of one column per value.
DENSE_VALUES = 64
SIZE = "size"
_COUNT = "__veil_n"
_CODE = "__veil_code"
_CLASS = "__veil_class"
_ROW = "__veil_row"
_CHUNK = 1 << 16

# class, value, count (sorted by class, value), and optionally the single-record
# classes per value: the rows then cover only the classes of two or more records,
# numbered among themselves in their order among all classes.
Rows = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]


@dataclass(frozen=True)
class Counted:
    """Classes over some keys: sizes, and the rows of each attribute counted."""

    sizes: np.ndarray
    rows: dict[str, Rows]
    first_rows: np.ndarray | None = None  # in memory: each class's first row
    # in memory: sizes of the classes of two or more records, which ``rows`` cover
    shared_sizes: np.ndarray | None = None
    frame: pl.DataFrame | None = None  # grouped: key columns and SIZE per class


def value_codes(values: pl.Series, dtype: pl.DataType) -> tuple[pl.Series, pl.Expr]:
    """Sorted distinct values, and an expression mapping each row to its value's index.

    Missing values, when present, are the last value.
    """
    present = values.drop_nulls()
    m = len(present)
    col = pl.col(values.name)
    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
        code = col.cast(pl.String).cast(pl.Enum(present.cast(pl.String).to_list())).to_physical()
    else:
        code = col.replace_strict(
            present, pl.Series(np.arange(m, dtype=np.uint32)), default=None, return_dtype=pl.UInt32
        )
    return values, code.cast(pl.UInt32).fill_null(m)


def _pair_counts(
    cls: np.ndarray, code: np.ndarray, m: int, n_classes: int, weight: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(class, value, count) of the (class, value) pairs present, sorted by class and value.

    Few cells (``n_classes * m`` within a few times the rows): one bincount
    over all of them. Many: the keys are sorted and counted by runs.
    """
    key = cls * m + code
    if n_classes * m <= 4 * len(key):
        counts = np.bincount(key, weights=weight, minlength=n_classes * m)
        found = np.flatnonzero(counts)
        return found // m, found % m, counts[found].astype(np.int64)
    if weight is None:
        key = np.sort(key)
    else:
        order = np.argsort(key, kind="stable")
        key, weight = key[order], weight[order]
    starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]])) if len(key) else key
    if weight is None:
        count = np.diff(np.append(starts, len(key)))
    else:
        count = np.add.reduceat(weight, starts) if len(key) else key
    found = key[starts]
    return found // m, found % m, count.astype(np.int64, copy=False)


def _first_rows(frame: pl.DataFrame, keys: Sequence[str], weight: str | None) -> pl.LazyFrame:
    """Each row's class *representative*: the index of its class's first row (a window)."""
    return (
        frame.with_row_index(_ROW)
        .lazy()
        .select(
            # any row of the class serves as its representative; first() is the cheapest
            pl.col(_ROW).first().over(list(keys)).alias(_ROW),
            *([pl.col(weight)] if weight else []),
        )
    )


def count_in_memory(
    frame: pl.DataFrame,
    keys: Sequence[str],
    codes: Mapping[str, tuple[pl.Series, pl.Expr]],
    weight: str | None = None,
    totals: Mapping[str, np.ndarray] | None = None,
) -> Counted:
    """Class ids from a window expression, then counting in numpy.

    ``totals``, records per value of an attribute (indexed like its values),
    lets its values be read only for the records of classes of two or more
    (see :func:`_count_classes`). With ``weight``, each row of ``frame``
    stands for that column's number of records.
    """
    ids = _first_rows(frame, keys, weight).collect(engine="in-memory")
    return _count_classes(frame, ids, codes, weight, totals or {})


def count_with_values(
    frame: pl.DataFrame,
    keys: Sequence[str],
    sensitive: Sequence[str],
    dtypes: Mapping[str, pl.DataType],
) -> tuple[Counted, dict[str, tuple[pl.Series, pl.Expr]], dict[str, np.ndarray]]:
    """:func:`count_in_memory` for attributes whose values are not yet known.

    The window and each attribute's count per value run as one parallel batch
    of queries (the counts are a small group-by each, which the window hides);
    returns the counts, each attribute's values and code, and its totals.
    """
    window, *tallies = pl.collect_all(
        [
            _first_rows(frame, keys, None),
            *(
                frame.lazy().group_by(s).agg(pl.len().cast(pl.Int64).alias(_COUNT))
                for s in sensitive
            ),
        ],
        engine="in-memory",
    )
    codes: dict[str, tuple[pl.Series, pl.Expr]] = {}
    totals: dict[str, np.ndarray] = {}
    for s, tally in zip(sensitive, tallies, strict=True):
        tally = tally.sort(s, nulls_last=True)
        codes[s] = value_codes(tally[s], dtypes[s])
        totals[s] = tally[_COUNT].to_numpy()
    return _count_classes(frame, window, codes, None, totals), codes, totals


def _count_classes(
    frame: pl.DataFrame,
    ids: pl.DataFrame,
    codes: Mapping[str, tuple[pl.Series, pl.Expr]],
    weight: str | None,
    totals: Mapping[str, np.ndarray],
) -> Counted:
    """Class sizes and each attribute's rows, from every row's representative in ``ids``.

    Classes are numbered in the order of their representatives. Only the
    records of *shared* classes (two or more records) are paired with their
    values; single-record classes are tallied per value, as the attribute's
    totals minus the shared records' values. With ``totals`` known and few
    shared records, as in near-unique tables, values are read for the shared
    records only: per row, the work after the window is then a few numpy passes.
    """
    first = ids[_ROW].to_numpy()
    w = ids[weight].to_numpy().astype(np.int64) if weight else None
    n = len(first)
    is_first = first == np.arange(n, dtype=first.dtype)
    reps = np.flatnonzero(is_first)
    others = np.flatnonzero(~is_first)  # rows not their class's representative
    others_first = first[others].astype(np.int64)
    if w is None and 4 * len(others) <= n:
        # Near-unique: only the few classes that have other rows are shared;
        # sorting those rows' representatives numbers them, and a
        # representative's class is its row less the non-representatives before it.
        shared_reps, other_class, extra = np.unique(
            others_first, return_inverse=True, return_counts=True
        )
        sizes = np.ones(len(reps), dtype=np.int64)
        sizes[shared_reps - np.searchsorted(others, shared_reps)] += extra
        shared_sizes = extra + 1
    else:
        # Each representative's class number; a lookup table indexed by row,
        # only read at representatives, so it needs no initialising.
        number = np.empty(n, dtype=np.int64)
        number[reps] = np.arange(len(reps))
        other_class = number[others_first]
        if w is None:
            sizes = np.bincount(other_class, minlength=len(reps)) + 1
        else:
            sizes = np.bincount(other_class, weights=w[others], minlength=len(reps)) + w[reps]
        sizes = sizes.astype(np.int64, copy=False)
        # Shared classes renumbered among themselves, in the same order; a row
        # that is not its class's representative is always in a shared class.
        shared = np.flatnonzero(sizes > 1)
        number[reps[shared]] = np.arange(len(shared))
        shared_reps, other_class, shared_sizes = reps[shared], number[others_first], sizes[shared]
    rows = np.concatenate([shared_reps, others])
    cls = np.concatenate([np.arange(len(shared_reps)), other_class])
    w_shared = None if w is None else w[rows]
    found: dict[str, Rows] = {}
    names = list(codes)
    gathered = [name for name in names if name in totals and w is None and 4 * len(rows) <= n]
    if gathered:
        part = frame.select(gathered)[rows].select(codes[name][1].alias(name) for name in gathered)
        for name in gathered:
            m = len(codes[name][0])
            code = part[name].to_numpy().astype(np.int64)
            lone = totals[name] - np.bincount(code, minlength=m)
            found[name] = (*_pair_counts(cls, code, m, len(shared_reps), None), lone)
    rest = [name for name in names if name not in found]
    if rest:
        full = frame.select(codes[name][1].alias(name) for name in rest)
        for name in rest:
            m = len(codes[name][0])
            every = full[name].to_numpy()
            code = every[rows].astype(np.int64)
            lone = np.bincount(every, weights=w, minlength=m) - np.bincount(
                code, weights=w_shared, minlength=m
            )
            pairs = _pair_counts(cls, code, m, len(shared_reps), w_shared)
            found[name] = (*pairs, lone.astype(np.int64))
    return Counted(
        sizes=sizes,
        rows={name: found[name] for name in names},
        first_rows=reps,
        shared_sizes=shared_sizes,
    )


def estimated_combinations(frame: pl.DataFrame, columns: Sequence[str], sample: int) -> float:
    """Estimated number of distinct ``columns`` combinations in ``frame``, from a sample.

    Chao's (1984) estimator ``d + f1 (f1 - 1) / (2 (f2 + 1))`` on a random
    sample of ``sample`` rows, ``d`` combinations seen, ``f1`` of them once and
    ``f2`` twice. Only used to choose a counting strategy, never for results.
    """
    if frame.height <= sample:
        return float(frame.select(list(columns)).n_unique())
    part = frame.select(list(columns)).sample(sample, seed=0)
    seen = part.group_by(list(columns)).agg(pl.len().alias(_COUNT))[_COUNT].to_numpy()
    f1, f2 = int((seen == 1).sum()), int((seen == 2).sum())
    return min(float(frame.height), len(seen) + f1 * (f1 - 1) / (2 * (f2 + 1)))


def count_by_pairs(
    frame: pl.DataFrame,
    keys: Sequence[str],
    sensitive: Sequence[str],
    dtypes: Mapping[str, pl.DataType],
) -> tuple[Counted, dict[str, tuple[pl.Series, pl.Expr]]]:
    """Classes and counts from the distinct (keys, sensitive) combinations of a table.

    For in-memory tables with far fewer such combinations than rows: one
    group-by over all those columns, run by polars' streaming engine (on a
    million Adult rows as fast as the window expression and a bincount, with
    about a third of the window's memory), gives each combination's first
    row and count. Everything after, the sensitive values and their codes
    included, runs on the small table of combinations, in the order they
    first appear, each with the values of its first row.
    """
    columns = [*keys, *sensitive]
    found = (
        frame.with_row_index(_ROW)
        .lazy()
        .group_by(columns)
        .agg(pl.col(_ROW).min(), pl.len().cast(pl.Int64).alias(_COUNT))
        .select(_ROW, _COUNT)
        .collect(engine="streaming")
        .sort(_ROW)
    )
    joint = frame.select(columns)[found[_ROW].to_numpy()].with_columns(found[_COUNT])
    codes = {s: value_codes(joint[s].unique().sort(nulls_last=True), dtypes[s]) for s in sensitive}
    found = count_in_memory(joint, keys, codes, weight=_COUNT)
    assert found.first_rows is not None
    classes = joint.select(keys)[found.first_rows].with_columns(pl.Series(SIZE, found.sizes))
    return Counted(sizes=found.sizes, rows=found.rows, frame=classes), codes


def _dense_to_rows(frame: pl.DataFrame, columns: list[str]) -> Rows:
    """Non-zero cells of the class-by-value count columns, in chunks to bound memory."""
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for offset in range(0, frame.height, _CHUNK):
        matrix = frame.slice(offset, _CHUNK).select(columns).to_numpy()
        cls, value = np.nonzero(matrix)
        parts.append((cls + offset, value, matrix[cls, value]))
    if not parts:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, None
    cls, value, count = (np.concatenate([p[i] for p in parts]) for i in range(3))
    return cls, value, count, None


def count_grouped(
    lazy: pl.LazyFrame,
    keys: Sequence[str],
    codes: Mapping[str, tuple[pl.Series, pl.Expr]],
    engine: str,
) -> Counted:
    """One streaming group-by with a count per value of each attribute (few values)."""
    dense = {name: c for name, c in codes.items() if len(c[0]) <= DENSE_VALUES}
    coded = lazy.with_columns(
        code.alias(f"{_CODE}{i}") for i, (_, code) in enumerate(dense.values())
    )
    aggregations = [pl.len().cast(pl.Int64).alias(SIZE)]
    columns: dict[str, list[str]] = {}
    for i, (name, (values, _)) in enumerate(dense.items()):
        columns[name] = [f"__veil_{i}_{j}" for j in range(len(values))]
        aggregations += [
            (pl.col(f"{_CODE}{i}") == j).sum().alias(column)
            for j, column in enumerate(columns[name])
        ]
    frame = coded.group_by(list(keys)).agg(aggregations).collect(engine=engine)
    rows = {name: _dense_to_rows(frame, cols) for name, cols in columns.items()}
    return Counted(
        sizes=frame[SIZE].to_numpy().astype(np.int64),
        rows=rows,
        frame=frame.select(*keys, SIZE),
    )


def count_joint(
    lazy: pl.LazyFrame, keys: Sequence[str], code: pl.Expr, engine: str
) -> tuple[int, Rows]:
    """Rows of one many-valued attribute from the joint (keys + attribute) table."""
    joint = (
        lazy.group_by([*keys, code.alias(_CODE)])
        .agg(pl.len().cast(pl.Int64).alias(_COUNT))
        .collect(engine=engine)
    )
    classes = joint.select(keys).unique().with_row_index(_CLASS)
    joint = joint.join(classes, on=list(keys), how="left", nulls_equal=True)
    cls = joint[_CLASS].to_numpy().astype(np.int64)
    value = joint[_CODE].to_numpy().astype(np.int64)
    count = joint[_COUNT].to_numpy().astype(np.int64)
    order = np.lexsort((value, cls))
    return classes.height, (cls[order], value[order], count[order], None)
