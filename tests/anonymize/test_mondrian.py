"""Mondrian: strict and relaxed partitions, numeric and categorical, with extra constraints."""

from __future__ import annotations

import numpy as np
import polars as pl
import pycanon.anonymity as pycanon
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.anonymize import KAnonymity, LDiversity, TCloseness
from veil.anonymize.mondrian import mondrian
from veil.errors import DataError


def test_textbook_split_at_the_median() -> None:
    # Ten ages, k=5: one cut at the median (LeFevre et al. 2006), two classes of five.
    frame = pl.DataFrame({"age": [21, 22, 23, 24, 25, 41, 42, 43, 44, 45]})
    result = mondrian(frame, ["age"], [], [KAnonymity(5)])
    assert result.columns["age"].to_list() == ["[21, 25]"] * 5 + ["[41, 45]"] * 5
    assert result.loss == pytest.approx((4 / 24 + 4 / 24) / 2)


def test_strict_never_splits_equal_values_relaxed_may() -> None:
    frame = pl.DataFrame({"x": [1, 2, 2, 2, 2, 2, 3, 4]})
    strict = mondrian(frame, ["x"], [], [KAnonymity(4)], strict=True)
    relaxed = mondrian(frame, ["x"], [], [KAnonymity(4)], strict=False)
    assert strict.classes == 1  # a cut at 2 would leave 1 or 2 rows on a side
    assert relaxed.classes == 2
    assert sorted(np.bincount(relaxed.row_class).tolist()) == [4, 4]


def test_categorical_values_become_sets() -> None:
    frame = pl.DataFrame({"city": ["a", "a", "b", "b", "c", "c", "d", "d"]})
    result = mondrian(frame, ["city"], [], [KAnonymity(4)])
    assert sorted(set(result.columns["city"].to_list())) == ["a|b", "c|d"]


def test_whole_table_failing_is_an_error() -> None:
    frame = pl.DataFrame({"x": [1, 2, 3], "s": ["a", "a", "a"]})
    with pytest.raises(DataError, match="whole table does not satisfy"):
        mondrian(frame, ["x"], ["s"], [LDiversity(2)])


@settings(max_examples=30, deadline=None)
@given(
    st.integers(20, 120),
    st.integers(2, 6),
    st.booleans(),
    st.sampled_from(["k", "kl", "kt"]),
    st.integers(0, 10_000),
)
def test_every_partition_meets_the_models(n, k, strict, which, seed) -> None:
    rng = np.random.default_rng(seed)
    frame = pl.DataFrame(
        {
            "age": rng.integers(0, 30, n),
            "sex": rng.choice(["F", "M"], n),
            "score": rng.normal(size=n).round(2),
            "sa": rng.choice(["x", "y", "z"], n),
        }
    )
    models = {
        "k": [KAnonymity(k)],
        "kl": [KAnonymity(k), LDiversity(2)],
        "kt": [KAnonymity(k), TCloseness(0.4)],
    }[which]
    quasi = ["age", "sex", "score"]
    try:
        result = mondrian(frame, quasi, ["sa"], models, strict=strict)
    except DataError:
        assert which != "k"  # only l or t can fail on a whole random table
        return
    out = frame.with_columns(**result.columns).to_pandas()
    assert pycanon.k_anonymity(out, quasi) >= k
    if which == "kl":
        assert pycanon.l_diversity(out, quasi, ["sa"]) >= 2
    if which == "kt":
        assert pycanon.t_closeness(out, quasi, ["sa"]) <= 0.4 + 1e-9
