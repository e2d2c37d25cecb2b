"""Bad input gets a VeilError that names the problem and the fix."""

from __future__ import annotations

import polars as pl
import pytest

import veil.anonymity as va
from veil.errors import ColumnError, DataError, ParameterError, VeilError

TABLE = pl.DataFrame({"age": [30, 40, 30], "zip": ["1", "2", "1"], "disease": ["a", "b", "a"]})


def test_unknown_column_is_named_with_the_columns_there() -> None:
    with pytest.raises(ColumnError, match=r"column 'zipcode' not found; columns are: age, zip"):
        va.k_anonymity(TABLE, ["age", "zipcode"])


def test_column_with_two_roles() -> None:
    with pytest.raises(ColumnError, match="both a quasi-identifier and a sensitive"):
        va.l_diversity(TABLE, ["age", "disease"], "disease")


def test_empty_table() -> None:
    with pytest.raises(DataError, match="no rows"):
        va.assess(TABLE.clear(), ["age"], "disease")


def test_all_missing_columns() -> None:
    nan_sensitive = TABLE.with_columns(pl.lit(None, dtype=pl.Float64).alias("disease"))
    with pytest.raises(DataError, match="'disease' holds only missing values"):
        va.t_closeness(nan_sensitive, ["age"], "disease")
    nan_quasi = TABLE.with_columns(pl.Series("age", [float("nan")] * 3))
    with pytest.raises(DataError, match="'age' holds only missing values"):
        va.k_anonymity(nan_quasi, ["age"])


def test_missing_roles_and_bad_names() -> None:
    with pytest.raises(ParameterError, match="at least one quasi-identifier"):
        va.k_anonymity(TABLE, [])
    with pytest.raises(ParameterError, match="at least one sensitive"):
        va.l_diversity(TABLE, ["age"], [])
    with pytest.raises(ParameterError, match="listed twice"):
        va.k_anonymity(TABLE, ["age", "age"])
    with pytest.raises(ParameterError, match="column names"):
        va.k_anonymity(TABLE, ["age", 3])


def test_nested_columns_are_refused() -> None:
    nested = TABLE.with_columns(pl.Series("zip", [[1], [2], [1]]))
    with pytest.raises(ColumnError, match="plain values"):
        va.k_anonymity(nested, ["zip"])


def test_unreadable_inputs(tmp_path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        va.k_anonymity(tmp_path / "nope.csv", ["age"])
    with pytest.raises(DataError, match="is a folder"):
        va.k_anonymity(tmp_path, ["age"])
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="is empty"):
        va.k_anonymity(empty, ["age"])
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\x00\x01\x02\x03garbage\x00")
    with pytest.raises(DataError, match="binary file"):
        va.k_anonymity(binary, ["age"])
    ragged = tmp_path / "ragged.csv"
    ragged.write_text('age,zip\n30,1\n40,"2\n')
    with pytest.raises(VeilError):
        va.k_anonymity(ragged, ["age"])
    with pytest.raises(DataError, match="cannot read a table from list"):
        va.k_anonymity([1, 2, 3], ["age"])


def test_risk_parameters_and_population() -> None:
    with pytest.raises(ParameterError, match=r"threshold must be in \(0, 1\]"):
        va.reidentification_risk(TABLE, ["age"], threshold=0)
    population = TABLE.head(2)
    with pytest.raises(DataError, match="population table must contain every record"):
        va.reidentification_risk(TABLE, ["age", "zip"], population=population)
