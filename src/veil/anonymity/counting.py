"""How the (class, value, count) rows of each sensitive attribute are counted.

Two strategies, both exact, chosen by where the table lives:

- *In memory* (an eager table): one window expression gives every row the
  index of its class's first row; numpy turns that into dense class ids in
  one linear pass and counts (class, value) pairs with a bincount, or a sort
  when classes are many. No per-value columns, so near-unique tables (most
  classes of one record) cost about one polars group-by and little memory.
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

Rows = tuple[np.ndarray, np.ndarray, np.ndarray]  # class, value, count; sorted by class, value


@dataclass(frozen=True)
class Counted:
    """Classes over some keys: sizes, and the rows of each attribute counted."""

    sizes: np.ndarray
    rows: dict[str, Rows]
    first_rows: np.ndarray | None = None  # in memory: each class's first row
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


def _pairs(cls: np.ndarray, code: np.ndarray, n_classes: int, m: int) -> Rows:
    """Count (class, value) pairs; rows come out sorted by class, then value."""
    key = cls * m + code
    if n_classes * m <= 4 * len(key):
        counts = np.bincount(key, minlength=n_classes * m)
        found = np.flatnonzero(counts)
        return found // m, found % m, counts[found]
    key = np.sort(key)
    starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
    found = key[starts]
    return found // m, found % m, np.diff(np.append(starts, len(key)))


def count_in_memory(
    frame: pl.DataFrame, keys: Sequence[str], codes: Mapping[str, tuple[pl.Series, pl.Expr]]
) -> Counted:
    """Class ids from a window expression, then counting in numpy."""
    ids = frame.with_row_index(_ROW).select(
        pl.col(_ROW).min().over(list(keys)).alias(_ROW),
        *(code.alias(f"{_CODE}{i}") for i, (_, code) in enumerate(codes.values())),
    )
    first = ids[_ROW].to_numpy().astype(np.int64)
    is_first = first == np.arange(len(first))
    dense = np.cumsum(is_first) - 1  # classes numbered in order of first appearance
    cls = dense[first]
    n_classes = int(dense[-1]) + 1 if len(dense) else 0
    rows = {
        name: _pairs(cls, ids[f"{_CODE}{i}"].to_numpy().astype(np.int64), n_classes, len(values))
        for i, (name, (values, _)) in enumerate(codes.items())
    }
    sizes = np.bincount(cls, minlength=n_classes).astype(np.int64)
    return Counted(sizes=sizes, rows=rows, first_rows=np.flatnonzero(is_first))


def _dense_to_rows(frame: pl.DataFrame, columns: list[str]) -> Rows:
    """Non-zero cells of the class-by-value count columns, in chunks to bound memory."""
    parts: list[Rows] = []
    for offset in range(0, frame.height, _CHUNK):
        matrix = frame.slice(offset, _CHUNK).select(columns).to_numpy()
        cls, value = np.nonzero(matrix)
        parts.append((cls + offset, value, matrix[cls, value]))
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))  # type: ignore[return-value]


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
    return classes.height, (cls[order], value[order], count[order])
