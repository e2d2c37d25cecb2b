"""A report holding every kind of chart, shared by the rendering tests."""

from __future__ import annotations

import numpy as np
import pytest

from veil.report import (
    BarChart,
    Document,
    HeatMap,
    LineChart,
    LineSeries,
    Paragraph,
    RocChart,
    RocCurve,
    ScatterChart,
    ScatterSeries,
    Section,
)


def _roc(members: np.ndarray, others: np.ndarray) -> tuple[list[float], list[float]]:
    """FPR and TPR at every threshold, from the highest score down."""
    thresholds = np.sort(np.r_[members, others])[::-1]
    return (
        [float((others >= t).mean()) for t in thresholds],
        [float((members >= t).mean()) for t in thresholds],
    )


def every_chart() -> Document:
    """One section per chart kind, with the features each one offers."""
    rng = np.random.default_rng(7)
    epsilon = np.geomspace(0.1, 10, 12)
    accuracy = 0.9 - 0.4 * np.exp(-epsilon)
    lines = LineChart(
        [
            LineSeries("MST", epsilon, accuracy, low=accuracy - 0.05, high=accuracy + 0.05),
            LineSeries("AIM", epsilon, accuracy + 0.03, low=accuracy, high=accuracy + 0.06),
            LineSeries("no noise", epsilon, np.full(12, 0.93)),
        ],
        "Utility against epsilon",
        x_label="epsilon",
        y_label="accuracy",
        band_label="min-max over 5 runs",
        log_x=True,
    )
    others = rng.normal(0, 1, 5000)
    curves = [
        RocCurve("LiRA", *_roc(rng.normal(1, 1, 500), others)),
        RocCurve("loss threshold", *_roc(rng.normal(0.3, 1, 500), others)),
    ]
    columns = ["age", "sex", "zip", "income", "diagnosis"]
    difference = rng.uniform(-0.3, 0.3, (5, 5))
    difference = (difference + difference.T) / 2
    np.fill_diagonal(difference, 0)
    difference[1, 3] = difference[3, 1] = np.nan
    return Document(
        "Every chart",
        [
            Section("Lines", [lines]),
            Section(
                "Membership inference",
                [
                    RocChart(curves, "ROC of the attacks"),
                    RocChart(curves, "ROC of the attacks, log-log", log_scale=True),
                ],
            ),
            Section(
                "Marginals",
                [
                    ScatterChart(
                        [
                            ScatterSeries(
                                "age", rng.random(6), rng.random(6), labels=list("abcdef")
                            ),
                            ScatterSeries("zip", rng.random(40), rng.random(40)),
                        ],
                        "Synthetic against real",
                        x_label="real share",
                        y_label="synthetic share",
                        diagonal=True,
                    )
                ],
            ),
            Section(
                "Correlations",
                [
                    HeatMap(
                        difference,
                        columns,
                        "Correlation difference",
                        color_label="synthetic - real",
                        center=0,
                    ),
                    HeatMap(
                        rng.random((25, 30)),
                        [f"row {i}" for i in range(25)],
                        "A large matrix",
                        column_labels=[f"column {i}" for i in range(30)],
                    ),
                ],
            ),
            Section(
                "Bars",
                [
                    BarChart(
                        [f"{5 * i}-{5 * i + 4}" for i in range(20)],
                        list(rng.integers(50, 5000, 20).astype(float)),
                        "histogram(age)",
                        x_label="age",
                        y_label="people",
                        errors=[80.0] * 20,
                    ),
                    BarChart(
                        [str(i) for i in range(1, 61)],
                        list(10 ** rng.uniform(0, 4, 60)),
                        "Classes by size",
                        y_label="classes",
                        log_y=True,
                    ),
                    Paragraph("The end."),
                ],
            ),
        ],
        subtitle="rendered by the tests",
    )


@pytest.fixture
def every_chart_document() -> Document:
    return every_chart()


@pytest.fixture(scope="session")
def every_chart_html() -> str:
    """The page of :func:`every_chart`, rendered once for the tests that only read it."""
    from veil.report import render_html

    return render_html(every_chart())
