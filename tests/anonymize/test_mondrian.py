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


def test_suppression_peels_an_outlier_when_it_lowers_the_loss() -> None:
    # Ten ages within 30..35 and one at 90, k=5. Without suppression the class holding
    # 90 spans [33, 90]; with a budget of one row, 90 is suppressed and both classes
    # span 2 years: loss (5 * 2/60 + 5 * 2/60 + 1 * 1) / 11 instead of (5 * 2/60 + 6 * 57/60) / 11.
    frame = pl.DataFrame({"age": [30, 30, 31, 31, 32, 33, 33, 34, 34, 35, 90]})
    kept_all = mondrian(frame, ["age"], [], [KAnonymity(5)])
    assert kept_all.suppressed == 0 and bool(kept_all.kept.all())
    assert kept_all.loss == pytest.approx((5 * 2 / 60 + 6 * 57 / 60) / 11)
    peeled = mondrian(frame, ["age"], [], [KAnonymity(5)], suppression=1)
    assert peeled.suppressed == 1
    assert frame.filter(pl.Series(~peeled.kept))["age"].to_list() == [90]
    assert peeled.loss == pytest.approx((5 * 2 / 60 + 5 * 2 / 60 + 1) / 11)
    assert sorted(set(peeled.columns["age"].filter(pl.Series(peeled.kept)).to_list())) == [
        "[30, 32]",
        "[33, 35]",
    ]


def test_suppression_is_never_spent_when_it_would_raise_the_loss() -> None:
    frame = pl.DataFrame({"age": [21, 22, 23, 24, 25, 41, 42, 43, 44, 45]})
    result = mondrian(frame, ["age"], [], [KAnonymity(5)], suppression=3)
    assert result.suppressed == 0


@settings(max_examples=25, deadline=None)
@given(st.integers(20, 150), st.integers(2, 6), st.booleans(), st.integers(0, 10_000))
def test_anonymizer_mondrian_honours_the_suppression_limit(n, k, strict, seed) -> None:
    from veil.anonymize import Anonymizer

    rng = np.random.default_rng(seed)
    frame = pl.DataFrame(
        {
            "age": np.r_[rng.integers(20, 40, n - 2), [95, 3]],
            "sex": rng.choice(["F", "M"], n),
            "sa": rng.choice(["x", "y", "z"], n),
        }
    )
    anonymizer = Anonymizer([KAnonymity(k)], method="mondrian", suppression=0.05, strict=strict)
    out = anonymizer.fit_transform(frame, ["age", "sex"])
    assert anonymizer.suppressed_ <= int(0.05 * n)
    assert out.height == n - anonymizer.suppressed_
    assert pycanon.k_anonymity(out.to_pandas(), ["age", "sex"]) >= k
    nothing = Anonymizer([KAnonymity(k)], method="mondrian", suppression=0.0, strict=strict)
    assert nothing.fit_transform(frame, ["age", "sex"]).height == n
