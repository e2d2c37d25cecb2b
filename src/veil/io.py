"""Tables in, tables out: the one place where user data is read and converted.

Every tabular entry point of veil accepts a path (CSV, TSV, Parquet, Arrow IPC),
a pandas DataFrame, a polars DataFrame or LazyFrame, or a pyarrow Table. It is
converted once, here, to polars; results go back in the type the user gave.
Files are never modified; outputs are written to a temporary file in the same
folder and renamed over the target, so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import csv
import io as _stdio
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from veil.errors import DataError, ParameterError

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

_PARQUET_SUFFIXES = {".parquet", ".pq"}
_IPC_SUFFIXES = {".arrow", ".feather", ".ipc"}
_SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class TableSource:
    """What the user handed in, so results can go back in the same type."""

    kind: str  # "path", "polars", "lazy", "pandas", "arrow"


def _sniff_encoding(raw: bytes) -> str:
    """Return the text encoding of ``raw``: UTF-8 when it decodes, else a detected one."""
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as err:
        # A multi-byte character cut by the sample boundary is still UTF-8.
        if err.start >= len(raw) - 4:
            return "utf-8"
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    if best is None:
        raise DataError("could not detect the text encoding; pass encoding=... explicitly")
    return best.encoding


def _sniff_delimiter(text: str) -> str:
    """Guess the field delimiter from the first lines of a delimited text file."""
    lines = text.splitlines()[:50]
    sample = "\n".join(lines)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        header = lines[0] if lines else ""
        counts = {d: header.count(d) for d in ",;\t|"}
        best = max(counts, key=counts.__getitem__)
        return best if counts[best] > 0 else ","


def _csv_options(
    path: Path, delimiter: str | None, encoding: str | None
) -> tuple[str, str, dict[str, Any]]:
    """Delimiter, encoding and the columns to keep as text, from the file's first 64 KiB."""
    with open(path, "rb") as fh:
        raw = fh.read(_SNIFF_BYTES)
    if not raw.strip():
        raise DataError(f"{path} is empty: expected a header line and at least one row")
    enc = encoding or _sniff_encoding(raw)
    text = raw.decode(enc, errors="replace")
    if delimiter is None:
        delimiter = _sniff_delimiter(text)
    if len(delimiter) != 1:
        raise ParameterError(f"delimiter must be one character; got {delimiter!r}")
    return delimiter, enc, _leading_zero_columns(text, delimiter, complete=len(raw) < _SNIFF_BYTES)


def _leading_zero_columns(text: str, delimiter: str, *, complete: bool) -> dict[str, Any]:
    """Columns of digits written with leading zeros (ZIP codes, ids): they stay text.

    Read as numbers, "02139" would become 2139 and lose what it identifies.
    """
    if not complete:
        text = text[: text.rfind("\n") + 1]
    try:
        sample = pl.read_csv(
            _stdio.BytesIO(text.encode("utf-8")), separator=delimiter, infer_schema=False
        )
    except pl.exceptions.PolarsError:
        return {}
    keep = {}
    for name in sample.columns:
        column = sample[name].drop_nulls()
        digits = column.str.contains(r"^[+-]?\d+$")
        if len(column) and digits.all() and column.str.contains(r"^[+-]?0\d").any():
            keep[name] = pl.String
    return keep


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


def scan_table(
    source: str | os.PathLike[str],
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> pl.LazyFrame:
    """Open a table file lazily (for tables larger than memory).

    CSV delimiter and text encoding are detected when not given. Non-UTF-8 CSV
    files are decoded in memory, since polars scans only UTF-8.
    """
    path = Path(source)
    _check_path(path)
    suffix = path.suffix.lower()
    kind = _sniff_kind(path)
    try:
        if suffix in _PARQUET_SUFFIXES or kind == "parquet":
            lazy = pl.scan_parquet(path)
        elif suffix in _IPC_SUFFIXES or kind == "ipc":
            lazy = pl.scan_ipc(path)
        else:
            sep, enc, text_columns = _csv_options(path, delimiter, encoding)
            options = {
                "separator": sep,
                "infer_schema_length": 10_000,
                "schema_overrides": text_columns,
            }
            if enc.replace("_", "-").lower() in {"utf-8", "utf8", "ascii"}:
                lazy = pl.scan_csv(path, **options)
            else:
                text = path.read_bytes().decode(enc)
                lazy = pl.read_csv(_stdio.BytesIO(text.encode("utf-8")), **options).lazy()
        schema = lazy.collect_schema()
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as err:
        raise DataError(f"could not read {str(path)!r}: {_first_line(err)}") from err
    if len(schema) == 0:
        raise DataError(f"{str(path)!r} has no columns")
    return _nan_to_null(lazy)


def _sniff_kind(path: Path) -> str:
    """Tell Parquet and Arrow files by their magic bytes; refuse other binary files."""
    with open(path, "rb") as fh:
        head = fh.read(512)
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"ARROW1"):
        return "ipc"
    if b"\x00" in head:
        raise DataError(
            f"{str(path)!r} is a binary file, not a table; expected CSV, TSV, Parquet or Arrow"
        )
    return "text"


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def read_table(
    source: Any,
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> pl.DataFrame:
    """Read any supported table into a polars DataFrame.

    Parameters
    ----------
    source
        A path (CSV/TSV/Parquet/Arrow IPC), or a pandas, polars or pyarrow table.
    delimiter, encoding
        For CSV files; detected from the file when omitted.

    Raises
    ------
    DataError
        The file is missing, unreadable, empty or malformed.
    """
    frame, _ = to_polars(source, delimiter=delimiter, encoding=encoding)
    if isinstance(frame, pl.LazyFrame):
        path = source if isinstance(source, (str, os.PathLike)) else "the table"
        try:
            frame = frame.collect()
        except pl.exceptions.PolarsError as err:
            raise DataError(f"could not read {str(path)!r}: {_first_line(err)}") from err
    return frame


def to_polars(
    data: Any,
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
    lazy_files: bool = False,
) -> tuple[pl.DataFrame | pl.LazyFrame, TableSource]:
    """Convert ``data`` to polars once, remembering what it was.

    Paths come back lazy when ``lazy_files`` is true (so large files stream),
    eager otherwise. A LazyFrame given by the user stays lazy.
    """
    if isinstance(data, (str, os.PathLike)):
        lazy = scan_table(data, delimiter=delimiter, encoding=encoding)
        if lazy_files:
            return lazy, TableSource("path")
        try:
            return lazy.collect(), TableSource("path")
        except pl.exceptions.PolarsError as err:
            raise DataError(f"could not read {str(data)!r}: {_first_line(err)}") from err
    if isinstance(data, pl.DataFrame):
        return _nan_to_null(data), TableSource("polars")
    if isinstance(data, pl.LazyFrame):
        return _nan_to_null(data), TableSource("lazy")
    module = type(data).__module__.split(".")[0]
    if module == "pandas":
        import pandas as pd

        if isinstance(data, pd.DataFrame):
            try:
                frame = pl.from_pandas(data, include_index=False)
            except Exception as err:  # pyarrow or polars conversion errors vary
                raise DataError(
                    f"could not convert the pandas DataFrame: {_first_line(err)}"
                ) from err
            return _nan_to_null(frame), TableSource("pandas")
    if module == "pyarrow":
        import pyarrow as pa

        if isinstance(data, (pa.Table, pa.RecordBatch)):
            frame = pl.from_arrow(data)
            assert isinstance(frame, pl.DataFrame)
            return _nan_to_null(frame), TableSource("arrow")
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


def _final_mode(target: Path) -> int:
    """An overwritten file keeps its mode; a new one gets the user's umask (not mkstemp's 0600)."""
    if target.exists():
        return target.stat().st_mode & 0o7777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it over ``target`` on success.

    A crash or an exception leaves ``target`` as it was and removes the temporary file.
    """
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise DataError(f"cannot write {str(target)!r}: folder {str(folder)!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, _final_mode(target))
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_table(frame: pl.DataFrame, target: str | os.PathLike[str]) -> None:
    """Write ``frame`` atomically as CSV or Parquet, chosen by the target's suffix."""
    suffix = Path(target).suffix.lower()
    with atomic_path(target) as tmp:
        if suffix in _PARQUET_SUFFIXES:
            frame.write_parquet(tmp)
        elif suffix in _IPC_SUFFIXES:
            frame.write_ipc(tmp)
        else:
            frame.write_csv(tmp, separator="\t" if suffix == ".tsv" else ",")


def write_text(text: str, target: str | os.PathLike[str]) -> None:
    """Write a text file (report, JSON) atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
