"""Options shared by several commands, so every command spells them the same way."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from veil.roles import as_column_list

__all__ = ["Json", "Quasi", "ReportPath", "Sensitive", "columns", "emit"]

Quasi = Annotated[
    list[str] | None,
    typer.Option("--quasi", "-q", help="Quasi-identifier columns, comma-separated (repeatable)."),
]
Sensitive = Annotated[
    list[str] | None,
    typer.Option(
        "--sensitive", "-s", help="Sensitive attribute columns, comma-separated (repeatable)."
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
ReportPath = Annotated[
    str | None, typer.Option("--report", help="Also write an HTML report to this path.")
]


def columns(values: list[str] | None, *, what: str) -> list[str]:
    """Flatten repeated, comma-separated column options into one list."""
    return as_column_list(",".join(values or []), what=what)


def emit(result: Any, *, json: bool, report: str | os.PathLike[str] | None = None) -> None:
    """Write the HTML report when asked, then print JSON or the terminal rendering."""
    if report:
        result.save_html(report)
    if json:
        typer.echo(result.to_json())
        return
    result.print()
    if report:
        typer.echo(f"HTML report written to {report}")
