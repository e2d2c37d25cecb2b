"""Reports: one document model, three renderings (terminal, JSON, HTML).

Every result object of veil (an anonymity assessment, a DP release, an audit)
describes itself once as a :class:`Document` of sections, tables and charts
(bars, lines with bands, ROC curves, scatter plots, heat maps). The same
document is printed on the terminal with rich, written as a self-contained HTML
page with SVG plots drawn by matplotlib, or serialised to JSON via the result's
``to_dict()``.
"""

from __future__ import annotations

from veil.report.charts import (
    BarChart,
    HeatMap,
    LineChart,
    LineSeries,
    RocChart,
    RocCurve,
    ScatterChart,
    ScatterSeries,
)
from veil.report.document import Document, Paragraph, Result, Section, Table
from veil.report.html import render_html
from veil.report.jsonify import to_json
from veil.report.terminal import render_terminal

__all__ = [
    "BarChart",
    "Document",
    "HeatMap",
    "LineChart",
    "LineSeries",
    "Paragraph",
    "Result",
    "RocChart",
    "RocCurve",
    "ScatterChart",
    "ScatterSeries",
    "Section",
    "Table",
    "render_html",
    "render_terminal",
    "to_json",
]
