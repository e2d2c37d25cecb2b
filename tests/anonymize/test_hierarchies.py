"""Hierarchies: ARX-format files, builders, defaults, and their validation errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from veil.anonymize import (
    DateHierarchy,
    GroupingHierarchy,
    IntervalHierarchy,
    MaskingHierarchy,
    RoundingHierarchy,
    read_hierarchy,
)
from veil.anonymize.builders import hierarchy_from_spec
from veil.anonymize.encoding import encode_table
from veil.anonymize.hierarchies import validate_table
from veil.errors import DataError, ParameterError


def _levels(hierarchy, values: pl.Series) -> dict:
    table = hierarchy.table(values)
    validate_table(table, values.name)
    return {row[0]: row[1:] for row in table.iter_rows()}


def test_arx_csv_with_semicolons_and_quoted_commas(tmp_path: Path) -> None:
    path = tmp_path / "age.csv"
    path.write_text('17;"[15, 20[";*\n18;"[15, 20[";*\n25;"[25, 30[";*\n')
    levels = _levels(read_hierarchy(path), pl.Series("age", [17, 25, 18]))
    assert levels == {17: ("[15, 20[", "*"), 18: ("[15, 20[", "*"), 25: ("[25, 30[", "*")}


def test_arx_csv_with_commas(tmp_path: Path) -> None:
    path = tmp_path / "sex.csv"
    path.write_text("Female,*\nMale,*\n")
    assert _levels(read_hierarchy(path), pl.Series("sex", ["Male"])) == {"Male": ("*",)}


def test_value_missing_from_hierarchy_is_named(tmp_path: Path) -> None:
    path = tmp_path / "sex.csv"
    path.write_text("Female,*\nMale,*\n")
    with pytest.raises(DataError, match=r"' Male' is missing .*surrounding spaces"):
        read_hierarchy(path).table(pl.Series("sex", [" Male", "Female"]))


def test_non_monotone_hierarchy_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "edu.csv"
    # "Higher" at level 1 is split between "A" and "B" at level 2.
    path.write_text("Bachelors,Higher,A,*\nMasters,Higher,B,*\nHS,School,B,*\n")
    table = read_hierarchy(path).table(pl.Series("edu", ["Bachelors", "Masters", "HS"]))
    with pytest.raises(DataError, match=r"not monotone: label at level 1 'Higher'"):
        validate_table(table, "edu")


def test_ragged_rows_and_duplicates_are_refused(tmp_path: Path) -> None:
    ragged = tmp_path / "r.csv"
    ragged.write_text("a,x,*\nb,*\n")
    with pytest.raises(DataError, match="row 2 has 2 levels"):
        read_hierarchy(ragged).table(pl.Series("c", ["a"]))
    dup = tmp_path / "d.csv"
    dup.write_text("a,x,*\na,y,*\n")
    with pytest.raises(DataError, match="appears in more than one row"):
        read_hierarchy(dup).table(pl.Series("c", ["a"]))


def test_intervals_nest_and_bad_widths_are_refused() -> None:
    levels = _levels(IntervalHierarchy([5, 10], start=0), pl.Series("age", [3, 7, 12]))
    assert levels[7] == ("[5, 10)", "[0, 10)", "*")
    assert levels[12] == ("[10, 15)", "[10, 20)", "*")
    with pytest.raises(ParameterError, match="multiple of the previous"):
        IntervalHierarchy([5, 12]).table(pl.Series("age", [1, 2]))


def test_intervals_on_decimals_stay_monotone() -> None:
    values = pl.Series("x", [i / 10 for i in range(100)])
    table = IntervalHierarchy([0.1, 0.4, 1.6]).table(values)
    validate_table(table, "x")  # float rounding must never split a group
    assert table.filter(pl.col("value") == 0.3)["level_1"].item() == "[0.3, 0.4)"


def test_rounding_floors() -> None:
    levels = _levels(RoundingHierarchy([1, 0, -1]), pl.Series("x", [12.34, 15.99]))
    assert levels[12.34] == ("12.3", "12", "10", "*")
    assert levels[15.99] == ("15.9", "15", "10", "*")


def test_dates_masking_grouping() -> None:
    dates = pl.Series("d", [dt.date(2024, 3, 5), dt.date(2023, 12, 31)])
    assert _levels(DateHierarchy(["month", "year"]), dates)[dt.date(2024, 3, 5)] == (
        "2024-03",
        "2024",
        "*",
    )
    zips = _levels(MaskingHierarchy(), pl.Series("zip", ["13053", "14850"]))
    assert zips["13053"] == ("1305*", "130**", "13***", "1****", "*")
    grouping = GroupingHierarchy([{"a": "vowel", "b": "consonant"}])
    assert _levels(grouping, pl.Series("c", ["a", "b"]))["a"] == ("vowel", "*")
    with pytest.raises(DataError, match="'z' of column 'c' is missing from the grouping"):
        grouping.table(pl.Series("c", ["a", "z"]))


def test_missing_values_are_a_category_until_the_top() -> None:
    levels = _levels(IntervalHierarchy([10]), pl.Series("x", [1, None, 15]))
    assert levels[None] == (None, "*")


@pytest.mark.parametrize(
    ("values", "expected_height"),
    [
        (pl.Series("i", list(range(17, 91))), 4),  # ints: widths 5, 20, then *
        (pl.Series("f", [i * 0.013 for i in range(2000)]), 4),  # many distinct decimals
        (pl.Series("s", ["a", "b", None]), 2),  # text with a missing value: value, *
        (pl.Series("d", [dt.date(2020, 1, 1), dt.date(2021, 6, 2)]), 4),
        (pl.Series("b", [True, False]), 2),
    ],
)
def test_default_hierarchies_work_on_any_column(values: pl.Series, expected_height: int) -> None:
    frame = pl.DataFrame({values.name: values})
    table = encode_table(frame, [values.name], [], None)
    assert table.heights == [expected_height]
    # every level maps every leaf, and the top level is a single group
    assert table.quasi[0].groups[-1] == 1


def test_spec_strings() -> None:
    assert isinstance(hierarchy_from_spec("interval:5,10"), IntervalHierarchy)
    assert isinstance(hierarchy_from_spec("mask"), MaskingHierarchy)
    with pytest.raises(ParameterError, match="expected numbers"):
        hierarchy_from_spec("interval:five")
    with pytest.raises(DataError, match="does not exist"):
        hierarchy_from_spec("no/such/file.csv")


def test_default_hierarchy_masks_digit_codes() -> None:
    from veil.anonymize.builders import MaskingHierarchy, default_hierarchy

    zips = pl.Series("zip", ["02139", "02140", "10001", None])
    assert isinstance(default_hierarchy(zips), MaskingHierarchy)
    table = default_hierarchy(zips).table(zips)
    assert table.row(0)[:3] == ("02139", "0213*", "021**")
    names = pl.Series("name", ["ann", "bob", "eve"])  # same length, not digits
    assert not isinstance(default_hierarchy(names), MaskingHierarchy)


def test_zip_codes_with_a_few_zip4_and_foreign_codes_are_still_masked() -> None:
    from veil.anonymize.builders import CodeHierarchy, default_hierarchy

    rng = np.random.default_rng(4)
    zips = [f"{z:05d}" for z in rng.choice(np.arange(1000, 99999), 25_494, replace=False)]
    odd = [f"{z}-{rng.integers(1000, 9999)}" for z in zips[:28]]  # 28 ZIP+4 codes
    values = pl.Series("zip", [*zips, *odd, "02139", "02139-4307", "SW1A1AA", None])
    hierarchy = default_hierarchy(values)
    assert isinstance(hierarchy, CodeHierarchy) and hierarchy.length == 5
    levels = _levels(hierarchy, values)  # validates the nesting too
    assert levels["02139"] == ("0213*", "021**", "02***", "0****", "*")
    assert levels["02139-4307"] == levels["02139"]  # a ZIP+4 joins its ZIP code
    assert levels["SW1A1AA"] == ("SW1A1A*", "SW1A***", "SW1****", "S******", "*")
    assert levels[None] == (None, None, None, None, "*")


@pytest.mark.parametrize(
    ("name", "values", "category"),
    [
        ("STATE", list(range(1, 57)), True),  # FARS state codes
        ("race_code", [1, 2, 3, 4, 5, 6, 7], True),
        ("countyId", list(range(1, 40)), True),
        ("RACE", [1, 2, 3, 4, 5, 6, 7, 97, 98, 99], True),
        ("x", [1, 2, 3, 4, 99], True),  # a "not known" sentinel far above the codes
        ("age", list(range(18, 60)), False),
        ("education-num", list(range(1, 17)), False),
        ("state", list(range(100)), False),  # too many values to be codes
    ],
)
def test_integer_codes_are_categories_measures_get_intervals(name, values, category) -> None:
    from veil.anonymize.builders import default_hierarchy, is_integer_code

    series = pl.Series(name, values * 3)
    assert is_integer_code(series) is category
    hierarchy = default_hierarchy(series)
    assert isinstance(hierarchy, GroupingHierarchy if category else IntervalHierarchy)
    if category:  # no [0, 8) ranges: the code, then *
        assert all(level == ("*",) for level in _levels(hierarchy, series).values())


def test_many_valued_text_gets_a_frequency_level() -> None:
    from veil.anonymize.builders import FrequencyHierarchy, default_hierarchy

    rng = np.random.default_rng(5)
    titles = pl.Series("job", [f"title {i}" for i in rng.zipf(1.5, 40_000) % 1_737])
    hierarchy = default_hierarchy(titles)
    assert isinstance(hierarchy, FrequencyHierarchy)
    table = hierarchy.table(titles)
    validate_table(table, "job")
    share = titles.value_counts(name="n").with_columns(pl.col("n") / titles.len())
    kept = table.filter(pl.col("level_1") != "(rare values)")["value"]
    assert set(kept) == set(share.filter(pl.col("n") >= 0.001)["job"])
    groups = [table[c].n_unique() for c in ("value", "level_1", "level_2", "level_3")]
    assert groups[0] > groups[1] > groups[2] > groups[3] == 1
