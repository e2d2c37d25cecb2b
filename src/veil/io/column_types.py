"""Types of the columns of a text table, decided from every value of each column.

A delimited file holds text. A column becomes a number or a date only when
*every* non-missing value reads as one and would be written back as the same
text, so reading a table and writing it back never changes a value:

- **integers**: ``-?`` then digits without a leading zero (``0`` alone is
  fine). ``02139``, ``+5`` or ``007`` keep the column text: ZIP codes and ids
  keep their zeros wherever in the file they appear.
- **decimals**: the same integer part, then ``.digits`` and/or an exponent
  (``0.5``, ``1e-3``); ``nan`` and ``inf`` keep the column text, as does an
  integer of more than 18 digits (an id a float would round).
- **dates** in one of :data:`DATE_FORMATS`, zero-padded (so that they print
  back the same): ISO ``2015-01-02`` and ISO date-times, ``2015/01/02``, and
  day/month forms ``02/01/2015``, ``02.01.2015``, ``02-01-2015``. Day-first
  or month-first is decided by the data: a first field above 12 means
  day-first, a second above 12 month-first; when no value tells, the column
  stays text unless the user names its format. Each date column remembers its
  format, so :func:`veil.io.write_table` writes it back as it came.

Anything else, including a single late value that does not fit, keeps the
column text. The work is vectorised in polars: the first 1,000 rows rule out
most types, then one pass over the whole column checks the survivors.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from veil.errors import ColumnError, DataError

__all__ = ["DATE_FORMATS", "SAMPLE_ROWS", "ColumnType", "infer_types", "typed"]

SAMPLE_ROWS = 1000

_INTEGER = "integer"
_DECIMAL = "decimal"
# An integer part with no leading zero, a fraction and/or an exponent; an
# integer alone of at most 18 digits (it fits in 64 bits).
_DECIMAL_TEXT = (
    r"^-?(?:(?:0|[1-9][0-9]{0,17})"
    r"|(?:0|[1-9][0-9]*)\.[0-9]*(?:[eE][+-]?[0-9]+)?"
    r"|(?:0|[1-9][0-9]*)[eE][+-]?[0-9]+"
    r"|\.[0-9]+(?:[eE][+-]?[0-9]+)?)$"
)

_D2, _Y4, _T = r"[0-9]{2}", r"[0-9]{4}", r"[0-9]{2}:[0-9]{2}"

#: Date and date-time forms recognised in text columns: strftime format -> shape.
DATE_FORMATS: dict[str, str] = {
    "%Y-%m-%d": rf"^{_Y4}-{_D2}-{_D2}$",
    "%Y/%m/%d": rf"^{_Y4}/{_D2}/{_D2}$",
    "%Y-%m-%dT%H:%M:%S": rf"^{_Y4}-{_D2}-{_D2}T{_T}:{_D2}$",
    "%Y-%m-%d %H:%M:%S": rf"^{_Y4}-{_D2}-{_D2} {_T}:{_D2}$",
    "%Y-%m-%dT%H:%M": rf"^{_Y4}-{_D2}-{_D2}T{_T}$",
    "%Y-%m-%d %H:%M": rf"^{_Y4}-{_D2}-{_D2} {_T}$",
    "%Y-%m-%dT%H:%M:%S%.3f": rf"^{_Y4}-{_D2}-{_D2}T{_T}:{_D2}\.[0-9]{{3}}$",
    "%Y-%m-%d %H:%M:%S%.3f": rf"^{_Y4}-{_D2}-{_D2} {_T}:{_D2}\.[0-9]{{3}}$",
    "%Y-%m-%dT%H:%M:%S%.6f": rf"^{_Y4}-{_D2}-{_D2}T{_T}:{_D2}\.[0-9]{{6}}$",
    "%Y-%m-%d %H:%M:%S%.6f": rf"^{_Y4}-{_D2}-{_D2} {_T}:{_D2}\.[0-9]{{6}}$",
    **{
        f"%d{s}%m{s}%Y": rf"^{_D2}\{s}{_D2}\{s}{_Y4}$"
        for s in "/.-"  # day first
    },
    **{f"%m{s}%d{s}%Y": rf"^{_D2}\{s}{_D2}\{s}{_Y4}$" for s in "/.-"},  # month first
}
# Formats that read the same text two ways: the data must tell them apart.
_DAY_MONTH = {f"%d{s}%m{s}%Y": f"%m{s}%d{s}%Y" for s in "/.-"}


@dataclass(frozen=True)
class ColumnType:
    """The type a text column is read as, and for dates the format it is written in."""

    dtype: pl.DataType
    format: str | None = None


_KINDS = [_INTEGER, _DECIMAL, *DATE_FORMATS]
_SHAPES = {
    _INTEGER: re.compile(r"-?(?:0|[1-9][0-9]{0,17})"),
    _DECIMAL: re.compile(_DECIMAL_TEXT),
    **{fmt: re.compile(shape) for fmt, shape in DATE_FORMATS.items()},
}


def _is_time(fmt: str) -> bool:
    return "%H" in fmt


def _dtype(kind: str) -> pl.DataType:
    if kind == _INTEGER:
        return pl.Int64()
    if kind == _DECIMAL:
        return pl.Float64()
    return pl.Datetime("us") if _is_time(kind) else pl.Date()


def _parse(column: pl.Expr, kind: str, *, strict: bool = False) -> pl.Expr:
    """The values of a text column read as ``kind``; null where one does not read."""
    if kind == _INTEGER:
        return column.cast(pl.Int64, strict=strict)
    if kind == _DECIMAL:
        return column.cast(pl.Float64, strict=strict)
    if _is_time(kind):
        return column.str.to_datetime(kind, time_unit="us", strict=strict)
    return column.str.to_date(kind, strict=strict)


def _canonical_length(parsed: pl.Expr, low: int, high: int) -> pl.Expr:
    """How many characters integers print as, summed, given their range.

    Each has from ``low`` to ``high`` digits (the range its min and max
    tell): ``low``, one more for each power of ten above that it reaches,
    and one for a minus sign.
    """
    size = parsed.abs()
    longer = [(size >= 10**k).sum() for k in range(low, high)]
    return pl.sum_horizontal(parsed.count() * low, (parsed < 0).sum(), *longer)


def _digit_range(low: int | None, high: int | None) -> tuple[int, int]:
    """The fewest and most digits of integers between ``low`` and ``high``."""
    if low is None or high is None:
        return 1, 1
    sizes = [abs(low), abs(high)]
    smallest = 0 if low <= 0 <= high else min(sizes)
    return len(str(smallest)), len(str(max(sizes)))


def _all_fit(
    text: pl.Expr,
    parsed: pl.Expr,
    kind: str,
    *,
    lenient: bool,
    digits: tuple[int, int] | None = None,
) -> pl.Expr:
    """Whether every value reads as ``kind`` and prints back as the same text (one boolean).

    ``lenient``: a format the user gave, where reading is enough. ``digits``:
    the fewest and most digits the integers of the column have, when known
    (it saves a pass over the text).
    """
    reads = parsed.count() == text.count()
    if lenient:
        return reads
    if kind == _INTEGER:
        # Polars also reads "+5" and "007" as integers; they print back shorter.
        if digits is not None:
            # The text is as long as the printed integers only when every value
            # prints back as it is written: a few sums, no pass over the text.
            printed = _canonical_length(parsed, *digits)
            return reads & (text.str.len_bytes().sum() == printed)
        length = text.str.len_bytes()
        longer = (
            text.str.starts_with("+")
            | (text.str.starts_with("0") & (length > 1))
            | text.str.starts_with("-0")
        )
        return reads & ~longer.any()
    if kind == _DECIMAL:
        return text.str.contains(_DECIMAL_TEXT).all()  # no nan, inf, "+", leading zero
    return reads & text.str.contains(DATE_FORMATS[kind]).all()


def _fits(value: str, kind: str) -> bool:
    """Whether one value has the shape of ``kind`` (a cheap first screen, in Python)."""
    shape = _SHAPES.get(kind)
    return shape is None or shape.fullmatch(value) is not None


def _steps(kinds: list[str]) -> list[list[str]]:
    """Candidate kinds in the order they are tried; a day/month pair is tried together."""
    steps: list[list[str]] = []
    for kind in kinds:
        if kind in _DAY_MONTH.values() and any(kind in step for step in steps):
            continue
        pair = _DAY_MONTH.get(kind)
        steps.append([kind, pair] if pair in kinds else [kind])
    return steps


class _Column:
    """The search for one column's type: candidate kinds, tried most specific first."""

    def __init__(self, name: str, kinds: list[str], *, named: bool, fmt: str | None) -> None:
        self.name = name
        self.steps = _steps(kinds)
        self.named = named  # the user named it as dates
        self.fmt = fmt  # in a format of their own: reading is enough
        self.lenient = fmt is not None
        self.kind: str | None = None
        self.ambiguous: list[str] = []
        self.unseen = False  # no value among the first rows

    @property
    def open(self) -> bool:
        return self.kind is None and bool(self.steps) and not self.ambiguous

    def decide(self, fit: dict[str, bool]) -> None:
        """Keep the kind of this step that every value fits, or move on to the next step."""
        step = self.steps.pop(0)
        fits = [kind for kind in step if fit[kind]]
        if len(fits) == 1:
            self.kind = fits[0]
        elif len(fits) == 2:
            self.ambiguous = fits  # 01/02/2015: January or February? The data does not say.


def _screen(sample: pl.DataFrame, columns: list[_Column]) -> None:
    """Drop the kinds that some value among the first rows does not fit."""
    exprs, keys = [], []
    for col in columns:
        text = pl.col(col.name)
        values = sample.get_column(col.name).drop_nulls()
        first = values[0] if len(values) else None
        col.unseen = first is None
        for step in col.steps:
            for kind in step:
                if first is not None and not col.lenient and not _fits(first, kind):
                    continue
                fit = _all_fit(text, _parse(text, kind), kind, lenient=col.lenient)
                exprs.append(fit.alias(f"{len(keys)}"))
                keys.append((col, kind))
    row = sample.select(exprs).row(0) if exprs else ()
    kept: dict[int, list[str]] = {}
    for (col, kind), ok in zip(keys, row, strict=True):
        if ok:
            kept.setdefault(id(col), []).append(kind)
    for col in columns:
        col.steps = _steps(kept.get(id(col), []))


def infer_types(
    frame: pl.DataFrame | pl.LazyFrame,
    sample: pl.DataFrame,
    *,
    dates: Mapping[str, str | None] | None = None,
    extra: list[pl.Expr] | None = None,
    check: Callable[[dict[str, Any]], None] | None = None,
    guess: bool = True,
) -> tuple[pl.DataFrame | pl.LazyFrame, dict[str, ColumnType]]:
    """Read each text column of ``frame`` as the type all of its values have.

    Parameters
    ----------
    frame
        The table, its columns text (a LazyFrame is scanned, streaming, and
        comes back lazy; a DataFrame is parsed once, its typed columns kept).
    sample
        Its first rows (:data:`SAMPLE_ROWS`), which rule out most types cheaply.
    dates
        Columns the user names as dates, each with its strftime format, or
        ``None`` to have it recognised; such a column must be all dates.
    extra, check
        More one-row aggregations to compute in the first pass over the data,
        and a function called with their values before any type is decided
        (the caller's checks of the file).
    guess
        Whether to recognise the types of the columns not named in ``dates``
        (``False`` for tables whose columns are typed already).

    Returns
    -------
    frame, types
        The table with its columns typed, and the type of each column that is
        not text (dates with their format).

    Raises
    ------
    ColumnError
        A column named in ``dates`` is not in the table.
    DataError
        A column named in ``dates`` holds a value that is not a date in its format.
    """
    dates = dict(dates or {})
    schema = frame.collect_schema() if isinstance(frame, pl.LazyFrame) else frame.schema
    for name in dates:
        if name not in schema:
            raise ColumnError(
                f"column {name!r} named as dates is not in the table; columns are: "
                f"{', '.join(schema.names())}"
            )
    columns = []
    for name, dtype in schema.items():
        if dtype != pl.String or not (guess or name in dates):
            continue
        if name in dates:
            fmt = dates[name]
            kinds = [fmt] if fmt else list(DATE_FORMATS)
            columns.append(_Column(name, kinds, named=True, fmt=fmt))
        else:
            columns.append(_Column(name, list(_KINDS), named=False, fmt=None))
    _screen(sample.head(SAMPLE_ROWS), columns)

    # Each pass tries the most specific kind left for every open column, so
    # that a column usually costs one parse; an eager table keeps the parsed
    # column. Only a column that a late value rules out takes another pass.
    eager = isinstance(frame, pl.DataFrame)
    parsed: dict[str, pl.Series] = {}
    extras = list(extra or [])
    while extras or any(col.open for col in columns):
        todo = [col for col in columns if col.open]
        exprs, reads = [], []
        for col in todo:
            text = pl.col(col.name)
            if col.unseen:
                exprs.append(text.drop_nulls().first().alias(f"{col.name}\x00first"))
            for kind in col.steps[0]:
                key = f"{col.name}\x00{kind}"
                read = _parse(text, kind).alias(key)
                if eager:
                    reads.append(read)
                    continue  # its check is built once the parsed column exists
                exprs.append(_all_fit(text, read, kind, lenient=col.lenient).alias(key))
        wide = frame.with_columns(reads) if reads else frame
        if eager:
            exprs = _with_digits(wide, exprs, todo)
        own = {e.meta.output_name() for e in exprs}
        stats = wide.lazy().select(exprs + extras).collect(engine="auto" if eager else "streaming")
        row = stats.row(0, named=True)
        if extras:
            if check is not None:
                check({key: value for key, value in row.items() if key not in own})
            extras = []
        for col in todo:
            if col.unseen:
                first = row[f"{col.name}\x00first"]
                if first is None:  # every value missing: the column stays text
                    col.steps = []
                    continue
                col.steps = _steps([k for s in col.steps for k in s if _fits(first, k)])
                col.unseen = False
            while col.open and f"{col.name}\x00{col.steps[0][0]}" in row:
                col.decide({k: row[f"{col.name}\x00{k}"] for k in col.steps[0]})
            if col.kind is not None and eager:
                parsed[col.name] = wide.get_column(f"{col.name}\x00{col.kind}").alias(col.name)

    types: dict[str, ColumnType] = {}
    for col in columns:
        if col.named:
            types[col.name] = _named_date(frame, col)
        elif col.kind is not None:
            types[col.name] = ColumnType(
                _dtype(col.kind), None if col.kind in (_INTEGER, _DECIMAL) else col.kind
            )
    if eager:
        assert isinstance(frame, pl.DataFrame)
        missing = [
            _parse(pl.col(n), t.format or _kind_of(t), strict=True).alias(n)
            for n, t in types.items()
            if n not in parsed
        ]
        return frame.with_columns(list(parsed.values()) + missing), types
    return typed(frame, types), types


def _with_digits(wide: pl.DataFrame, exprs: list[pl.Expr], todo: list[_Column]) -> list[pl.Expr]:
    """The checks of the parsed columns of an eager table, integers told their longest value.

    An integer column is checked against the powers of ten between its
    smallest and largest values only, which a first cheap pass (min, max) tells.
    """
    keys = [(col, kind) for col in todo for kind in col.steps[0]]
    ints = [f"{col.name}\x00{kind}" for col, kind in keys if kind == _INTEGER]
    bounds = (
        wide.select(
            [pl.col(k).min().alias(f"{k}\x00min") for k in ints]
            + [pl.col(k).max().alias(f"{k}\x00max") for k in ints]
        ).row(0, named=True)
        if ints
        else {}
    )
    out = list(exprs)
    for col, kind in keys:
        key = f"{col.name}\x00{kind}"
        digits = None
        if kind == _INTEGER:
            digits = _digit_range(bounds[f"{key}\x00min"], bounds[f"{key}\x00max"])
        fit = _all_fit(pl.col(col.name), pl.col(key), kind, lenient=col.lenient, digits=digits)
        out.append(fit.alias(key))
    return out


def _kind_of(column_type: ColumnType) -> str:
    return _INTEGER if column_type.dtype == pl.Int64 else _DECIMAL


def _named_date(frame: pl.DataFrame | pl.LazyFrame, col: _Column) -> ColumnType:
    """The type of a column the user named as dates, or why it cannot be one."""
    name = col.name
    if col.kind is not None:
        return ColumnType(_dtype(col.kind), col.kind)
    if col.ambiguous:
        day, month = col.ambiguous
        raise DataError(
            f"column {name!r} has dates that read both day-first and month-first (like "
            f"01/02/2015); give the format: {name}={day} (day first) or {name}={month} "
            "(month first)"
        )
    text = pl.col(name)
    fmt = col.fmt
    bad = (_parse(text, fmt).is_null() & text.is_not_null()) if fmt else text.is_not_null()
    example = frame.lazy().filter(bad).select(name).head(1).collect()
    value = example[name][0] if example.height else None
    if fmt:
        raise DataError(
            f"column {name!r} was named as dates in the format {fmt!r}, but value {value!r} "
            "does not read in it; fix the value or give its format (strftime codes, e.g. "
            "%d/%m/%Y)"
        )
    raise DataError(
        f"column {name!r} was named as dates, but its values (e.g. {value!r}) are not all "
        "in one known date form (2015-01-31, 31/01/2015, 01/31/2015...); give the format, "
        f"e.g. {name}=%d/%m/%Y"
    )


def typed(frame: Any, types: Mapping[str, ColumnType]) -> Any:
    """``frame`` (eager or lazy) with its text columns read as ``types`` say."""
    if not types:
        return frame
    return frame.with_columns(
        _parse(pl.col(name), t.format or _kind_of(t), strict=True).alias(name)
        for name, t in types.items()
    )
