"""Chart blocks: refused when malformed, and the ROC figures audits report."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from sklearn.metrics import roc_auc_score, roc_curve

from veil.errors import ParameterError
from veil.report import (
    BarChart,
    HeatMap,
    LineChart,
    LineSeries,
    RocChart,
    RocCurve,
    ScatterChart,
    ScatterSeries,
    render_terminal,
)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: LineSeries("a", [1, 2, 3], [1, 2]), "y of series 'a' has 2 values but x has 3"),
        (lambda: LineSeries("a", [], []), "x of series 'a' is empty"),
        (lambda: LineSeries("a", [1, math.nan], [1, 2]), "x of series 'a' holds NaN"),
        (lambda: LineSeries("a", [1, 2], [math.nan, math.nan]), "no defined y value"),
        (lambda: LineSeries("a", [1, 2], [1, 2], low=[0, 1]), "give both low and high"),
        (lambda: LineSeries("a", [1, 2], [1, 2], low=[0, 3], high=[2, 2]), "low > high"),
        (lambda: LineSeries("a", [1, 2], [1, math.inf]), "infinite"),
        (lambda: LineSeries("a", [[1, 2]], [[1, 2]]), "flat sequence"),
        (lambda: LineChart([], "t"), "no series"),
        (
            lambda: LineChart([LineSeries("a", [1], [1]), LineSeries("a", [2], [2])], "t"),
            "two series are named 'a'",
        ),
        (lambda: LineChart([LineSeries("a", [0, 1], [1, 2])], "t", log_x=True), "log x axis"),
        (lambda: RocCurve("r", [0, 0.5, 1.5], [0, 0.5, 1]), "leaves [0, 1]"),
        (lambda: RocCurve("r", [0, 0.6, 0.5], [0, 0.5, 1]), "fpr of ROC curve 'r' decreases"),
        (lambda: RocCurve("r", [0, 0.5], [0, 0.5, 1]), "tpr of ROC curve 'r' has 3 values"),
        (lambda: RocChart([], "t"), "no curve"),
        (lambda: ScatterSeries("s", [1, 2], [1, 2], labels=["x"]), "1 labels for 2 points"),
        (lambda: ScatterSeries("s", [1, math.nan], [1, 2]), "holds NaN"),
        (lambda: ScatterChart([ScatterSeries("s", [1], [-1])], "t", log_y=True), "log y axis"),
        (lambda: HeatMap([[1, 2, 3]], ["r"], "h"), "must be square: give column_labels"),
        (lambda: HeatMap([[1, 2], [3, 4]], ["r"], "h"), "1 row labels for 2 rows"),
        (lambda: HeatMap([[1, 2]], ["r"], "h", column_labels=["a"]), "1 column labels for 2"),
        (lambda: HeatMap([[1, 2], [3]], ["r", "s"], "h"), "rows of equal length"),
        (lambda: HeatMap([], [], "h"), "non-empty matrix"),
        (lambda: HeatMap([[math.nan]], ["r"], "h"), "no defined value"),
        (lambda: HeatMap([[math.inf]], ["r"], "h"), "infinite"),
        (lambda: BarChart(["a"], [1.0, 2.0], "b"), "1 labels for 2 values"),
        (lambda: BarChart(["a"], [1.0], "b", errors=[-1.0]), "negative error"),
        (lambda: BarChart(["a"], [1.0], "b", errors=[1.0, 2.0]), "errors of bar chart"),
    ],
)
def test_malformed_charts_are_refused_with_the_fix(build, message) -> None:
    with pytest.raises(ParameterError, match=re.escape(message)):
        build()


def test_lenient_where_a_report_needs_it() -> None:
    # Undefined values are gaps (line), blanks (bar) or grey cells (heat map).
    LineSeries("a", [1, 2, 3], [1, math.nan, 3], low=[0, math.nan, 2], high=[2, math.nan, 4])
    BarChart(["a", "b"], [1.0, math.nan], "b", errors=[math.nan, 0.1])
    BarChart([], [], "empty")
    HeatMap([[1, math.nan], [math.nan, 1]], ["x", "y"], "h")


def test_roc_by_hand() -> None:
    # Staircase (0,0) -> (0,.5) -> (.5,.5) -> (.5,1) -> (1,1): area .5 * .5 + .5 * 1.
    curve = RocCurve("r", [0.0, 0.5, 0.5], [0.5, 0.5, 1.0])
    assert curve.auc == pytest.approx(0.75)
    assert curve.tpr_at(0.001) == 0.5 and curve.tpr_at(0.5) == 1.0
    assert RocCurve("guess", [0.2, 0.7], [0.2, 0.7]).auc == pytest.approx(0.5)
    assert RocCurve("none", [1.0], [1.0]).tpr_at(0.1) == 0.0


@settings(max_examples=50, deadline=None)
@given(
    st.integers(2, 60),
    st.integers(2, 60),
    st.integers(0, 2**32 - 1),
    st.booleans(),
)
def test_roc_matches_scikit_learn(members: int, others: int, seed: int, ties: bool) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=members + others)
    if ties:
        scores = np.round(scores)
    truth = np.r_[np.ones(members), np.zeros(others)]
    fpr, tpr, _ = roc_curve(truth, scores)
    assert RocCurve("r", fpr, tpr).auc == pytest.approx(roc_auc_score(truth, scores), abs=1e-12)
    # TPR at FPR <= f: the best threshold whose false positive rate stays within f,
    # exact with every threshold; a lower bound when sklearn dropped collinear ones.
    every = RocCurve("r", *roc_curve(truth, scores, drop_intermediate=False)[:2])
    for f in (0.001, 0.01, 0.1, 0.5):
        best = max(
            (truth[scores >= t] == 1).sum() / members
            for t in np.r_[np.inf, scores]
            if (truth[scores >= t] == 0).sum() / others <= f
        )
        assert every.tpr_at(f) == pytest.approx(best)
        assert RocCurve("r", fpr, tpr).tpr_at(f) <= best + 1e-12


def test_terminal_shows_every_chart(every_chart_document) -> None:
    console = Console(record=True, width=150)
    render_terminal(every_chart_document, console)
    text = console.export_text()
    lira = every_chart_document.sections[1].blocks[0].curves[0]
    assert "TPR at FPR 0.1%" in text and f"{lira.auc:.3f}" in text
    assert f"{lira.tpr_at(0.01):.2%}" in text
    assert "last min-max over 5 runs" in text and "0.93" in text  # the line chart's values
    assert "synthetic share range" in text  # 46 points: summarised, not listed
    assert "undefined" in text and "diagnosis" in text  # the small heat map, whole
    assert "25 x 30 cells; the 10 largest" in text  # the large one, by its extremes
    assert "histogram(age)" in text and "±" in text
