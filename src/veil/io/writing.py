"""Writing tables and reports atomically: a reader never sees half a file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import polars as pl

from veil.errors import DataError

__all__ = ["atomic_path", "write_table", "write_text"]

PARQUET_SUFFIXES = {".parquet", ".pq"}
IPC_SUFFIXES = {".arrow", ".feather", ".ipc"}


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


def _as_read(frame: pl.DataFrame, formats: Mapping[str, str]) -> pl.DataFrame:
    """Date columns printed in the format they were read in (see ``TableSource.formats``)."""
    exprs = [
        pl.col(name).dt.strftime(fmt)
        for name, fmt in formats.items()
        if name in frame.columns and frame.schema[name].is_temporal()
    ]
    return frame.with_columns(exprs) if exprs else frame


def write_table(
    frame: pl.DataFrame,
    target: str | os.PathLike[str],
    *,
    formats: Mapping[str, str] | None = None,
) -> None:
    """Write ``frame`` atomically as CSV or Parquet, chosen by the target's suffix.

    Parameters
    ----------
    frame
        The table.
    target
        ``.parquet``/``.pq``, ``.arrow``/``.feather``/``.ipc``, ``.tsv``, else CSV.
    formats
        For CSV and TSV: the strftime format of each date column, so that dates
        are written as they were read (``TableSource.formats`` of
        :func:`veil.io.to_polars`); other date columns are written ISO 8601.
    """
    suffix = Path(target).suffix.lower()
    with atomic_path(target) as tmp:
        if suffix in PARQUET_SUFFIXES:
            frame.write_parquet(tmp)
        elif suffix in IPC_SUFFIXES:
            frame.write_ipc(tmp)
        else:
            _as_read(frame, formats or {}).write_csv(
                tmp, separator="\t" if suffix == ".tsv" else ","
            )


def write_text(text: str, target: str | os.PathLike[str]) -> None:
    """Write a text file (report, JSON) atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
