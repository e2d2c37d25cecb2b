"""Equivalence classes and the count table every anonymity measure derives from.

Each sensitive attribute is first coded by the rank of its value (one small
pass for the distinct values). Then one ``group_by(quasi-identifiers)`` pass
gives, for every class, its size and the number of records holding each
sensitive value (one scalar sum per value: cheap inside a polars group-by,
where list aggregations are not). Those counts become per-attribute *views*:
(class, value, count) rows sorted by class and value, from which all nine
techniques, the metrics and the risk measures are computed in numpy.
Attributes with more than ``DENSE_VALUES`` values, and pyCANON's
``gen=False`` mode, take one more grouped pass (the joint table of
quasi-identifiers and attribute).

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
SIZE = "size"
_CODE = "__veil_code"
_CLASS = "__veil_class"
_NESTED = (pl.List, pl.Array, pl.Struct, pl.Object)


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


#: Above this many distinct values, a sensitive attribute's per-class counts
#: come from the joint (quasi + sensitive) table instead of one column per value.
DENSE_VALUES = 64
_CHUNK = 1 << 16


def _value_codes(values: pl.Series, dtype: pl.DataType) -> tuple[pl.Series, pl.Expr]:
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


def _dense_columns(index: int, m: int) -> list[str]:
    return [f"__veil_{index}_{j}" for j in range(m)]


def _dense_aggregations(index: int, code: pl.Expr, m: int) -> list[pl.Expr]:
    """One count per sensitive value: cheap scalar sums inside a single group_by."""
    return [
        (code == j).sum().cast(pl.Int64).alias(name)
        for j, name in enumerate(_dense_columns(index, m))
    ]


def _view_from_rows(
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
    starts = np.searchsorted(cls, np.arange(n_classes)).astype(np.int64)
    sizes = np.add.reduceat(count, starts) if len(starts) else np.zeros(0, np.int64)
    totals = np.bincount(value, weights=count, minlength=len(values)).astype(np.int64)
    return SensitiveView(
        attribute=attribute,
        keys=tuple(keys),
        sizes=sizes.astype(np.int64),
        starts=starts,
        value=value.astype(np.int64),
        count=count.astype(np.int64),
        values=values,
        totals=totals,
        n_rows=n_rows,
        ordered=ordered,
    )


def _dense_to_rows(frame: pl.DataFrame, columns: list[str]) -> tuple[np.ndarray, ...]:
    """Non-zero cells of the class-by-value count columns, in chunks to bound memory."""
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for offset in range(0, frame.height, _CHUNK):
        matrix = frame.slice(offset, _CHUNK).select(columns).to_numpy()
        cls, value = np.nonzero(matrix)
        parts.append((cls + offset, value, matrix[cls, value]))
    if not parts:
        return tuple(np.zeros(0, np.int64) for _ in range(3))
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))


@dataclass(frozen=True)
class ClassTable:
    """The equivalence classes of a table and, lazily, each sensitive attribute's view of them.

    One ``group_by(quasi)`` pass over the data gives the classes, their sizes
    and, for each sensitive attribute with at most ``DENSE_VALUES`` values, its
    count per class (one scalar sum per value). Attributes with more values,
    and the ``others_as_quasi`` mode, take one more grouped pass each.
    """

    source: pl.LazyFrame
    streaming: bool
    quasi: tuple[str, ...]
    sensitive: tuple[str, ...]
    n_rows: int
    schema: dict[str, pl.DataType]
    frame: pl.DataFrame  # one row per class: quasi columns and SIZE
    codes: dict[str, tuple[pl.Series, pl.Expr]]
    _views: dict[tuple[str, bool], SensitiveView] = field(
        default_factory=dict, repr=False, compare=False
    )

    def _collect(self, query: pl.LazyFrame) -> pl.DataFrame:
        return query.collect(engine="streaming" if self.streaming else "auto")

    def class_sizes(self) -> np.ndarray:
        """Records per equivalence class over the quasi-identifiers."""
        return self.frame[SIZE].to_numpy().astype(np.int64)

    def classes(self) -> pl.DataFrame:
        """The equivalence classes with their sizes, largest first."""
        keys = list(self.quasi)
        return self.frame.select(*keys, SIZE).sort(
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
        if len(values) <= DENSE_VALUES:
            columns = _dense_columns(0, len(values))
            frame = self._collect(
                self.source.with_columns(code.alias(_CODE))
                .group_by(keys)
                .agg(_dense_aggregations(0, pl.col(_CODE), len(values)))
            )
            cls, value, count = _dense_to_rows(frame, columns)
            n_classes = frame.height
        else:
            joint = self._collect(
                self.source.group_by([*keys, code.alias(_CODE)]).agg(
                    pl.len().cast(pl.Int64).alias(COUNT)
                )
            )
            classes = joint.select(keys).unique().with_row_index(_CLASS)
            joint = joint.join(classes, on=keys, how="left", nulls_equal=True)
            cls = joint[_CLASS].to_numpy().astype(np.int64)
            value = joint[_CODE].to_numpy().astype(np.int64)
            count = joint[COUNT].to_numpy()
            order = np.lexsort((value, cls))
            cls, value, count = cls[order], value[order], count[order]
            n_classes = classes.height
        view = _view_from_rows(
            attribute,
            keys,
            cls,
            value,
            count,
            n_classes,
            values,
            self.n_rows,
            self._ordered(attribute),
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
    frame, _ = to_polars(data, lazy_files=True)
    streaming = isinstance(frame, pl.LazyFrame)
    engine = "streaming" if streaming else "auto"
    lazy = frame if isinstance(frame, pl.LazyFrame) else frame.lazy()
    schema = dict(lazy.collect_schema())
    _check_columns(schema, quasi_cols, sensitive_cols, need_sensitive=need_sensitive)
    try:
        codes = {}
        if sensitive_cols:
            found = lazy.select(
                pl.len().alias(COUNT), *(pl.col(s).unique().implode() for s in sensitive_cols)
            ).collect(engine=engine)
            if found[COUNT][0] == 0:
                raise DataError("the table has no rows; nothing to assess")
            for s in sensitive_cols:
                values = found[s][0].sort(nulls_last=True).alias(s)
                if values.null_count() == len(values):
                    raise DataError(
                        f"column {s!r} holds only missing values; drop it from the roles or fill it"
                    )
                codes[s] = _value_codes(values, schema[s])
        aggregations = [pl.len().cast(pl.Int64).alias(SIZE)]
        dense = {s: c for s, c in codes.items() if len(c[0]) <= DENSE_VALUES}
        coded = lazy.with_columns(
            code.alias(f"{_CODE}{i}") for i, (_, code) in enumerate(dense.values())
        )
        for i, (values, _) in enumerate(dense.values()):
            aggregations += _dense_aggregations(i + 1, pl.col(f"{_CODE}{i}"), len(values))
        query = coded.group_by(quasi_cols).agg(aggregations)
        classes = query.collect(engine=engine)
    except pl.exceptions.PolarsError as err:
        raise DataError(f"could not read the table: {str(err).splitlines()[0]}") from err
    n_rows = int(classes[SIZE].sum()) if classes.height else 0
    if n_rows == 0:
        raise DataError("the table has no rows; nothing to assess")
    for col in quasi_cols:
        if classes[col].null_count() == classes.height:
            raise DataError(
                f"column {col!r} holds only missing values; drop it from the roles or fill it"
            )
    table = ClassTable(
        source=lazy,
        streaming=streaming,
        quasi=tuple(quasi_cols),
        sensitive=tuple(sensitive_cols),
        n_rows=n_rows,
        schema={c: schema[c] for c in [*quasi_cols, *sensitive_cols]},
        frame=classes.select(*quasi_cols, SIZE),
        codes=codes,
    )
    for i, (s, (values, _)) in enumerate(dense.items()):
        cls, value, count = _dense_to_rows(classes, _dense_columns(i + 1, len(values)))
        table._views[(s, False)] = _view_from_rows(
            s, quasi_cols, cls, value, count, classes.height, values, n_rows, table._ordered(s)
        )
    return table


def equivalence_classes(data: Any, quasi: str | Sequence[str]) -> pl.DataFrame:
    """The equivalence classes of ``data`` under ``quasi``: one row per class with its size.

    Sorted by size, largest first. The records of a class share every
    quasi-identifier value, so an attacker who knows them cannot tell the
    class's records apart (Sweeney 2002).
    """
    return build_class_table(data, quasi, need_sensitive=False).classes()
