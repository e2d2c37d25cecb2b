"""Terminal rendering of a report with rich."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table as RichTable

from veil.report.document import BarChart, Document, Paragraph, Table
from veil.report.format import cell

__all__ = ["render_terminal"]

_TONES = {"note": "dim", "good": "green", "warn": "yellow"}
_BAR_WIDTH = 40


def _bars(chart: BarChart) -> RichTable:
    """A text bar chart: one row per bar, scaled to the largest value."""
    table = RichTable(title=chart.title, show_header=True, header_style="bold")
    table.add_column(chart.x_label or "")
    table.add_column(chart.y_label or "value", justify="right")
    table.add_column("")
    top = max((abs(v) for v in chart.values), default=0) or 1
    for i, (label, value) in enumerate(zip(chart.labels, chart.values, strict=True)):
        bar = "█" * max(0, round(_BAR_WIDTH * abs(value) / top))
        shown = cell(value)
        if chart.errors is not None:
            shown += f" ± {cell(chart.errors[i])}"
        table.add_row(str(label), shown, f"[cyan]{bar}[/cyan]")
    return table


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
            elif isinstance(block, BarChart):
                console.print(_bars(block))
