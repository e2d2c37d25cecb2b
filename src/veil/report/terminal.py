"""Terminal rendering of a report with rich.

A terminal cannot draw a plot, so each chart is printed as the few numbers a
reader would look for in it: bars as text bars, a line chart as each series'
last, lowest and highest value, ROC curves as AUC and the true positive rate at
low false positive rates, a scatter plot as each series' ranges, a heat map as
its table when it fits and its extreme cells when it does not.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table as RichTable

from veil.report.charts import BarChart, HeatMap, LineChart, RocChart, ScatterChart
from veil.report.document import Document, Paragraph, Table
from veil.report.format import cell

__all__ = ["render_terminal"]

_TONES = {"note": "dim", "good": "green", "warn": "yellow"}
_BAR_WIDTH = 40
_ROC_FPRS = (0.001, 0.01, 0.1)  # where membership-inference audits read the TPR
_HEAT_MAX = (20, 8)  # rows and columns of a heat map printed whole
_SCATTER_POINTS = 20  # labelled points listed one by one up to this many


def _text_table(title: str | None, columns: list[str]) -> RichTable:
    table = RichTable(title=title, header_style="bold")
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i == 0 else "right")
    return table


def _number(value: float) -> str:
    return cell(float(value))


def _bars(chart: BarChart) -> RichTable:
    """A text bar chart: one row per bar, scaled to the largest value."""
    table = RichTable(title=chart.title, show_header=True, header_style="bold")
    table.add_column(chart.x_label or "")
    table.add_column(chart.y_label or "value", justify="right")
    table.add_column("")
    finite = [abs(float(v)) for v in chart.values if np.isfinite(v)]
    top = max(finite, default=0) or 1
    for i, (label, value) in enumerate(zip(chart.labels, chart.values, strict=True)):
        length = round(_BAR_WIDTH * abs(value) / top) if np.isfinite(value) else 0
        shown = cell(value)
        if chart.errors is not None:
            shown += f" ± {cell(chart.errors[i])}"
        table.add_row(str(label), shown, f"[cyan]{'█' * length}[/cyan]")
    return table


def _lines(chart: LineChart) -> RichTable:
    x_label = chart.x_label or "x"
    table = _text_table(chart.title, ["series", "points", f"last {x_label}", "last", "min", "max"])
    banded = any(s.low is not None for s in chart.series)
    if banded:
        table.add_column(f"last {chart.band_label or 'band'}", justify="right")
    for s in chart.series:
        y = np.asarray(s.y, dtype=float)
        last = int(np.flatnonzero(~np.isnan(y))[-1])
        row = [s.name, f"{y.size:,}", _number(s.x[last]), _number(y[last])]
        row += [_number(np.nanmin(y)), _number(np.nanmax(y))]
        if banded:
            row.append(
                "-"
                if s.low is None or s.high is None
                else f"{_number(s.low[last])} to {_number(s.high[last])}"
            )
        table.add_row(*row)
    return table


def _roc(chart: RocChart) -> RichTable:
    columns = ["curve", "AUC", *(f"TPR at FPR {f:.1%}".replace(".0%", "%") for f in _ROC_FPRS)]
    table = _text_table(chart.title, columns)
    for curve in chart.curves:
        rates = [f"{curve.tpr_at(f):.2%}" for f in _ROC_FPRS]
        table.add_row(curve.name, f"{curve.auc:.3f}", *rates)
    table.caption = "a random guess has AUC 0.5 and TPR = FPR"
    return table


def _scatter(chart: ScatterChart) -> RichTable:
    few = (
        all(s.labels is not None and len(s.labels) <= _SCATTER_POINTS for s in chart.series)
        and sum(len(s.x) for s in chart.series) <= _SCATTER_POINTS
    )
    if few:  # a handful of named points reads best as they are
        table = _text_table(chart.title, ["point", chart.x_label or "x", chart.y_label or "y"])
        for s in chart.series:
            for label, x, y in zip(s.labels or (), s.x, s.y, strict=True):
                table.add_row(f"{s.name}: {label}", _number(x), _number(y))
        return table
    x_label, y_label = chart.x_label or "x", chart.y_label or "y"
    table = _text_table(chart.title, ["series", "points", f"{x_label} range", f"{y_label} range"])
    for s in chart.series:
        x, y = np.asarray(s.x, dtype=float), np.asarray(s.y, dtype=float)
        table.add_row(
            s.name,
            f"{x.size:,}",
            f"{_number(x.min())} to {_number(x.max())}",
            f"{_number(y.min())} to {_number(y.max())}",
        )
    return table


def _heat_map(chart: HeatMap) -> RichTable:
    matrix = np.asarray(chart.values, dtype=float)
    rows, cols = matrix.shape
    if rows <= _HEAT_MAX[0] and cols <= _HEAT_MAX[1]:
        table = _text_table(chart.title, ["", *map(str, chart.columns)])
        for label, row in zip(chart.row_labels, matrix, strict=True):
            table.add_row(str(label), *(cell(float(v)) for v in row))
        return table
    # Too big for a terminal: the cells furthest from the centre, or the largest.
    if chart.center is None:
        score, which = matrix, "largest"
    else:
        score, which = np.abs(matrix - chart.center), f"furthest from {cell(chart.center)}"
    score = np.where(np.isnan(matrix), -np.inf, score)
    order = np.argsort(score, axis=None, kind="stable")[::-1][:10]
    table = _text_table(chart.title, ["row", "column", chart.color_label or "value"])
    table.caption = f"{rows} x {cols} cells; the {order.size} {which}"
    for flat in order:
        r, c = divmod(int(flat), cols)
        if not np.isnan(matrix[r, c]):
            table.add_row(str(chart.row_labels[r]), str(chart.columns[c]), cell(matrix[r, c]))
    return table


_CHARTS: tuple[tuple[type, Any], ...] = (
    (BarChart, _bars),
    (LineChart, _lines),
    (RocChart, _roc),
    (ScatterChart, _scatter),
    (HeatMap, _heat_map),
)


def render_terminal(document: Document, console: Any = None) -> None:
    """Print ``document`` on ``console`` (stdout when omitted)."""
    console = console or Console()
    console.rule(f"[bold]{document.title}")
    if document.subtitle:
        console.print(document.subtitle, style="dim")
    for section in document.sections:
        console.print()
        console.print(f"[bold underline]{section.title}[/]")
        for block in section.blocks:
            if isinstance(block, Paragraph):
                console.print(block.text, style=_TONES.get(block.tone, ""))
            elif isinstance(block, Table):
                table = RichTable(title=block.title, header_style="bold")
                for i, name in enumerate(block.columns):
                    text = i == 0 or any(isinstance(row[i], str) for row in block.rows)
                    table.add_column(name, justify="left" if text else "right")
                for row in block.rows:
                    table.add_row(*(cell(v) for v in row))
                console.print(table)
            else:
                for kind, render in _CHARTS:
                    if isinstance(block, kind):
                        console.print(render(block))
