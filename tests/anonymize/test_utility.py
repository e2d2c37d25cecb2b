"""Utility metrics, hand-computed on small tables."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from veil.anonymize.utility import (
    average_class_size,
    classifier_accuracy,
    discernibility,
    generalization_intensity,
    non_uniform_entropy,
)


def test_discernibility_and_class_size() -> None:
    assert discernibility(np.array([2, 3]), suppressed=1, n_rows=6) == 4 + 9 + 6
    assert average_class_size(np.array([2, 4])) == 3
    assert average_class_size(np.array([2, 4]), k=2) == 1.5
    assert generalization_intensity([1, 0], [3, 2]) == 0.25


def test_non_uniform_entropy() -> None:
    original = pl.DataFrame({"a": ["x", "y", "x", "z"]})
    assert non_uniform_entropy(original, original, np.ones(4, bool), ["a"]) == 0.0
    released = pl.DataFrame({"a": ["*", "*", "*", "*"]})
    # releasing * for every row loses exactly what suppressing every row does
    assert non_uniform_entropy(original, released, np.ones(4, bool), ["a"]) == pytest.approx(1.0)
    grouped = pl.DataFrame({"a": ["xy", "xy", "xy", "z"]})
    lost = -3 * (2 / 3 * math.log2(2 / 3) + 1 / 3 * math.log2(1 / 3))
    worst = -(2 * math.log2(2 / 4) + math.log2(1 / 4) + math.log2(1 / 4))
    assert non_uniform_entropy(original, grouped, np.ones(4, bool), ["a"]) == pytest.approx(
        lost / worst
    )


def test_classifier_accuracy_drops_when_the_signal_is_generalized_away() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 10, 2000)
    original = pl.DataFrame({"x": x, "y": np.where(x >= 5, "high", "low")})
    keep_all = np.ones(2000, bool)
    same = classifier_accuracy(original, original, keep_all, "y")
    assert same["original"] == same["anonymized"] == 1.0
    blurred = original.with_columns(x=pl.lit("*"))
    acc = classifier_accuracy(original, blurred, keep_all, "y")
    assert acc["original"] == 1.0 and acc["anonymized"] < 0.6
