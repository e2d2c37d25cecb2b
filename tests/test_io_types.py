"""Column types of text tables come from every value: a table read and written back is unchanged."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from veil.errors import ColumnError, DataError
from veil.io import read_table, scan_table, to_polars, write_table


@pytest.fixture(autouse=True)
def _stream_lazy_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lazy reads of these small files stream, as a file larger than memory would."""
    monkeypatch.setattr("veil.io._streams", lambda path: True)


def _csv(tmp_path: Path, text: str, name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _read_both(path: Path, **options) -> pl.DataFrame:
    """Read eagerly and lazily; both must give the same table."""
    eager = read_table(path, **options)
    lazy = scan_table(path, **options).collect()
    assert lazy.equals(eager) and lazy.schema == eager.schema
    return eager


def test_leading_zero_after_the_first_64_kib_keeps_the_column_text(tmp_path) -> None:
    # 20,000 rows (over 64 KiB) of 5-digit codes, then Cambridge MA's 02139.
    rows = [f"{10000 + i},{i}" for i in range(20_000)] + ["02139,1"]
    path = _csv(tmp_path, "zip,n\n" + "\n".join(rows) + "\n")
    assert path.stat().st_size > 64 * 1024
    table = _read_both(path)
    assert table.schema["zip"] == pl.String and table.schema["n"] == pl.Int64
    assert table["zip"][-1] == "02139"


def test_late_text_value_makes_the_column_text_not_the_file_unreadable(tmp_path) -> None:
    rows = [f"{i},{i}" for i in range(10_000)] + ["K1A 0B1,1"]
    path = _csv(tmp_path, "postcode,n\n" + "\n".join(rows) + "\n")
    table = _read_both(path)
    assert table.schema["postcode"] == pl.String
    assert table["postcode"][0] == "0" and table["postcode"][-1] == "K1A 0B1"


@pytest.mark.parametrize(
    ("values", "dtype"),
    [
        (["0", "-12", "7"], pl.Int64),  # 0 alone is no leading zero
        (["0.5", "1e-3", "-2.25", "3"], pl.Float64),
        (["02139", "1"], pl.String),
        (["+5", "6"], pl.String),  # would print back as 5
        (["0.5", "nan"], pl.String),  # nan would become a missing value
        (["12345678901234567890", "1"], pl.String),  # an id a float would round
        (["1", "two"], pl.String),
        (["", ""], pl.String),  # all missing
    ],
)
def test_numbers_only_when_every_value_prints_back(tmp_path, values, dtype) -> None:
    path = _csv(tmp_path, "x,y\n" + "".join(f"{v},1\n" for v in values))
    assert _read_both(path).schema["x"] == dtype


@pytest.mark.parametrize(
    ("values", "dtype", "fmt"),
    [
        (["2015-01-02", "2016-12-31"], pl.Date, "%Y-%m-%d"),
        (["2015-01-02T10:00:00", "2016-12-31T23:59:59"], pl.Datetime("us"), "%Y-%m-%dT%H:%M:%S"),
        (["2015-01-02 10:00", "2016-12-31 23:59"], pl.Datetime("us"), "%Y-%m-%d %H:%M"),
        (["02/01/2015", "31/12/2016"], pl.Date, "%d/%m/%Y"),  # 31 > 12: day first
        (["02/01/2015", "12/31/2016"], pl.Date, "%m/%d/%Y"),  # 31 > 12: month first
        (["02.01.2015", "31.12.2016"], pl.Date, "%d.%m.%Y"),
        (["02/01/2015", "12/11/2016"], pl.String, None),  # no value tells: stays text
        (["2015-01-02", "2015-02-30"], pl.String, None),  # not a date
        (["2015-1-2", "2015-01-03"], pl.String, None),  # would print back padded
        (["2015-01-02", "soon"], pl.String, None),
    ],
)
def test_dates_are_recognised_and_remember_their_format(tmp_path, values, dtype, fmt) -> None:
    path = _csv(tmp_path, "d,n\n" + "".join(f"{v},1\n" for v in values))
    frame, source = to_polars(path)
    assert frame.schema["d"] == dtype
    assert source.formats == ({"d": fmt} if fmt else {})
    out = tmp_path / "out.csv"
    write_table(frame, out, formats=source.formats)
    assert out.read_text() == path.read_text()


def test_named_dates(tmp_path) -> None:
    path = _csv(tmp_path, "d,n\n02/01/2015,1\n12/11/2016,2\n")
    frame, source = to_polars(path, dates={"d": "%m/%d/%Y"})
    assert frame["d"].to_list() == [dt.date(2015, 2, 1), dt.date(2016, 12, 11)]
    assert source.formats == {"d": "%m/%d/%Y"}
    with pytest.raises(DataError, match=r"day-first and month-first.*d=%d/%m/%Y"):
        read_table(path, dates=["d"])
    with pytest.raises(DataError, match="value 'x' does not read in it"):
        read_table(_csv(tmp_path, "d\n01/02/2015\nx\n", "bad.csv"), dates={"d": "%d/%m/%Y"})
    with pytest.raises(ColumnError, match="'when' named as dates is not in the table"):
        read_table(path, dates=["when"])
    # In-memory tables too: a text column named as dates is read as dates.
    frame, source = to_polars(pl.DataFrame({"d": ["2015-01-02"]}), dates=["d"])
    assert frame.schema["d"] == pl.Date and source.formats == {"d": "%Y-%m-%d"}


def test_strip_removes_surrounding_spaces_before_typing(tmp_path) -> None:
    path = _csv(tmp_path, "age,workclass\n39, State-gov\n 50 , Private \n")
    assert read_table(path)["workclass"].to_list() == [" State-gov", " Private "]
    table = _read_both(path, strip=True)
    assert table["workclass"].to_list() == ["State-gov", "Private"]
    assert table.schema["age"] == pl.Int64


def test_decimals_keep_their_value(tmp_path) -> None:
    path = _csv(tmp_path, "x\n1.50\n-3e2\n.5\n")
    out = tmp_path / "out.csv"
    write_table(read_table(path), out)
    # The number is kept; its spelling is polars' (1.50 is written 1.5).
    assert pl.read_csv(out)["x"].to_list() == [1.5, -300.0, 0.5]


# Values a user's CSV holds, every one of which must come back as it went in.
_VALUES = {
    "zip": st.sampled_from(["02139", "10001", "00501", "99950"]),
    "count": st.integers(-(10**12), 10**12).map(str),
    "iso": st.dates(dt.date(1900, 1, 1), dt.date(2100, 1, 1)).map(str),
    "dmy": st.dates(dt.date(1900, 1, 1), dt.date(2100, 1, 1)).map(lambda d: d.strftime("%d/%m/%Y")),
    "stamp": st.datetimes(dt.datetime(1970, 1, 1), dt.datetime(2100, 1, 1)).map(
        lambda d: d.strftime("%Y-%m-%d %H:%M:%S")
    ),
    "words": st.text(
        st.characters(codec="utf-8", exclude_categories=["Cs", "Cc", "Nd"]), min_size=1, max_size=8
    ),
    "spaced": st.sampled_from([" Bachelors", " 10th ", "HS-grad", "a, b", 'say "hi"']),
}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kinds=st.lists(st.sampled_from(sorted(_VALUES)), min_size=1, max_size=4),
    rows=st.integers(1, 30),
    late=st.sampled_from([None, "K1A 0B1", "02139", "07/31/2016"]),
    data=st.data(),
)
def test_a_table_read_and_written_back_is_unchanged(tmp_path, kinds, rows, late, data) -> None:
    columns = {}
    for i, kind in enumerate(kinds):
        values = data.draw(st.lists(_VALUES[kind], min_size=rows, max_size=rows))
        columns[f"{kind}{i}"] = values + ([late] if late else [])
    # The values as text; polars quotes what needs quoting.
    original = pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.String))
    path = tmp_path / "in.csv"
    original.write_csv(path)
    for lazy in (False, True):
        frame, source = to_polars(path, lazy_files=lazy)
        if isinstance(frame, pl.LazyFrame):
            frame = frame.collect()
        out = tmp_path / "out.csv"
        write_table(frame, out, formats=source.formats)
        assert out.read_bytes() == path.read_bytes()


def test_a_lazy_read_of_a_file_that_fits_in_memory_is_read_whole(tmp_path, monkeypatch) -> None:
    monkeypatch.undo()  # the real rule: this small file is read whole, then handed back lazy
    path = _csv(tmp_path, "zip,d\n02139,2015-01-02\n10001,2016-12-31\n")
    frame, source = to_polars(path, lazy_files=True)
    assert isinstance(frame, pl.LazyFrame) and source.formats == {"d": "%Y-%m-%d"}
    assert frame.collect().equals(read_table(path))
