"""Chart blocks of a report: what each plot shows, checked when it is built.

A chart block holds data and labels only; how it is drawn is the renderers'
business (matplotlib for HTML in :mod:`veil.report.plots`, a table of key
numbers on the terminal). Each block validates its shapes at construction, so a
mistake shows where the report is built, with a message that names the series
and the fix, rather than as a matplotlib traceback at render time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from veil.errors import ParameterError

__all__ = [
    "BarChart",
    "Chart",
    "HeatMap",
    "LineChart",
    "LineSeries",
    "RocChart",
    "RocCurve",
    "ScatterChart",
    "ScatterSeries",
]


def _vector(what: str, values: Any, *, nan: bool = False) -> np.ndarray:
    """``values`` as a 1-D float array, refused when empty, infinite or (unless ``nan``) NaN."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ParameterError(f"{what} must be numbers; got {values!r:.80}") from None
    if array.ndim != 1:
        raise ParameterError(f"{what} must be a flat sequence of numbers; got shape {array.shape}")
    if array.size == 0:
        raise ParameterError(f"{what} is empty; give at least one value")
    if np.isinf(array).any():
        raise ParameterError(f"{what} holds an infinite value; plot finite values only")
    if not nan and np.isnan(array).any():
        raise ParameterError(
            f"{what} holds NaN at position {int(np.flatnonzero(np.isnan(array))[0])}; "
            "drop undefined points before plotting"
        )
    return array


def _same_length(what: str, array: np.ndarray, n: int, other: str) -> None:
    if array.size != n:
        raise ParameterError(
            f"{what} has {array.size} values but {other} has {n}; give one per point"
        )


def _unique_names(kind: str, names: Sequence[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ParameterError(f"two {kind} are named {name!r}; give each a distinct name")
        seen.add(name)


def _check_series(chart: str, series: Sequence[Any], log_x: bool, log_y: bool) -> None:
    """Checks shared by the charts of several named (x, y) series."""
    if not series:
        raise ParameterError(f"{chart} has no series; give at least one")
    _unique_names("series", [s.name for s in series])
    for s in series:
        if log_x:
            _positive(f"x of series {s.name!r}", np.asarray(s.x, dtype=float), "x")
        if log_y:
            _positive(f"y of series {s.name!r}", np.asarray(s.y, dtype=float), "y")


def _positive(what: str, array: np.ndarray, axis: str) -> None:
    if (array[~np.isnan(array)] <= 0).any():
        raise ParameterError(
            f"{what} holds a value <= 0, which a log {axis} axis cannot show; "
            f"drop those points or set log_{axis}=False"
        )


@dataclass
class BarChart:
    """Bars with optional symmetric error bars (e.g. a DP release's confidence interval).

    Parameters
    ----------
    labels, values
        One label and one value per bar. A NaN value (undefined) draws no bar.
    title, x_label, y_label
        Text of the chart.
    errors
        Half-width of each bar's error bar (e.g. of a confidence interval);
        NaN or infinity draws none for that bar.
    log_y
        Logarithmic value axis, for counts spanning decades; bars <= 0 are not drawn.
    """

    labels: Sequence[str]
    values: Sequence[float]
    title: str
    x_label: str = ""
    y_label: str = ""
    errors: Sequence[float] | None = None
    log_y: bool = False

    def __post_init__(self) -> None:
        # Lenient on purpose: a release may hold undefined values, and an empty
        # chart (nothing to show) draws an empty frame rather than failing a report.
        values = np.asarray(self.values, dtype=float).reshape(-1)
        if len(self.labels) != values.size:
            raise ParameterError(
                f"bar chart {self.title!r} has {len(self.labels)} labels for {values.size} "
                "values; give one label per bar"
            )
        if np.isinf(values).any():
            raise ParameterError(f"bar chart {self.title!r} holds an infinite value")
        if self.errors is not None:
            errors = np.asarray(self.errors, dtype=float).reshape(-1)
            _same_length(f"errors of bar chart {self.title!r}", errors, values.size, "values")
            if (errors < 0).any():
                raise ParameterError(
                    f"bar chart {self.title!r} has a negative error; errors are half-widths >= 0"
                )


@dataclass
class LineSeries:
    """One line of a :class:`LineChart`, with an optional shaded band around it.

    Parameters
    ----------
    name
        Shown in the legend.
    x, y
        The points, in the order they are joined. NaN in ``y`` leaves a gap.
    low, high
        Lower and upper edge of a band (a confidence interval, a min-max range
        over runs); both or neither, one value per point.
    """

    name: str
    x: Sequence[float]
    y: Sequence[float]
    low: Sequence[float] | None = None
    high: Sequence[float] | None = None

    def __post_init__(self) -> None:
        x = _vector(f"x of series {self.name!r}", self.x)
        y = _vector(f"y of series {self.name!r}", self.y, nan=True)
        _same_length(f"y of series {self.name!r}", y, x.size, "x")
        if np.isnan(y).all():
            raise ParameterError(f"series {self.name!r} has no defined y value")
        if (self.low is None) != (self.high is None):
            raise ParameterError(f"series {self.name!r} has one band edge; give both low and high")
        if self.low is not None:
            low = _vector(f"low of series {self.name!r}", self.low, nan=True)
            high = _vector(f"high of series {self.name!r}", self.high, nan=True)
            _same_length(f"low of series {self.name!r}", low, x.size, "x")
            _same_length(f"high of series {self.name!r}", high, x.size, "x")
            if (low > high).any():  # NaN compares False: undefined edges pass
                raise ParameterError(
                    f"band of series {self.name!r} has low > high at position "
                    f"{int(np.flatnonzero(low > high)[0])}; swap the edges"
                )


@dataclass
class LineChart:
    """Several series of (x, y) points joined by lines, e.g. a metric against epsilon.

    Parameters
    ----------
    series
        The lines; each gets the next colour of the report's palette.
    title, x_label, y_label
        Text of the chart.
    band_label
        What the shaded bands are ("95% confidence interval", "min-max over
        10 runs"); shown once in the legend when a series has a band.
    log_x, log_y
        Logarithmic axes; their values must then be positive.
    """

    series: Sequence[LineSeries]
    title: str
    x_label: str = ""
    y_label: str = ""
    band_label: str = ""
    log_x: bool = False
    log_y: bool = False

    def __post_init__(self) -> None:
        _check_series(f"line chart {self.title!r}", self.series, self.log_x, self.log_y)


@dataclass
class RocCurve:
    """One receiver operating characteristic: true against false positive rate.

    Points go by decreasing decision threshold, as ``sklearn.metrics.roc_curve``
    returns them; (0, 0) and (1, 1), the thresholds above and below every score,
    are implied when missing.

    Parameters
    ----------
    name
        Shown in the legend with the curve's AUC.
    fpr, tpr
        False and true positive rates, each non-decreasing, in [0, 1].
    """

    name: str
    fpr: Sequence[float]
    tpr: Sequence[float]

    def __post_init__(self) -> None:
        fpr = _vector(f"fpr of ROC curve {self.name!r}", self.fpr)
        tpr = _vector(f"tpr of ROC curve {self.name!r}", self.tpr)
        _same_length(f"tpr of ROC curve {self.name!r}", tpr, fpr.size, "fpr")
        for what, rates in (("fpr", fpr), ("tpr", tpr)):
            if rates.min() < 0 or rates.max() > 1:
                raise ParameterError(
                    f"{what} of ROC curve {self.name!r} leaves [0, 1]; give rates, not counts"
                )
            if (np.diff(rates) < 0).any():
                raise ParameterError(
                    f"{what} of ROC curve {self.name!r} decreases; give the points by decreasing "
                    "threshold, as sklearn.metrics.roc_curve returns them"
                )

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """The false and true positive rates, from (0, 0) to (1, 1)."""
        fpr = np.asarray(self.fpr, dtype=float)
        tpr = np.asarray(self.tpr, dtype=float)
        if fpr[0] > 0 or tpr[0] > 0:
            fpr, tpr = np.r_[0.0, fpr], np.r_[0.0, tpr]
        if fpr[-1] < 1 or tpr[-1] < 1:
            fpr, tpr = np.r_[fpr, 1.0], np.r_[tpr, 1.0]
        return fpr, tpr

    @property
    def auc(self) -> float:
        """Area under the curve (trapezoids), 0.5 for a guess, 1 for a perfect attack."""
        fpr, tpr = self.points()
        return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))

    def tpr_at(self, fpr: float) -> float:
        """The highest true positive rate at a false positive rate of at most ``fpr``.

        The figure membership-inference audits report at low FPR (Carlini et al.
        2022, "Membership inference attacks from first principles"): read off the
        curve's points, never interpolated, so it is what some threshold achieves.
        Exact when the curve holds every threshold
        (``roc_curve(..., drop_intermediate=False)``); a lower bound otherwise.
        """
        rates, tprs = self.points()
        return float(tprs[rates <= fpr].max())


@dataclass
class RocChart:
    """ROC curves against the diagonal of a random guess, with each AUC in the legend.

    Parameters
    ----------
    curves
        One curve per attack, model or setting.
    title
        Title of the chart.
    log_scale
        Log-log axes, which show the low false-positive region where an attack
        that identifies a few people with confidence stands out; the points
        with a rate of 0 sit at the left or bottom edge.
    """

    curves: Sequence[RocCurve]
    title: str
    log_scale: bool = False
    x_label: str = "false positive rate"
    y_label: str = "true positive rate"

    def __post_init__(self) -> None:
        if not self.curves:
            raise ParameterError(f"ROC chart {self.title!r} has no curve; give at least one")
        _unique_names("ROC curves", [c.name for c in self.curves])


@dataclass
class ScatterSeries:
    """One set of points of a :class:`ScatterChart`, optionally labelled one by one.

    Parameters
    ----------
    name
        Shown in the legend.
    x, y
        Coordinates of the points.
    labels
        A short text written next to each point (keep to a few dozen points).
    """

    name: str
    x: Sequence[float]
    y: Sequence[float]
    labels: Sequence[str] | None = None

    def __post_init__(self) -> None:
        x = _vector(f"x of series {self.name!r}", self.x)
        y = _vector(f"y of series {self.name!r}", self.y)
        _same_length(f"y of series {self.name!r}", y, x.size, "x")
        if self.labels is not None and len(self.labels) != x.size:
            raise ParameterError(
                f"series {self.name!r} has {len(self.labels)} labels for {x.size} points; "
                "give one label per point"
            )


@dataclass
class ScatterChart:
    """Several series of points, e.g. real against synthetic marginals.

    Parameters
    ----------
    series
        The sets of points; each gets the next colour of the report's palette.
    title, x_label, y_label
        Text of the chart.
    diagonal
        Draw the line y = x, the reference when both axes measure the same thing.
    log_x, log_y
        Logarithmic axes; their values must then be positive.
    """

    series: Sequence[ScatterSeries]
    title: str
    x_label: str = ""
    y_label: str = ""
    diagonal: bool = False
    log_x: bool = False
    log_y: bool = False

    def __post_init__(self) -> None:
        _check_series(f"scatter chart {self.title!r}", self.series, self.log_x, self.log_y)


@dataclass
class HeatMap:
    """A matrix of values as coloured cells, with a colour bar.

    Parameters
    ----------
    values
        The matrix, one inner sequence per row. NaN (undefined, e.g. the
        correlation of a constant column) is shown as a grey cell.
    row_labels
        One label per row.
    title
        Title of the chart.
    column_labels
        One label per column; when omitted the columns are the rows (a
        correlation matrix) and the matrix must be square.
    color_label
        What the colour measures, written along the colour bar.
    center
        A value that divides the scale (0 for a difference of correlations):
        a diverging palette symmetric around it. Omitted: a sequential palette.
    annotate
        Write each value in its cell; by default when the matrix has at most
        12 x 12 cells.
    """

    values: Sequence[Sequence[float]]
    row_labels: Sequence[str]
    title: str
    column_labels: Sequence[str] | None = None
    color_label: str = ""
    center: float | None = None
    annotate: bool | None = None

    def __post_init__(self) -> None:
        try:
            matrix = np.asarray(self.values, dtype=float)
        except (TypeError, ValueError):
            raise ParameterError(
                f"heat map {self.title!r} needs a matrix of numbers with rows of equal length"
            ) from None
        if matrix.ndim != 2 or matrix.size == 0:
            raise ParameterError(
                f"heat map {self.title!r} needs a non-empty matrix (rows of columns); "
                f"got shape {matrix.shape}"
            )
        rows, cols = matrix.shape
        if len(self.row_labels) != rows:
            raise ParameterError(
                f"heat map {self.title!r} has {len(self.row_labels)} row labels for {rows} rows"
            )
        if self.column_labels is None and rows != cols:
            raise ParameterError(
                f"heat map {self.title!r} is {rows} x {cols}; without column_labels the columns "
                "are the rows and the matrix must be square: give column_labels"
            )
        if self.column_labels is not None and len(self.column_labels) != cols:
            raise ParameterError(
                f"heat map {self.title!r} has {len(self.column_labels)} column labels for "
                f"{cols} columns"
            )
        if np.isinf(matrix).any():
            raise ParameterError(f"heat map {self.title!r} holds an infinite value")
        if np.isnan(matrix).all():
            raise ParameterError(f"heat map {self.title!r} has no defined value")
        if self.center is not None and not np.isfinite(self.center):
            raise ParameterError(f"center of heat map {self.title!r} must be finite")

    @property
    def columns(self) -> Sequence[str]:
        """The column labels (the row labels for a square matrix without its own)."""
        return self.row_labels if self.column_labels is None else self.column_labels

    @property
    def annotated(self) -> bool:
        """Whether each cell shows its value."""
        if self.annotate is not None:
            return self.annotate
        rows, cols = np.shape(self.values)
        return rows <= 12 and cols <= 12


Chart = BarChart | LineChart | RocChart | ScatterChart | HeatMap
