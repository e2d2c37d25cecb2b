"""Equivalence classes, and the count rows every anonymity measure derives from.

Each sensitive attribute is coded by the rank of its value, and the table is
grouped once, by one of three exact strategies (:mod:`veil.anonymity.counting`):
in memory, one group-by over (quasi-identifiers, sensitive attributes) when a
sample says those combinations are few, else one window expression over the
quasi-identifiers and counting in numpy; for files and LazyFrames, one streaming
group-by. The result, per sensitive attribute, is a *view*
(:mod:`veil.anonymity.views`): (class, value, count) rows sorted by class and
value, from which all nine techniques, the metrics and the risk measures are
computed.

Missing values: a missing value (null, or NaN in a float column) is a value of
its own. Records with a missing ZIP code form a class together; a missing
diagnosis is one more category. (pyCANON, through pandas' ``groupby``, leaves
records with a missing quasi-identifier out of every class; veil keeps them,
since such a record can still be singled out.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from veil.anonymity import counting
from veil.anonymity.counting import (
    SIZE,
    count_by_pairs,
    count_grouped,
    count_in_memory,
    count_joint,
    count_with_values,
    estimated_combinations,
    value_codes,
)
from veil.anonymity.views import SensitiveView, view_from_rows
from veil.errors import ColumnError, DataError, ParameterError
from veil.io import to_polars
from veil.roles import as_column_list

__all__ = [
    "SIZE",
    "ClassTable",
    "SensitiveView",
    "build_class_table",
    "equivalence_classes",
]

_NESTED = (pl.List, pl.Array, pl.Struct, pl.Object)
_PAIRS_MIN_ROWS = 100_000  # below this, either strategy takes milliseconds
_PAIRS_SAMPLE = 10_000
_PAIRS_SHARE = 0.25


def _check_columns(
    schema: dict[str, Any], quasi: list[str], sensitive: list[str], *, need_sensitive: bool
) -> None:
    if not quasi:
        raise ParameterError("give at least one quasi-identifier column")
    if need_sensitive and not sensitive:
        raise ParameterError("give at least one sensitive attribute column")
    names = list(schema)
    for col in [*quasi, *sensitive]:
        if col not in schema:
            shown = ", ".join(names[:30]) + (", ..." if len(names) > 30 else "")
            raise ColumnError(f"column {col!r} not found; columns are: {shown}")
    both = [c for c in quasi if c in sensitive]
    if both:
        raise ColumnError(
            f"column {both[0]!r} is both a quasi-identifier and a sensitive attribute; "
            "give it one role"
        )
    for col in [*quasi, *sensitive]:
        if isinstance(schema[col], _NESTED):
            raise ColumnError(
                f"column {col!r} holds {schema[col]} values; quasi-identifiers and sensitive "
                "attributes must be plain values (numbers, strings, dates, booleans)"
            )


def _check_values(codes: dict[str, tuple[pl.Series, pl.Expr]]) -> None:
    for name, (values, _) in codes.items():
        if values.null_count() == len(values):
            raise DataError(
                f"column {name!r} holds only missing values; drop it from the roles or fill it"
            )


def _few_combinations(frame: pl.DataFrame, columns: list[str]) -> bool:
    """Whether (quasi-identifiers, sensitive) combinations are few enough to count first.

    Finding them first and working on the small table of combinations beats
    per-row counting when there are several times fewer combinations than rows
    (tables like Adult); near-unique tables are counted per row.
    """
    if frame.height < _PAIRS_MIN_ROWS:
        return False
    found = estimated_combinations(frame, columns, _PAIRS_SAMPLE)
    return found <= _PAIRS_SHARE * frame.height


@dataclass(frozen=True)
class ClassTable:
    """The equivalence classes of a table and, on demand, each sensitive attribute's view.

    ``memory`` is the table itself when it was given in memory (the window
    strategy), None for files and LazyFrames (the streaming group-by).
    """

    source: pl.LazyFrame
    memory: pl.DataFrame | None
    quasi: tuple[str, ...]
    sensitive: tuple[str, ...]
    n_rows: int
    schema: dict[str, pl.DataType]
    codes: dict[str, tuple[pl.Series, pl.Expr]]
    counted: counting.Counted
    totals: dict[str, np.ndarray] = field(default_factory=dict)  # records per value, in memory
    _views: dict[tuple[str, bool], SensitiveView] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def engine(self) -> str:
        return "auto" if self.memory is not None else "streaming"

    def class_sizes(self) -> np.ndarray:
        """Records per equivalence class over the quasi-identifiers."""
        return self.counted.sizes

    def classes(self) -> pl.DataFrame:
        """The equivalence classes: quasi-identifier values and size, largest first."""
        keys = list(self.quasi)
        if self.counted.frame is not None:
            frame = self.counted.frame
        else:
            assert self.memory is not None and self.counted.first_rows is not None
            frame = self.memory.select(keys)[self.counted.first_rows].with_columns(
                pl.Series(SIZE, self.counted.sizes)
            )
        return frame.select(*keys, SIZE).sort(
            [SIZE, *keys], descending=[True] + [False] * len(keys), nulls_last=True
        )

    def _ordered(self, attribute: str) -> bool:
        dtype = self.schema[attribute]
        return dtype.is_numeric() or dtype.is_temporal() or dtype == pl.Boolean

    def view(self, attribute: str, *, others_as_quasi: bool = False) -> SensitiveView:
        """The classes as seen from ``attribute``.

        With ``others_as_quasi`` the other sensitive attributes join the
        quasi-identifiers (pyCANON's ``gen=False``).
        """
        if len(self.sensitive) == 1:
            others_as_quasi = False
        cached = self._views.get((attribute, others_as_quasi))
        if cached is not None:
            return cached
        keys = list(self.quasi)
        if others_as_quasi:
            keys += [s for s in self.sensitive if s != attribute]
        values, code = self.codes[attribute]
        found: counting.Counted | None = None
        if not others_as_quasi:
            found = self.counted
        elif self.memory is not None:
            found = count_in_memory(
                self.memory, keys, {attribute: (values, code)}, totals=self.totals
            )
        elif len(values) <= counting.DENSE_VALUES:
            found = count_grouped(self.source, keys, {attribute: (values, code)}, self.engine)
        shared_sizes = None
        if found is not None and attribute in found.rows:
            sizes, (cls, value, count, lone) = found.sizes, found.rows[attribute]
            shared_sizes = found.shared_sizes
        else:
            n_classes, (cls, value, count, lone) = count_joint(self.source, keys, code, self.engine)
            sizes = np.bincount(cls, weights=count, minlength=n_classes).astype(np.int64)
        view = view_from_rows(
            attribute,
            keys,
            cls,
            value,
            count,
            sizes,
            values,
            self.n_rows,
            self._ordered(attribute),
            lone,
            shared_sizes,
        )
        self._views[(attribute, others_as_quasi)] = view
        return view

    def views(self, *, others_as_quasi: bool = False) -> list[SensitiveView]:
        """One view per sensitive attribute, in the order they were given."""
        return [self.view(s, others_as_quasi=others_as_quasi) for s in self.sensitive]


def build_class_table(
    data: Any,
    quasi: str | Sequence[str],
    sensitive: str | Sequence[str] | None = None,
    *,
    need_sensitive: bool = True,
) -> ClassTable:
    """Validate the columns and group ``data`` into equivalence classes.

    Raises
    ------
    ColumnError
        A column is missing, nested, or both quasi-identifier and sensitive.
    DataError
        The table is empty, or a named column holds only missing values.
    """
    quasi_cols = as_column_list(quasi, what="quasi-identifiers")
    sensitive_cols = as_column_list(sensitive, what="sensitive attributes")
    columns = [*quasi_cols, *sensitive_cols]
    frame, _ = to_polars(data, lazy_files=True)
    memory = frame if isinstance(frame, pl.DataFrame) else None
    lazy = frame.lazy() if isinstance(frame, pl.DataFrame) else frame
    engine = "auto" if memory is not None else "streaming"
    schema = dict(lazy.collect_schema())
    _check_columns(schema, quasi_cols, sensitive_cols, need_sensitive=need_sensitive)
    try:
        codes: dict[str, tuple[pl.Series, pl.Expr]] = {}
        totals: dict[str, np.ndarray] = {}
        if memory is not None and sensitive_cols and _few_combinations(memory, columns):
            counted, codes = count_by_pairs(memory, quasi_cols, sensitive_cols, schema)
            _check_values(codes)
        elif memory is not None and sensitive_cols:
            if memory.height == 0:
                raise DataError("the table has no rows; nothing to assess")
            counted, codes, totals = count_with_values(memory, quasi_cols, sensitive_cols, schema)
            _check_values(codes)
        elif sensitive_cols:
            found = lazy.select(
                pl.len().alias(SIZE), *(pl.col(s).unique().implode() for s in sensitive_cols)
            ).collect(engine=engine)
            if found[SIZE][0] == 0:
                raise DataError("the table has no rows; nothing to assess")
            for s in sensitive_cols:
                codes[s] = value_codes(found[s][0].sort(nulls_last=True).alias(s), schema[s])
            _check_values(codes)
            counted = count_grouped(lazy, quasi_cols, codes, engine)
        else:
            counted = count_grouped(lazy, quasi_cols, codes, engine)
    except pl.exceptions.PolarsError as err:
        raise DataError(f"could not read the table: {str(err).splitlines()[0]}") from err
    n_rows = int(counted.sizes.sum())
    if n_rows == 0:
        raise DataError("the table has no rows; nothing to assess")
    for col in quasi_cols:
        if memory is not None:
            missing = memory[col].null_count() == n_rows
        else:  # every class is all-null in the column only if every row is
            frame = counted.frame
            missing = frame is not None and frame[col].null_count() == frame.height
        if missing:
            raise DataError(
                f"column {col!r} holds only missing values; drop it from the roles or fill it"
            )
    return ClassTable(
        source=lazy,
        memory=memory,
        quasi=tuple(quasi_cols),
        sensitive=tuple(sensitive_cols),
        n_rows=n_rows,
        schema={c: schema[c] for c in [*quasi_cols, *sensitive_cols]},
        codes=codes,
        counted=counted,
        totals=totals,
    )


def equivalence_classes(data: Any, quasi: str | Sequence[str]) -> pl.DataFrame:
    """The equivalence classes of ``data`` under ``quasi``: one row per class with its size.

    Sorted by size, largest first. The records of a class share every
    quasi-identifier value, so an attacker who knows them cannot tell the
    class's records apart (Sweeney 2002).
    """
    return build_class_table(data, quasi, need_sensitive=False).classes()
