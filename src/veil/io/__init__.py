"""Tables in, tables out: the one place where user data is read and converted.

Every tabular entry point of veil accepts a path (CSV, TSV, Parquet, Arrow IPC),
a pandas DataFrame, a polars DataFrame or LazyFrame, or a pyarrow Table. It is
converted once, here, to polars; results go back in the type the user gave.
Files are never modified; outputs are written to a temporary file in the same
folder and renamed over the target, so a reader never sees half a file.

Delimited text files are read as text, checked against one rule for malformed
files (:mod:`veil.io.delimited`), then each column gets a type from all of its
values (:mod:`veil.io.column_types`), so that a table read and written back is
unchanged: ZIP codes keep their leading zeros, a late text value keeps its
column text, dates are written in the form they came in.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from veil.errors import DataError
from veil.io.column_types import infer_types
from veil.io.delimited import DelimitedFile, first_line, has_text_bom, open_delimited
from veil.io.writing import IPC_SUFFIXES, PARQUET_SUFFIXES, atomic_path, write_table, write_text

__all__ = [
    "TableSource",
    "atomic_path",
    "from_polars",
    "read_table",
    "scan_table",
    "to_polars",
    "write_table",
    "write_text",
]

Dates = Mapping[str, str | None] | Sequence[str] | None


@dataclass(frozen=True)
class TableSource:
    """What the user handed in, so results can go back in the same type and form.

    Attributes
    ----------
    kind
        ``"path"``, ``"polars"``, ``"lazy"``, ``"pandas"`` or ``"arrow"``.
    formats
        The strftime format each date column was read in (text files, and
        columns named in ``dates``): pass it to :func:`write_table` to write
        the dates back as they came.
    """

    kind: str
    formats: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)


def _as_dates(dates: Dates) -> dict[str, str | None]:
    """``dates`` as a mapping column -> format (``None``: recognise the format)."""
    if dates is None:
        return {}
    if isinstance(dates, str):
        return {dates: None}
    if isinstance(dates, Mapping):
        return dict(dates)
    return dict.fromkeys(dates)


def _check_path(path: Path) -> None:
    if not path.exists():
        raise DataError(f"file {str(path)!r} does not exist")
    if path.is_dir():
        raise DataError(f"{str(path)!r} is a folder; expected a table file (CSV or Parquet)")
    if not os.access(path, os.R_OK):
        raise DataError(f"file {str(path)!r} cannot be read (permission denied)")


def _nan_to_null(frame: pl.DataFrame | pl.LazyFrame) -> Any:
    """Make float NaN a missing value, so that every missing value is one polars null.

    An eager table is copied only in the columns that do hold a NaN.
    """
    schema = frame.collect_schema() if isinstance(frame, pl.LazyFrame) else frame.schema
    floats = [name for name, dtype in schema.items() if dtype.is_float()]
    if floats and isinstance(frame, pl.DataFrame):
        floats = [name for name in floats if _has_nan(frame.get_column(name))]
    if not floats:
        return frame
    return frame.with_columns(pl.col(floats).fill_nan(None))


def _has_nan(series: pl.Series) -> bool:
    """Whether a float column holds a NaN; one reduction pass, no temporary column."""
    if series.null_count() or not len(series):
        return bool(series.is_nan().any())
    # NaN propagates through min, and to_numpy shares the column's memory here.
    return bool(np.isnan(np.min(series.to_numpy())))


def _open_file(
    path: Path,
    *,
    delimiter: str | None,
    encoding: str | None,
    dates: dict[str, str | None],
    strip: bool,
    lazy: bool,
) -> tuple[pl.DataFrame | pl.LazyFrame, TableSource]:
    """Read a table file: typed by its format (Parquet, Arrow) or by its values (text)."""
    _check_path(path)
    suffix = path.suffix.lower()
    kind = _sniff_kind(path)
    try:
        if suffix in PARQUET_SUFFIXES or kind == "parquet":
            frame: pl.DataFrame | pl.LazyFrame = pl.scan_parquet(path)
        elif suffix in IPC_SUFFIXES or kind == "ipc":
            frame = pl.scan_ipc(path)
        else:
            file = open_delimited(path, delimiter=delimiter, encoding=encoding)
            stream = lazy and _streams(path)
            try:
                frame, source = _read_delimited(file, dates=dates, strip=strip, lazy=stream)
            except DataError as err:
                # The encoding is sniffed from the first 64 KiB: a later byte may say otherwise.
                again = file.redecoded() if encoding is None and "utf-8" in str(err) else None
                if again is None:
                    raise
                frame, source = _read_delimited(again, dates=dates, strip=strip, lazy=stream)
            return (frame.lazy() if lazy else frame), source
        schema = frame.collect_schema()
    except (pl.exceptions.PolarsError, OSError) as err:
        raise DataError(f"could not read {str(path)!r}: {first_line(err)}") from err
    if len(schema) == 0:
        raise DataError(f"{str(path)!r} has no columns")
    if not lazy:
        frame = _collect(frame, path)
    frame, formats = _prepare(frame, dates=dates, strip=strip)
    return _nan_to_null(frame), TableSource("path", formats)


def _streams(path: Path) -> bool:
    """Whether a text file asked for lazily is streamed rather than read whole.

    Streaming takes a pass over the bytes (the record check), one over the
    columns that may be numbers or dates (their types), then the query's own:
    about three times one eager read. A file whose text takes under an eighth
    of the free memory (some 3 to 4 times its size) is read whole instead.
    """
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):  # not a POSIX system
        return True
    return path.stat().st_size * 32 > free


def _read_delimited(
    file: DelimitedFile, *, dates: dict[str, str | None], strip: bool, lazy: bool
) -> tuple[pl.DataFrame | pl.LazyFrame, TableSource]:
    """A delimited file, checked, then typed from all of its values.

    Eager: one read; the checks of the records ride on the typing pass.
    Lazy (streaming, for files larger than memory): the records are checked
    by a pass over the bytes, then the typing pass reads only the columns that
    may be numbers or dates.
    """
    text, sample = file.text(lazy=lazy)
    names = sample.columns
    if not names:
        raise DataError(f"{str(file.path)!r} has no columns")
    if strip:
        text, sample = _stripped(text), _stripped(sample)
    records: list[int | None] = [None]

    def check(values: dict[str, Any]) -> None:
        records[0] = file.records(values)

    try:
        if lazy:
            trailing = file.check()
            if trailing:
                records[0] = text.select(pl.len()).collect().item() - trailing
            frame, types = infer_types(text, sample, dates=dates)
        else:
            frame, types = infer_types(
                text, sample, dates=dates, extra=file.record_checks(names), check=check
            )
    except pl.exceptions.PolarsError as err:
        raise file.malformed_or(err) from err
    if records[0] is not None:
        frame = frame.head(records[0])
    formats = {name: t.format for name, t in types.items() if t.format is not None}
    return frame, TableSource("path", formats)


def _stripped(frame: Any) -> Any:
    """Text values without surrounding whitespace (``--strip``: " Bachelors" -> "Bachelors")."""
    return frame.with_columns(pl.col(pl.String).str.strip_chars())


def _prepare(frame: Any, *, dates: dict[str, str | None], strip: bool) -> tuple[Any, dict]:
    """Strip text and read the columns named in ``dates`` of an already typed table."""
    if strip:
        frame = _stripped(frame)
    if not dates:
        return frame, {}
    sample = frame.head(1000)
    sample = sample.collect() if isinstance(sample, pl.LazyFrame) else sample
    frame, types = infer_types(frame, sample, dates=dates, guess=False)
    return frame, {n: t.format for n, t in types.items() if t.format is not None}


def _collect(frame: pl.DataFrame | pl.LazyFrame, source: Any) -> pl.DataFrame:
    if isinstance(frame, pl.DataFrame):
        return frame
    try:
        return frame.collect()
    except pl.exceptions.PolarsError as err:
        where = str(source) if isinstance(source, (str, os.PathLike)) else "the table"
        raise DataError(f"could not read {where!r}: {first_line(err)}") from err


def scan_table(
    source: str | os.PathLike[str],
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
    dates: Dates = None,
    strip: bool = False,
) -> pl.LazyFrame:
    """Open a table file lazily (for tables larger than memory).

    A text file is checked and typed in one streaming pass over it (see
    :func:`read_table`); non-UTF-8 text is decoded in memory, since polars
    scans only UTF-8.
    """
    frame, _ = _open_file(
        Path(source),
        delimiter=delimiter,
        encoding=encoding,
        dates=_as_dates(dates),
        strip=strip,
        lazy=True,
    )
    assert isinstance(frame, pl.LazyFrame)
    return frame


def _sniff_kind(path: Path) -> str:
    """Tell Parquet and Arrow files by their magic bytes; refuse other binary files."""
    with open(path, "rb") as fh:
        head = fh.read(512)
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"ARROW1"):
        return "ipc"
    if b"\x00" in head and not has_text_bom(head):
        raise DataError(
            f"{str(path)!r} is a binary file, not a table; expected CSV, TSV, Parquet or Arrow"
        )
    return "text"


def read_table(
    source: Any,
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
    dates: Dates = None,
    strip: bool = False,
) -> pl.DataFrame:
    """Read any supported table into a polars DataFrame.

    A delimited text file is read as text, then each column takes a type
    only if every one of its values reads as that type and prints back the
    same (:mod:`veil.io.column_types`): a column of ZIP codes with a leading
    zero anywhere stays text, a column with one late text value stays text,
    ISO and day/month dates become dates.

    Parameters
    ----------
    source
        A path (CSV/TSV/Parquet/Arrow IPC), or a pandas, polars or pyarrow table.
    delimiter, encoding
        For CSV files; detected from the file when omitted.
    dates
        Text columns to read as dates: names (the format is recognised), or a
        mapping name -> strftime format (``{"visit": "%d/%m/%Y"}``).
    strip
        Remove the whitespace around every text value (before typing), e.g.
        for UCI Adult, whose values start with a space.

    Raises
    ------
    DataError
        The file is missing, unreadable, empty or malformed (a row with more
        or fewer fields than the header, a quote never closed...), or a
        column named in ``dates`` is not all dates.
    """
    frame, _ = to_polars(source, delimiter=delimiter, encoding=encoding, dates=dates, strip=strip)
    return _collect(frame, source)


def to_polars(
    data: Any,
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
    lazy_files: bool = False,
    dates: Dates = None,
    strip: bool = False,
) -> tuple[pl.DataFrame | pl.LazyFrame, TableSource]:
    """Convert ``data`` to polars once, remembering what it was.

    Paths come back lazy when ``lazy_files`` is true (so large files stream),
    eager otherwise; either way a text file is checked whole before anything
    is computed from it. A LazyFrame given by the user stays lazy. ``dates``
    and ``strip`` are as in :func:`read_table`; the date formats read are in
    the returned :class:`TableSource`.
    """
    named = _as_dates(dates)
    if isinstance(data, (str, os.PathLike)):
        return _open_file(
            Path(data),
            delimiter=delimiter,
            encoding=encoding,
            dates=named,
            strip=strip,
            lazy=lazy_files,
        )
    frame, source = _from_memory(data)
    frame, formats = _prepare(_nan_to_null(frame), dates=named, strip=strip)
    return frame, TableSource(source, formats)


def _from_memory(data: Any) -> tuple[pl.DataFrame | pl.LazyFrame, str]:
    """A table the user holds in memory, as polars, and the kind it was."""
    if isinstance(data, pl.DataFrame):
        return data, "polars"
    if isinstance(data, pl.LazyFrame):
        return data, "lazy"
    module = type(data).__module__.split(".")[0]
    if module == "pandas":
        import pandas as pd

        if isinstance(data, pd.DataFrame):
            try:
                frame = pl.from_pandas(data, include_index=False)
            except Exception as err:  # pyarrow or polars conversion errors vary
                raise DataError(
                    f"could not convert the pandas DataFrame: {first_line(err)}"
                ) from err
            return frame, "pandas"
    if module == "pyarrow":
        import pyarrow as pa

        if isinstance(data, (pa.Table, pa.RecordBatch)):
            frame = pl.from_arrow(data)
            assert isinstance(frame, pl.DataFrame)
            return frame, "arrow"
    raise DataError(
        f"cannot read a table from {type(data).__name__}; give a file path, or a pandas, "
        "polars or pyarrow table"
    )


def from_polars(frame: pl.DataFrame, source: TableSource) -> Any:
    """Return ``frame`` in the type the user gave (paths come back as polars)."""
    if source.kind == "pandas":
        return frame.to_pandas()
    if source.kind == "arrow":
        return frame.to_arrow()
    if source.kind == "lazy":
        return frame.lazy()
    return frame
