"""One sensitive attribute's view of the equivalence classes: (class, value, count) rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

__all__ = ["SensitiveView", "view_from_rows"]


@dataclass(frozen=True)
class SensitiveView:
    """Equivalence classes seen from one sensitive attribute.

    Rows are the (class, value) pairs present in the data, sorted by class and,
    inside a class, by value: ``starts[c]`` is the first row of class ``c``.
    Values are indexed in the table-wide sorted order (nulls last), the order
    pyCANON's ``np.unique`` uses.
    """

    attribute: str
    keys: tuple[str, ...]
    sizes: np.ndarray  # records per class (int64)
    starts: np.ndarray  # first row of each class (int64)
    value: np.ndarray  # per row: index into ``values`` (int64)
    count: np.ndarray  # per row: records of that value in that class (int64)
    values: pl.Series  # distinct values, sorted, nulls last
    totals: np.ndarray  # records per value over the whole table (int64)
    n_rows: int
    ordered: bool  # numeric or temporal: distances follow the value order
    distinct: np.ndarray  # number of distinct values in each class
    row_class: np.ndarray  # class index of each row
    share: np.ndarray  # per row: count / class size (pyCANON's q, same division)
    table_share: np.ndarray  # per value: total / rows (pyCANON's p)

    @property
    def n_classes(self) -> int:
        return len(self.sizes)

    def class_rows(self, c: int) -> tuple[np.ndarray, np.ndarray]:
        """Value indices and counts of class ``c``, sorted by value."""
        lo = self.starts[c]
        hi = self.starts[c + 1] if c + 1 < self.n_classes else len(self.value)
        return self.value[lo:hi], self.count[lo:hi]

    def distinct_patterns(self, classes: np.ndarray, *, with_values: bool) -> list[int]:
        """One class per distinct content among ``classes``.

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
    n_classes: int,
    values: pl.Series,
    n_rows: int,
    ordered: bool,
) -> SensitiveView:
    """Assemble a view from (class, value, count) rows already sorted by class and value."""
    # Rows are sorted by class and every class has at least one: starts are where it changes.
    starts = np.flatnonzero(np.concatenate([[True], cls[1:] != cls[:-1]])) if len(cls) else cls
    starts = starts.astype(np.int64, copy=False)
    sizes = np.add.reduceat(count, starts) if len(starts) else np.zeros(0, np.int64)
    totals = np.bincount(value, weights=count, minlength=len(values)).astype(np.int64, copy=False)
    distinct = np.diff(np.append(starts, len(value)))
    return SensitiveView(
        attribute=attribute,
        keys=tuple(keys),
        sizes=sizes.astype(np.int64, copy=False),
        starts=starts,
        value=value.astype(np.int64, copy=False),
        count=count.astype(np.int64, copy=False),
        values=values,
        totals=totals,
        n_rows=n_rows,
        ordered=ordered,
        distinct=distinct,
        row_class=cls.astype(np.int64, copy=False),
        share=count / sizes[cls],
        table_share=totals / n_rows,
    )
