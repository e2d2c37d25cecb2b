"""One sensitive attribute's view of the equivalence classes.

A class of one record holds one value once, so every measure of it has a
closed form in that value alone. A view therefore keeps (class, value, count)
rows only for the classes of two or more records, and for the single-record
classes just how many hold each value (``lone``). On near-unique tables, where
most classes hold one record, the measures then run over a small fraction of
the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

__all__ = ["SensitiveView", "view_from_rows"]


@dataclass(frozen=True)
class SensitiveView:
    """Equivalence classes seen from one sensitive attribute.

    *Shared* classes (two or more records) are numbered ``0 .. n_classes - 1``
    in their original order; their rows are the (class, value) pairs present,
    sorted by class and, inside a class, by value: ``starts[c]`` is the first
    row of class ``c``. Values are indexed in the table-wide sorted order
    (nulls last), the order pyCANON's ``np.unique`` uses. ``lone[v]`` counts
    the single-record classes whose record has value ``v``.
    """

    attribute: str
    keys: tuple[str, ...]
    sizes: np.ndarray  # records per shared class (int64)
    starts: np.ndarray  # first row of each shared class (int64)
    value: np.ndarray  # per row: index into ``values`` (int64)
    count: np.ndarray  # per row: records of that value in that class (int64)
    values: pl.Series  # distinct values, sorted, nulls last
    totals: np.ndarray  # records per value over the whole table (int64)
    lone: np.ndarray  # per value: single-record classes holding it (int64)
    n_rows: int
    ordered: bool  # numeric or temporal: distances follow the value order
    distinct: np.ndarray  # number of distinct values in each shared class
    row_class: np.ndarray  # shared-class index of each row
    share: np.ndarray  # per row: count / class size (pyCANON's q, same division)
    table_share: np.ndarray  # per value: total / rows (pyCANON's p)

    @property
    def n_classes(self) -> int:
        """Number of shared classes (two or more records)."""
        return len(self.sizes)

    @property
    def n_lone(self) -> int:
        """Number of single-record classes."""
        return int(self.lone.sum())

    def lone_values(self) -> np.ndarray:
        """Indices of the values held by at least one single-record class."""
        return np.flatnonzero(self.lone)

    def class_rows(self, c: int) -> tuple[np.ndarray, np.ndarray]:
        """Value indices and counts of shared class ``c``, sorted by value."""
        lo = self.starts[c]
        hi = self.starts[c + 1] if c + 1 < self.n_classes else len(self.value)
        return self.value[lo:hi], self.count[lo:hi]

    def distinct_patterns(self, classes: np.ndarray, *, with_values: bool) -> list[int]:
        """One shared class per distinct content among ``classes``.

        Content is the class's count sequence in value order, plus the values
        themselves when ``with_values``: classes with equal content give equal
        metric values, so exact recomputation needs only one of each.
        """
        picked: list[int] = []
        distinct = self.distinct[classes]
        for d in np.unique(distinct):
            group = classes[distinct == d]
            rows = self.starts[group][:, None] + np.arange(d)[None, :]
            content = self.count[rows]
            if with_values:
                content = np.concatenate([content, self.value[rows]], axis=1)
            _, first = np.unique(content, axis=0, return_index=True)
            picked.extend(int(c) for c in group[first])
        return picked


def view_from_rows(
    attribute: str,
    keys: Sequence[str],
    cls: np.ndarray,
    value: np.ndarray,
    count: np.ndarray,
    class_sizes: np.ndarray,
    values: pl.Series,
    n_rows: int,
    ordered: bool,
    lone: np.ndarray | None = None,
    shared_sizes: np.ndarray | None = None,
) -> SensitiveView:
    """Assemble a view from (class, value, count) rows sorted by class and value.

    ``class_sizes`` are the records of every class. Without ``lone``, the
    rows cover every class and those of single-record classes are set apart
    here; with it, the rows cover only the classes of two or more records,
    numbered among themselves in their order among all classes
    (``shared_sizes``, when given, are their sizes).
    """
    m = len(values)
    if lone is None:
        shared = class_sizes > 1
        sizes = class_sizes[shared].astype(np.int64, copy=False)
        alone = class_sizes[cls] == 1
        lone = np.bincount(value[alone], minlength=m).astype(np.int64, copy=False)
        kept = ~alone
        cls, value, count = cls[kept], value[kept], count[kept]
        row_class = (np.cumsum(shared) - 1)[cls].astype(np.int64, copy=False)
    else:
        if shared_sizes is None:
            shared_sizes = class_sizes[class_sizes > 1]
        sizes = shared_sizes.astype(np.int64, copy=False)
        row_class = cls.astype(np.int64, copy=False)
    # Rows are sorted by class and every shared class has some: starts are where it changes.
    if len(row_class):
        starts = np.flatnonzero(np.concatenate([[True], row_class[1:] != row_class[:-1]]))
    else:
        starts = np.zeros(0, np.int64)
    starts = starts.astype(np.int64, copy=False)
    totals = np.bincount(value, weights=count, minlength=m).astype(np.int64) + lone
    return SensitiveView(
        attribute=attribute,
        keys=tuple(keys),
        sizes=sizes,
        starts=starts,
        value=value.astype(np.int64, copy=False),
        count=count.astype(np.int64, copy=False),
        values=values,
        totals=totals,
        lone=lone,
        n_rows=n_rows,
        ordered=ordered,
        distinct=np.diff(np.append(starts, len(value))),
        row_class=row_class,
        share=count / sizes[row_class],
        table_share=totals / n_rows,
    )
