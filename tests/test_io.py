"""Reading every supported input once, writing atomically, never touching inputs."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import polars as pl
import pytest

from veil.errors import DataError, ParameterError
from veil.io import atomic_path, from_polars, read_table, to_polars, write_table

FRAME = pl.DataFrame({"age": [30, 41, None], "city": ["Lyon", "Zürich", "Kraków"]})


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_delimiter_is_detected(tmp_path, delimiter: str) -> None:
    path = tmp_path / "t.csv"
    FRAME.write_csv(path, separator=delimiter)
    assert read_table(path).equals(FRAME)


def test_latin1_csv_is_decoded(tmp_path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("age;city\n30;Besançon\n41;Zürich\n".encode("latin-1"))
    table = read_table(path)
    assert table["city"].to_list() == ["Besançon", "Zürich"]


def test_parquet_and_arrow_files(tmp_path) -> None:
    write_table(FRAME, tmp_path / "t.parquet")
    write_table(FRAME, tmp_path / "t.arrow")
    assert read_table(tmp_path / "t.parquet").equals(FRAME)
    assert read_table(tmp_path / "t.arrow").equals(FRAME)


def test_in_memory_types_round_trip() -> None:
    pandas = FRAME.to_pandas()
    frame, source = to_polars(pandas)
    assert source.kind == "pandas" and frame.equals(FRAME)
    assert isinstance(from_polars(frame, source), pd.DataFrame)
    frame, source = to_polars(FRAME.to_arrow())
    assert source.kind == "arrow" and frame.equals(FRAME)
    frame, source = to_polars(FRAME.lazy())
    assert source.kind == "lazy" and frame.collect().equals(FRAME)


def test_nan_becomes_missing() -> None:
    frame, _ = to_polars(pd.DataFrame({"x": [1.0, np.nan]}))
    assert frame["x"].null_count() == 1


def test_file_kind_is_read_from_its_content(tmp_path) -> None:
    FRAME.write_parquet(tmp_path / "data.csv")
    FRAME.write_ipc(tmp_path / "data")
    assert read_table(tmp_path / "data.csv").equals(FRAME)
    assert read_table(tmp_path / "data").equals(FRAME)


def test_bad_delimiter() -> None:
    with pytest.raises(ParameterError, match="one character"):
        read_table(__file__, delimiter=";;")


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half a fi")
        raise RuntimeError("crash while writing")
    assert target.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["out.csv"]  # no temporary file left behind


def test_write_into_missing_folder(tmp_path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        write_table(FRAME, tmp_path / "no" / "out.csv")


def test_codes_with_leading_zeros_stay_text(tmp_path) -> None:
    path = tmp_path / "zips.csv"
    path.write_text("zip,age,id\n02139,30,7\n10001,41,12\n00501,52,3\n")
    table = read_table(path)
    assert table["zip"].to_list() == ["02139", "10001", "00501"]
    assert table.schema["age"] == pl.Int64 and table.schema["id"] == pl.Int64


def test_written_files_follow_the_umask_or_keep_their_mode(tmp_path) -> None:
    new = tmp_path / "new.csv"
    write_table(FRAME, new)
    umask = os.umask(0)
    os.umask(umask)
    assert new.stat().st_mode & 0o777 == 0o666 & ~umask
    existing = tmp_path / "existing.csv"
    existing.write_text("old\n")
    existing.chmod(0o640)
    write_table(FRAME, existing)
    assert existing.stat().st_mode & 0o777 == 0o640
