"""Generalization hierarchies: how each value of a quasi-identifier is coarsened, level by level.

A hierarchy maps every value of a column (level 0) to a label at each level
1..H, the last level usually the single label ``*``. Global recoding
(Samarati 2001) picks one level per quasi-identifier; the levels must coarsen
monotonically: two values in one group at level ``i`` stay in one group at
every level above ``i``, which is what makes the generalization lattice a
lattice and its pruning by monotonicity sound.

A hierarchy is given as a table (the ARX format: one row per value, one column
per level, no header, ``,`` or ``;`` separated), or built from the data
(:mod:`veil.anonymize.builders`). Either way it is materialised against the
column's actual values by :meth:`Hierarchy.table`, and :func:`validate_table`
checks coverage and monotonicity with errors that name the offending value.
"""

from __future__ import annotations

import csv
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

import polars as pl

from veil.errors import DataError, ParameterError

__all__ = [
    "Hierarchy",
    "TableHierarchy",
    "as_hierarchy",
    "level_names",
    "read_hierarchy",
    "validate_table",
]


def level_names(height: int) -> list[str]:
    """Column names of the levels above the raw value: ``level_1 .. level_H``."""
    return [f"level_{i}" for i in range(1, height + 1)]


class Hierarchy(ABC):
    """A recipe that coarsens the values of one column into nested groups."""

    @abstractmethod
    def table(self, values: pl.Series) -> pl.DataFrame:
        """Materialise the hierarchy for the distinct ``values`` of a column.

        Returns a frame with a column ``value`` (the distinct values, in the
        column's own dtype, a null included when the column has one) and string
        columns ``level_1 .. level_H``, one per generalization level.
        """

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({fields})"


def _with_null_row(table: pl.DataFrame, values: pl.Series) -> pl.DataFrame:
    """Give a missing value its own group at every level but a single-label top.

    A null is a category of its own (as in :mod:`veil.anonymity`): it stays
    null while the level has several groups and joins the top label when the
    last level is one label such as ``*``.
    """
    if values.null_count() == 0 or table["value"].null_count() > 0:
        return table
    names = level_names(table.width - 1)
    row: dict[str, Any] = {"value": None}
    for name in names:
        row[name] = None
    if names and table[names[-1]].n_unique() == 1:
        row[names[-1]] = table[names[-1]][0]
    extra = pl.DataFrame([row], schema=table.schema)
    return pl.concat([table, extra])


class TableHierarchy(Hierarchy):
    """A hierarchy given explicitly: one row per value, one column per level (ARX format).

    Parameters
    ----------
    rows
        A sequence of rows ``[value, level_1, ..., level_H]`` (strings), or a
        polars/pandas frame whose first column holds the values and the others
        the levels.
    source
        Where the rows came from, for error messages.
    """

    def __init__(self, rows: Any, *, source: str = "the hierarchy") -> None:
        self.rows = rows
        self.source = source

    def _frame(self) -> pl.DataFrame:
        rows = self.rows
        if isinstance(rows, pl.DataFrame):
            frame = rows
        elif type(rows).__module__.split(".")[0] == "pandas":
            frame = pl.from_pandas(rows, include_index=False)
        else:
            rows = [list(r) for r in rows]
            if not rows:
                raise DataError(f"{self.source} has no rows; expected one row per value")
            widths = {len(r) for r in rows}
            if len(widths) != 1:
                bad = next(i for i, r in enumerate(rows) if len(r) != len(rows[0]))
                raise DataError(
                    f"{self.source}: row {bad + 1} has {len(rows[bad])} levels but row 1 has "
                    f"{len(rows[0])}; every row needs one column per level"
                )
            frame = pl.DataFrame(
                [[None if c is None else str(c) for c in col] for col in zip(*rows, strict=True)],
                schema=[f"c{i}" for i in range(len(rows[0]))],
                orient="col",
            )
        if frame.width < 2:
            raise DataError(
                f"{self.source} has {frame.width} column; expected the value and at least "
                "one generalization level"
            )
        names = ["value", *level_names(frame.width - 1)]
        return frame.rename(dict(zip(frame.columns, names, strict=True))).with_columns(
            pl.col(names[1:]).cast(pl.String)
        )

    def table(self, values: pl.Series) -> pl.DataFrame:
        frame = self._frame()
        dtype = values.dtype
        raw = frame["value"]
        if raw.dtype != dtype:
            parsed = raw.cast(pl.String).str.strip_chars().cast(dtype, strict=False)
            unparsed = raw.filter(parsed.is_null() & raw.is_not_null())
            if unparsed.len() > 0:
                raise DataError(
                    f"{self.source}: value {unparsed[0]!r} cannot be read as {dtype} like the "
                    "column it generalizes; fix the hierarchy's first column"
                )
            frame = frame.with_columns(value=parsed)
        dupes = frame.filter(pl.col("value").is_duplicated())["value"]
        if dupes.len() > 0:
            raise DataError(
                f"{self.source}: value {dupes[0]!r} appears in more than one row; "
                "give each value exactly one row"
            )
        frame = _with_null_row(frame, values)
        present = values.unique()
        missing = present.filter(~present.is_in(frame["value"].implode(), nulls_equal=True))
        if missing.len() > 0:
            example = missing.sort(nulls_last=True)[0]
            hint = ""
            if isinstance(example, str) and example.strip() != example:
                hint = " (the data has surrounding spaces; strip them, e.g. str.strip_chars())"
            raise DataError(
                f"value {example!r} is missing from {self.source} ({missing.len()} value(s) "
                f"not covered){hint}; add a row for it"
            )
        return frame.filter(pl.col("value").is_in(present.implode(), nulls_equal=True))


def read_hierarchy(path: str | os.PathLike[str], *, delimiter: str | None = None) -> TableHierarchy:
    """Read an ARX-format hierarchy file: one row per value, one column per level, no header.

    The delimiter (``,``, ``;`` or tab) is detected when not given; quoted
    labels such as ``"[15, 20["`` are kept whole.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"hierarchy file {str(path)!r} does not exist")
    text = path.read_text(encoding="utf-8-sig")
    if not text.strip():
        raise DataError(f"hierarchy file {str(path)!r} is empty; expected one row per value")
    if delimiter is None:
        counts = {d: _count_outside_quotes(text.splitlines()[0], d) for d in ";,\t"}
        delimiter = max(counts, key=counts.__getitem__)
    rows = [r for r in csv.reader(text.splitlines(), delimiter=delimiter) if r]
    return TableHierarchy(rows, source=f"hierarchy {str(path)!r}")


def _count_outside_quotes(line: str, char: str) -> int:
    count, quoted = 0, False
    for c in line:
        if c == '"':
            quoted = not quoted
        elif c == char and not quoted:
            count += 1
    return count


def validate_table(table: pl.DataFrame, column: str) -> None:
    """Check that the levels of a materialised hierarchy coarsen monotonically.

    Every group at level ``i`` must fall inside one group at level ``i + 1``
    (level 0 being the raw values); otherwise global recoding is not a lattice.

    Raises
    ------
    DataError
        Naming the label that is split between two groups one level up.
    """
    names = level_names(table.width - 1)
    for lower, upper in pairwise(["value", *names]):
        split = (
            table.group_by(lower)
            .agg(pl.col(upper).unique(maintain_order=True))
            .filter(pl.col(upper).list.len() > 1)
        )
        if split.height > 0:
            label = split[lower][0]
            parents = split[upper][0].to_list()[:2]
            where = "value" if lower == "value" else f"label at {lower.replace('_', ' ')}"
            raise DataError(
                f"hierarchy of {column!r} is not monotone: {where} {label!r} maps to both "
                f"{parents[0]!r} and {parents[1]!r} at {upper.replace('_', ' ')}; each group "
                "must stay whole when generalized further"
            )


def as_hierarchy(spec: Any, column: str) -> Hierarchy:
    """Coerce what a user may pass for one column's hierarchy into a :class:`Hierarchy`.

    Accepted: a :class:`Hierarchy`; a path to an ARX-format file; a frame or a
    sequence of rows; a dict (value -> group) or a list of dicts (one per level),
    which become a grouping hierarchy topped by ``*``.
    """
    from veil.anonymize.builders import GroupingHierarchy

    if isinstance(spec, Hierarchy):
        return spec
    if isinstance(spec, (str, os.PathLike)):
        return read_hierarchy(spec)
    if isinstance(spec, Mapping):
        return GroupingHierarchy([spec])
    if isinstance(spec, pl.DataFrame) or type(spec).__module__.split(".")[0] == "pandas":
        return TableHierarchy(spec, source=f"the hierarchy of {column!r}")
    if isinstance(spec, Sequence) and spec and all(isinstance(s, Mapping) for s in spec):
        return GroupingHierarchy(list(spec))
    if isinstance(spec, Sequence) and spec and all(isinstance(s, Sequence) for s in spec):
        return TableHierarchy(spec, source=f"the hierarchy of {column!r}")
    raise ParameterError(
        f"hierarchy for {column!r} is a {type(spec).__name__}; expected a file path, a "
        "Hierarchy (e.g. IntervalHierarchy([5, 10])), a dict of groups, or rows of levels"
    )
