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


def test_loss_metrics_on_ages_with_a_gap() -> None:
    # Ages 20, 21, 22 and 60, one row each; level 1 groups 20-22 as "young", 60 as "old".
    # veil's NCP charges the young group its share of the age range: (22 - 20) / (60 - 20)
    # = 0.05, so the loss is 3 * 0.05 / 4 = 0.0375. ARX's Loss counts distinct values: the
    # group covers 3 of 4, (3 - 1) / (4 - 1) = 2/3, so 3 * 2/3 / 4 = 0.5 (ARX's formula,
    # (sum of count * share - rows / D) / (rows - rows / D) = (2.5 - 1) / (4 - 1)).
    from veil.anonymize import Anonymizer, KAnonymity
    from veil.anonymize.encoding import encode_table
    from veil.anonymize.evaluation import evaluate_node

    frame = pl.DataFrame({"age": [20, 21, 22, 60]})
    groups = {"age": [["20", "young", "*"], ["21", "young", "*"], ["22", "young", "*"],
                      ["60", "old", "*"]]}  # fmt: skip
    ncp = encode_table(frame, ["age"], [], groups)
    arx = encode_table(frame, ["age"], [], groups, loss_metric="arx")
    assert evaluate_node(ncp, (1,), [KAnonymity(1)], 0)[0].loss == pytest.approx(0.0375)
    assert evaluate_node(arx, (1,), [KAnonymity(1)], 0)[0].loss == pytest.approx(0.5)
    # at k=3 with one row suppressible, level 1 costs 0.0375 + 1/4 (NCP) or 0.5 + 1/4 (ARX)
    # (the "old" row suppressed) against 1 at the top: both pick level 1.
    for metric, loss in (("ncp", 0.0375 + 0.25), ("arx", 0.5 + 0.25)):
        anonymizer = Anonymizer([KAnonymity(3)], {"age": groups["age"]}, 0.25, loss_metric=metric)
        anonymizer.fit(frame, "age")
        assert anonymizer.levels_ == {"age": 1}
        name = "information loss (ARX Loss)" if metric == "arx" else "information loss (NCP)"
        assert anonymizer.result_.utility[name]["after"] == pytest.approx(loss)
