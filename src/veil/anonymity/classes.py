"""Equivalence classes and the one count table every anonymity measure derives from.

A table is read once: one ``group_by(quasi-identifiers + sensitive attributes)``
gives the *joint count table*, one row per distinct combination with its number
of records. Everything else (class sizes, each sensitive attribute's
distribution inside each class, the table-wide distribution) is computed from
that table, which is never larger than the data and usually far smaller.

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

from veil.errors import ColumnError, DataError, ParameterError
from veil.io import to_polars
from veil.roles import as_column_list

__all__ = ["ClassTable", "SensitiveView", "build_class_table", "equivalence_classes"]

COUNT = "__veil_n"
_NESTED = (pl.List, pl.Array, pl.Struct, pl.Object)


@dataclass(frozen=True)
class SensitiveView:
    """Equivalence classes seen from one sensitive attribute.

    Rows are (class, value) pairs present in the data, grouped by class:
    ``starts[c]`` is the first row of class ``c``. Values are indexed in the
    table-wide sorted order (nulls last), the order pyCANON's ``np.unique`` uses.
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

    @property
    def n_classes(self) -> int:
        return len(self.sizes)

    @property
    def distinct(self) -> np.ndarray:
        """Number of distinct values in each class."""
        return np.diff(np.append(self.starts, len(self.value)))

    @property
    def row_class(self) -> np.ndarray:
        """Class index of each row."""
        return np.repeat(np.arange(self.n_classes), self.distinct)

    def class_rows(self, c: int) -> tuple[np.ndarray, np.ndarray]:
        """Value indices and counts of class ``c``, sorted by value."""
        lo = self.starts[c]
        hi = self.starts[c + 1] if c + 1 < self.n_classes else len(self.value)
        order = np.argsort(self.value[lo:hi], kind="stable")
        return self.value[lo:hi][order], self.count[lo:hi][order]


@dataclass(frozen=True)
class ClassTable:
    """The joint count table of a table under given quasi-identifiers and sensitive attributes."""

    joint: pl.DataFrame  # quasi + sensitive columns, and COUNT
    quasi: tuple[str, ...]
    sensitive: tuple[str, ...]
    n_rows: int
    schema: dict[str, pl.DataType]
    _views: dict[tuple[str, bool], SensitiveView] = field(
        default_factory=dict, repr=False, compare=False
    )

    def class_sizes(self, keys: Sequence[str] | None = None) -> np.ndarray:
        """Records per equivalence class over ``keys`` (the quasi-identifiers by default)."""
        keys = list(self.quasi if keys is None else keys)
        if set(keys) | {COUNT} == set(self.joint.columns):
            return self.joint[COUNT].to_numpy().astype(np.int64)
        sizes = self.joint.group_by(keys).agg(pl.col(COUNT).sum())[COUNT]
        return sizes.to_numpy().astype(np.int64)

    def classes(self, keys: Sequence[str] | None = None) -> pl.DataFrame:
        """The equivalence classes over ``keys`` with their sizes, largest first."""
        keys = list(self.quasi if keys is None else keys)
        return (
            self.joint.group_by(keys)
            .agg(pl.col(COUNT).sum().alias("size"))
            .sort(["size", *keys], descending=[True] + [False] * len(keys), nulls_last=True)
        )

    def view(self, attribute: str, *, others_as_quasi: bool = False) -> SensitiveView:
        """The classes as seen from ``attribute``.

        With ``others_as_quasi`` the other sensitive attributes join the
        quasi-identifiers (pyCANON's ``gen=False``).
        """
        cached = self._views.get((attribute, others_as_quasi))
        if cached is not None:
            return cached
        keys = list(self.quasi)
        if others_as_quasi:
            keys += [s for s in self.sensitive if s != attribute]
        table = self.joint
        if set(keys) | {attribute, COUNT} != set(table.columns):
            table = table.group_by([*keys, attribute]).agg(pl.col(COUNT).sum())
        totals = (
            table.group_by(attribute)
            .agg(pl.col(COUNT).sum())
            .sort(attribute, nulls_last=True)
            .with_row_index("__veil_v")
        )
        table = table.join(
            totals.select(attribute, "__veil_v"), on=attribute, how="left", nulls_equal=True
        )
        grouped = table.group_by(keys).agg(pl.col("__veil_v"), pl.col(COUNT))
        lengths = grouped["__veil_v"].list.len().to_numpy().astype(np.int64)
        rows = grouped.select(pl.col("__veil_v").explode(), pl.col(COUNT).explode())
        value = rows["__veil_v"].to_numpy().astype(np.int64)
        count = rows[COUNT].to_numpy().astype(np.int64)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        sizes = np.add.reduceat(count, starts) if len(starts) else np.zeros(0, np.int64)
        dtype = self.schema[attribute]
        view = SensitiveView(
            attribute=attribute,
            keys=tuple(keys),
            sizes=sizes.astype(np.int64),
            starts=starts,
            value=value,
            count=count,
            values=totals[attribute],
            totals=totals[COUNT].to_numpy().astype(np.int64),
            n_rows=self.n_rows,
            ordered=dtype.is_numeric() or dtype.is_temporal() or dtype == pl.Boolean,
        )
        self._views[(attribute, others_as_quasi)] = view
        return view

    def views(self, *, others_as_quasi: bool = False) -> list[SensitiveView]:
        """One view per sensitive attribute, in the order they were given."""
        return [self.view(s, others_as_quasi=others_as_quasi) for s in self.sensitive]


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


def build_class_table(
    data: Any,
    quasi: str | Sequence[str],
    sensitive: str | Sequence[str] | None = None,
    *,
    need_sensitive: bool = True,
) -> ClassTable:
    """Validate the columns and compute the joint count table in one pass over ``data``.

    Raises
    ------
    ColumnError
        A column is missing, nested, or both quasi-identifier and sensitive.
    DataError
        The table is empty, or a named column holds only missing values.
    """
    quasi_cols = as_column_list(quasi, what="quasi-identifiers")
    sensitive_cols = as_column_list(sensitive, what="sensitive attributes")
    frame, _ = to_polars(data, lazy_files=True)
    lazy = frame.lazy() if isinstance(frame, pl.DataFrame) else frame
    schema = dict(lazy.collect_schema())
    _check_columns(schema, quasi_cols, sensitive_cols, need_sensitive=need_sensitive)
    columns = [*quasi_cols, *sensitive_cols]
    query = lazy.group_by(columns).agg(pl.len().cast(pl.Int64).alias(COUNT))
    try:
        joint = query.collect(engine="streaming" if isinstance(frame, pl.LazyFrame) else "auto")
    except pl.exceptions.PolarsError as err:
        raise DataError(f"could not read the table: {str(err).splitlines()[0]}") from err
    n_rows = int(joint[COUNT].sum()) if joint.height else 0
    if n_rows == 0:
        raise DataError("the table has no rows; nothing to assess")
    for col in columns:
        if joint[col].null_count() == joint.height:
            raise DataError(
                f"column {col!r} holds only missing values; drop it from the roles or fill it"
            )
    return ClassTable(
        joint=joint,
        quasi=tuple(quasi_cols),
        sensitive=tuple(sensitive_cols),
        n_rows=n_rows,
        schema={c: schema[c] for c in columns},
    )


def equivalence_classes(data: Any, quasi: str | Sequence[str]) -> pl.DataFrame:
    """The equivalence classes of ``data`` under ``quasi``: one row per class with its size.

    Sorted by size, largest first. The records of a class share every
    quasi-identifier value, so an attacker who knows them cannot tell the
    class's records apart (Sweeney 2002).
    """
    return build_class_table(data, quasi, need_sensitive=False).classes()
