"""How each chart block is drawn with matplotlib: one function per kind of chart.

:mod:`veil.report.plots` turns the figures into inline SVG; here is what they
show. Every drawing uses the same palette, in the same order, and the page's
number style on its axes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from veil.report.charts import BarChart, HeatMap, LineChart, RocChart, ScatterChart
from veil.report.format import cell

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["CLASS_GID", "DRAWERS", "INK", "MUTED", "PALETTE"]

#: Series colours, in order; the first is the page's accent. Distinct in hue and
#: lightness so that neighbours stay apart for the common colour-vision deficiencies.
PALETTE = (
    "#4a7ab5",
    "#e08a2c",
    "#3d9a6a",
    "#c8504a",
    "#8166b0",
    "#8c6d4f",
    "#d16ba5",
    "#5c5c5c",
)
INK, MUTED, _REFERENCE = "#222222", "#555555", "#999999"

_WIDE = 7.2  # inches: 518 pt, about 690 CSS px, inside the page's 960 px column
_MAX_LABEL = 24  # characters of an axis label before it is cut with an ellipsis
_MAX_TICKS = 30  # category labels shown on one axis before every k-th is skipped
# Artists given this gid come out with a class instead of an id: a hook for the
# page's CSS and for tests, which never collides between the charts of one page.
CLASS_GID = "veil-class-"


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _cut(label: Any) -> str:
    text = str(label)
    return text if len(text) <= _MAX_LABEL else text[: _MAX_LABEL - 1] + "…"


def _tick(value: float, _position: Any = None) -> str:
    """Tick text in the report's number style (``cell``), integers with separators."""
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return cell(float(value))


def _texts(ax: Axes, title: str, x_label: str, y_label: str) -> None:
    ax.set_title(title)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)


def _number_ticks(ax: Axes, *, log_x: bool = False, log_y: bool = False) -> None:
    from matplotlib.ticker import FuncFormatter

    if not log_x:
        ax.xaxis.set_major_formatter(FuncFormatter(_tick))
    if not log_y:
        ax.yaxis.set_major_formatter(FuncFormatter(_tick))


def _categories(
    ax: Axes, axis: str, positions: np.ndarray, labels: Sequence[Any], *, rotate: bool
) -> None:
    """Label categorical ticks, every k-th only when there are too many to read."""
    step = max(1, math.ceil(len(labels) / _MAX_TICKS))
    texts = [_cut(label) for label in labels][::step]
    if axis == "x":
        ax.set_xticks(positions[::step], texts)
        if rotate:
            ax.tick_params(axis="x", labelrotation=40)
            for text in ax.get_xticklabels():
                text.set_horizontalalignment("right")
                text.set_rotation_mode("anchor")
    else:
        ax.set_yticks(positions[::step], texts)


def _rotate(labels: Sequence[Any], room: float) -> bool:
    """Whether category labels along ``room`` inches would overlap if horizontal."""
    shown = min(len(labels), _MAX_TICKS)
    longest = max((len(_cut(label)) for label in labels), default=0)
    return shown * (longest * 0.075 + 0.15) > room


def _legend(ax: Axes, handles: list[Any] | None = None) -> None:
    """A legend inside the plot for a few entries, beside it for many."""
    entries = handles if handles is not None else ax.get_legend_handles_labels()[0]
    if len(entries) <= 5:
        ax.legend(handles=handles, loc="best")
    else:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1))


def _no_data(ax: Axes) -> None:
    ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", color=_REFERENCE)


def _decade_range(values: np.ndarray) -> tuple[float, float]:
    """Whole decades around the positive ``values``, at least one decade wide."""
    positive = values[values > 0]
    low = 10.0 ** math.floor(math.log10(positive.min()))
    high = 10.0 ** math.ceil(math.log10(positive.max() * 1.0001))
    return low, max(high, low * 10)


def _bars(chart: BarChart) -> Figure:
    values = np.asarray(chart.values, dtype=float).reshape(-1)
    positions = np.arange(values.size)
    rotate = _rotate(chart.labels, _WIDE - 1)
    longest = max((len(_cut(label)) for label in chart.labels), default=0)
    figure = _figure(_WIDE, 3.4 + (0.05 * longest if rotate else 0))
    ax = figure.add_subplot()
    _texts(ax, chart.title, chart.x_label, chart.y_label)
    ax.grid(axis="x", visible=False)
    shown = np.isfinite(values) & (values > 0 if chart.log_y else True)
    if not shown.any():
        _no_data(ax)
        return figure
    ax.bar(positions[shown], values[shown], width=0.8, color=PALETTE[0], gid=CLASS_GID + "bar")
    low = 0.0
    if chart.log_y:
        low, high = _decade_range(values[shown])
        ax.set_yscale("log")
        ax.set_ylim(low, high)
    else:
        _number_ticks(ax)
    if chart.errors is not None:
        errors = np.asarray(chart.errors, dtype=float).reshape(-1)
        has = shown & np.isfinite(errors) & (errors > 0)
        if has.any():
            value, error = values[has], errors[has]
            # On a log axis an interval reaching 0 or below ends at the frame.
            below = np.minimum(error, value - low) if chart.log_y else error
            bars = ax.errorbar(
                positions[has],
                value,
                yerr=np.vstack([below, error]),
                fmt="none",
                ecolor=INK,
                elinewidth=1.2,
                capsize=3 if values.size <= 40 else 0,
            )
            for artist in (*bars.lines[1], *bars.lines[2]):
                artist.set_gid(CLASS_GID + "err")
    ax.set_xlim(-0.6, values.size - 0.4)
    _categories(ax, "x", positions, chart.labels, rotate=rotate)
    return figure


def _lines(chart: LineChart) -> Figure:
    from matplotlib.patches import Patch

    figure = _figure(_WIDE, 3.6)
    ax = figure.add_subplot()
    _texts(ax, chart.title, chart.x_label, chart.y_label)
    handles: list[Any] = []
    banded = False
    for i, series in enumerate(chart.series):
        x = np.asarray(series.x, dtype=float)
        (line,) = ax.plot(
            x,
            np.asarray(series.y, dtype=float),
            color=_colour(i),
            marker="o" if x.size <= 25 else None,
            markersize=3.5,
            label=series.name,
            gid=CLASS_GID + "line",
        )
        handles.append(line)
        if series.low is not None and series.high is not None:
            banded = True
            ax.fill_between(
                x,
                np.asarray(series.low, dtype=float),
                np.asarray(series.high, dtype=float),
                color=_colour(i),
                alpha=0.2,
                linewidth=0,
                gid=CLASS_GID + "band",
            )
    if chart.log_x:
        ax.set_xscale("log")
    if chart.log_y:
        ax.set_yscale("log", nonpositive="clip")
    _number_ticks(ax, log_x=chart.log_x, log_y=chart.log_y)
    if banded and chart.band_label:
        handles.append(Patch(color=_REFERENCE, alpha=0.35, label=chart.band_label))
    if len(handles) > 1:
        _legend(ax, handles)
    return figure


def _roc(chart: RocChart) -> Figure:
    figure = _figure(5.4, 4.8)
    ax = figure.add_subplot()
    _texts(ax, chart.title, chart.x_label, chart.y_label)
    limits = (0.0, 1.0)
    if chart.log_scale:
        rates = np.concatenate([np.asarray(c.fpr, dtype=float) for c in chart.curves])
        inside = rates[(rates > 0) & (rates < 1)]
        # Start one decade below the smallest rate seen, between 1e-6 and 1e-2.
        floor = 10.0 ** math.floor(math.log10(inside.min())) if inside.size else 1e-3
        limits = (min(max(floor, 1e-6), 1e-2), 1.0)
        # "clip" draws a rate of 0 at the edge: the curve then rises from the frame.
        ax.set_xscale("log", nonpositive="clip")
        ax.set_yscale("log", nonpositive="clip")
    ax.plot(limits, limits, linestyle="--", color=_REFERENCE, linewidth=1, label="random guess")
    for i, curve in enumerate(chart.curves):
        fpr, tpr = _corners(*curve.points())
        ax.plot(
            fpr,
            tpr,
            color=_colour(i),
            label=f"{curve.name} (AUC {curve.auc:.3f})",
            gid=CLASS_GID + "roc",
        )
    ax.set_xlim(limits)
    ax.set_ylim(limits)
    ax.set_aspect("equal")
    if not chart.log_scale:
        _number_ticks(ax)
    ax.legend(loc="lower right")
    return figure


def _corners(fpr: np.ndarray, tpr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop the points inside a horizontal or vertical run: an ROC taken at every
    threshold is a staircase of many thousand points, drawn the same by its corners."""
    inner = (np.diff(fpr[:-1]) == 0) & (np.diff(fpr[1:]) == 0)
    inner |= (np.diff(tpr[:-1]) == 0) & (np.diff(tpr[1:]) == 0)
    keep = np.r_[True, ~inner, True]
    return fpr[keep], tpr[keep]


def _scatter(chart: ScatterChart) -> Figure:
    figure = _figure(_WIDE, 4.4)
    ax = figure.add_subplot()
    _texts(ax, chart.title, chart.x_label, chart.y_label)
    for i, series in enumerate(chart.series):
        x, y = np.asarray(series.x, dtype=float), np.asarray(series.y, dtype=float)
        ax.scatter(
            x,
            y,
            s=24,
            color=_colour(i),
            alpha=1.0 if x.size <= 200 else 0.6,  # see-through only where points pile up
            edgecolors="white",
            linewidths=0.4,
            label=series.name,
            gid=CLASS_GID + "points",
        )
        for label, px, py in zip(series.labels or (), x, y, strict=False):
            ax.annotate(
                str(label), (px, py), xytext=(4, 3), textcoords="offset points", fontsize=7.5
            )
    if chart.diagonal:
        both = np.concatenate([np.r_[s.x, s.y] for s in chart.series]).astype(float)
        ends = [both.min(), both.max()]
        ax.plot(ends, ends, linestyle="--", color=_REFERENCE, linewidth=1, label="y = x", zorder=1)
    if chart.log_x:
        ax.set_xscale("log")
    if chart.log_y:
        ax.set_yscale("log")
    _number_ticks(ax, log_x=chart.log_x, log_y=chart.log_y)
    if len(chart.series) > 1 or chart.diagonal:
        _legend(ax)
    return figure


def _heat_map(chart: HeatMap) -> Figure:
    from matplotlib import colormaps

    matrix = np.asarray(chart.values, dtype=float)
    rows, cols = matrix.shape
    columns = chart.columns
    row_room = 0.07 * max(len(_cut(label)) for label in chart.row_labels)
    rotate = _rotate(columns, 0.5 * cols)
    col_room = 0.06 * max(len(_cut(label)) for label in columns) if rotate else 0.2
    figure = _figure(
        min(max(2.4 + row_room + 0.5 * cols, 4.5), _WIDE),
        min(max(1.3 + col_room + 0.4 * rows, 3.0), 8.0),
    )
    ax = figure.add_subplot()
    ax.set_title(chart.title)
    ax.grid(False)
    defined = matrix[~np.isnan(matrix)]
    if chart.center is not None:
        span = float(np.abs(defined - chart.center).max()) or 1.0
        low, high = chart.center - span, chart.center + span
        cmap = colormaps["RdBu_r"]
    else:
        low, high = float(defined.min()), float(defined.max())
        if low == high:
            low, high = low - 0.5, high + 0.5
        cmap = colormaps["viridis"]
    cmap = cmap.with_extremes(bad="#dddddd")
    shown = np.ma.masked_invalid(matrix)
    if rows * cols <= 400:  # a path per cell, parted by white lines
        mesh = ax.pcolormesh(
            shown, cmap=cmap, vmin=low, vmax=high, edgecolors="white", linewidth=0.5
        )
    else:  # an image of one pixel per cell, which the browser scales without blur
        mesh = ax.imshow(
            shown,
            cmap=cmap,
            vmin=low,
            vmax=high,
            interpolation="none",
            aspect="auto",
            extent=(0, cols, rows, 0),
        )
    mesh.set_gid(CLASS_GID + "cells")
    ax.set_xlim(0, cols)
    ax.set_ylim(rows, 0)  # row 0 at the top, as the matrix reads
    if chart.column_labels is None:
        ax.set_aspect("equal")
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.tick_params(length=0)
    _categories(ax, "x", np.arange(cols) + 0.5, columns, rotate=rotate)
    _categories(ax, "y", np.arange(rows) + 0.5, chart.row_labels, rotate=False)
    bar = figure.colorbar(mesh, ax=ax, shrink=0.9, pad=0.02)
    bar.set_label(chart.color_label)
    bar.outline.set_visible(False)
    bar.ax.tick_params(length=2)
    if chart.annotated:
        _annotate_cells(ax, matrix, lambda v: cmap((v - low) / (high - low)))
    return figure


def _annotate_cells(
    ax: Axes, matrix: np.ndarray, colour_of: Callable[[float], tuple[float, ...]]
) -> None:
    """Write each value in its cell, light on dark cells and dark on light ones."""
    defined = matrix[~np.isnan(matrix)]
    if np.all(defined == np.round(defined)):
        text_of = "{:,.0f}".format
    elif np.abs(defined).max() < 100:
        text_of = "{:.2f}".format
    else:
        text_of = "{:.3g}".format
    size = 8 if matrix.shape[1] <= 8 else 7
    for (r, c), value in np.ndenumerate(matrix):
        if np.isnan(value):
            ax.text(c + 0.5, r + 0.5, "n/a", ha="center", va="center", fontsize=size, color=MUTED)
            continue
        red, green, blue, _ = colour_of(value)
        light = 0.2126 * red + 0.7152 * green + 0.0722 * blue > 0.5  # relative luminance
        ax.text(
            c + 0.5,
            r + 0.5,
            text_of(value),
            ha="center",
            va="center",
            fontsize=size,
            color=INK if light else "white",
        )


DRAWERS: tuple[tuple[type, Callable[[Any], Figure]], ...] = (
    (BarChart, _bars),
    (LineChart, _lines),
    (RocChart, _roc),
    (ScatterChart, _scatter),
    (HeatMap, _heat_map),
)
