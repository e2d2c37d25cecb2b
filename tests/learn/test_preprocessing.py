"""DP-safe preprocessing: bounds given or estimated with DP, category sets reported as public."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from veil.errors import ColumnError, DataError, ParameterError
from veil.learn.preprocessing import FeatureEncoder, FeatureSpec, approx_bounds


def _table(n: int = 2000, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "age": rng.integers(17, 91, n),
            "hours": rng.uniform(1, 99, n),
            "sex": rng.choice(["F", "M"], n),
        }
    )


def test_approx_bounds_cover_the_data_bins() -> None:
    # 10,000 ages in [17, 90]: the bins [16, 32) and [64, 128) hold ~2,000 rows each,
    # far above the threshold (about 12 at epsilon 1): missing one has probability
    # below e^-1900. Bins with no data pass with probability at most 1e-3 each run
    # (the threshold's design); over 20 runs, 6 or more such runs have probability
    # C(20, 6) 1e-18 < 1e-13, the false-failure rate of this test.
    ages = np.random.default_rng(1).integers(17, 91, 10_000).astype(float)
    results = [approx_bounds(ages, epsilon=1.0, column="age") for _ in range(20)]
    for low, high in results:
        assert low <= 16 and high >= 128
    exact = sum(1 for r in results if r == (16.0, 128.0))
    assert exact >= 15


def test_approx_bounds_negative_and_zero_values() -> None:
    values = np.r_[np.full(3000, -5.0), np.zeros(3000), np.full(3000, 300.0)]
    low, high = approx_bounds(values, epsilon=2.0)
    assert low <= -5 and high >= 300
    assert low >= -8 and high <= 512  # the next power of two on each side


def test_approx_bounds_too_few_rows() -> None:
    with pytest.raises(DataError, match=r"too few rows.*--bounds"):
        approx_bounds(np.array([1.0, 2.0, 3.0]), epsilon=0.1, column="x")


def test_given_bounds_are_used_and_the_data_never_read_for_them() -> None:
    table = _table()
    outlier = table.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(10**6).otherwise(pl.col("age")).alias("age")
    )
    a = FeatureEncoder(bounds={"age": (0, 120), "hours": (0, 100)}).fit(table)
    b = FeatureEncoder(bounds={"age": (0, 120), "hours": (0, 100)}).fit(outlier)
    assert a.specs == b.specs
    assert a.specs[0] == FeatureSpec("age", "numeric", "given", (0.0, 120.0))
    x = b.transform(outlier)
    assert x.shape == (table.height, 1 + 1 + 2)
    assert x[:, :2].min() >= -1 and x[:, :2].max() <= 1
    assert x[0, 0] == 1.0  # the outlier is clipped to the bound, not stretching the scale


def test_missing_bounds_need_a_budget_or_are_refused() -> None:
    with pytest.raises(ParameterError, match=r"'hours'.*no bounds"):
        FeatureEncoder(bounds={"age": (0, 120)}).fit(_table())
    encoder = FeatureEncoder(bounds={"age": (0, 120)}, bounds_epsilon=0.5).fit(_table())
    hours = encoder.specs[1]
    assert hours.source == "dp" and hours.epsilon == 0.5
    # ~80 of the 2,000 rows fall in [4, 8) and ~700 in [64, 128), far above the
    # threshold (~23 at epsilon 0.5): each bin is missed with probability < e^-28.
    # The few rows in [1, 4) may or may not pass, so the low bound is 1, 2 or 4.
    assert hours.bounds[0] <= 4 and hours.bounds[1] >= 128
    assert encoder.privacy_loss().epsilon == 0.5
    assert any("'hours'" in note and "differential privacy" in note for note in encoder.public())


def test_categories_from_data_are_reported_public_and_given_ones_kept() -> None:
    table = _table()
    encoder = FeatureEncoder(bounds={"age": (0, 120), "hours": (0, 100)}).fit(table)
    sex = encoder.specs[2]
    assert sex.source == "data" and sex.categories == ("F", "M")
    assert any("'sex'" in n and "treated as public" in n for n in encoder.public())
    given = FeatureEncoder(
        bounds={"age": (0, 120), "hours": (0, 100)}, categories={"sex": ["F", "M", "X"]}
    ).fit(table)
    assert given.specs[2].categories == ("F", "M", "X") and given.specs[2].source == "given"
    unseen = given.transform(pl.DataFrame({"age": [30], "hours": [40.0], "sex": ["other"]}))
    assert unseen[0, 2:].tolist() == [0.0, 0.0, 0.0]


def test_missing_numbers_get_an_indicator() -> None:
    table = pl.DataFrame({"x": [1.0, None, 3.0, float("nan")]})
    encoder = FeatureEncoder(bounds={"x": (0, 4)}).fit(table)
    out = encoder.transform(table)
    assert out.shape == (4, 2)
    assert out[:, 1].tolist() == [0.0, 1.0, 0.0, 1.0]
    assert out[1, 0] == 0.0


def test_bad_columns() -> None:
    with pytest.raises(DataError, match=r"'empty' has no usable values.*--drop empty"):
        FeatureEncoder(bounds={"x": (0, 1)}).fit(
            pl.DataFrame({"x": [0.5, 0.2], "empty": [None, None]})
        )
    many = pl.DataFrame({"name": [f"person {i}" for i in range(500)]})
    with pytest.raises(DataError, match=r"500 distinct values.*identifier"):
        FeatureEncoder().fit(many)
    with pytest.raises(ColumnError, match="'nope'"):
        FeatureEncoder(bounds={"nope": (0, 1)}).fit(pl.DataFrame({"x": [1.0]}))
    with pytest.raises(ParameterError, match="low < high"):
        FeatureEncoder(bounds={"x": (3, 1)}).fit(pl.DataFrame({"x": [1.0]}))
    encoder = FeatureEncoder(bounds={"x": (0, 1)}).fit(pl.DataFrame({"x": [0.5]}))
    with pytest.raises(ColumnError, match="trained on: x"):
        encoder.transform(pl.DataFrame({"y": [1.0]}))


def test_round_trip_of_the_schema() -> None:
    encoder = FeatureEncoder(bounds={"age": (0, 120), "hours": (0, 100)}).fit(_table())
    again = FeatureEncoder.from_dict(encoder.to_dict())
    assert again.specs == encoder.specs
    np.testing.assert_array_equal(again.transform(_table(50, 3)), encoder.transform(_table(50, 3)))
