"""Options shared by several commands, so every command spells them the same way."""

from __future__ import annotations

import csv
import os
from collections.abc import Collection
from typing import Annotated, Any

import typer

from veil.errors import ParameterError
from veil.roles import as_column_list

__all__ = [
    "Dates",
    "Json",
    "Quasi",
    "ReportPath",
    "Sensitive",
    "Strip",
    "columns",
    "date_columns",
    "emit",
]

_COMMA_HELP = (
    " A name holding a comma: quote it (-q '\"city, state\",age') or give it alone "
    "(-q 'city, state' -q age)."
)
Quasi = Annotated[
    list[str] | None,
    typer.Option(
        "--quasi",
        "-q",
        help="Quasi-identifier columns, comma-separated (repeatable)." + _COMMA_HELP,
    ),
]
Sensitive = Annotated[
    list[str] | None,
    typer.Option(
        "--sensitive",
        "-s",
        help="Sensitive attribute columns, comma-separated (repeatable)." + _COMMA_HELP,
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
ReportPath = Annotated[
    str | None, typer.Option("--report", help="Also write an HTML report to this path.")
]
Dates = Annotated[
    list[str] | None,
    typer.Option(
        "--dates",
        metavar="COL[=FORMAT]",
        help="Read a text column as dates (repeatable). ISO dates (2015-01-31) and day/month "
        "dates the data tells apart are recognised anyway; name a column whose dates are "
        "ambiguous with its format in strftime codes, e.g. --dates 'visit=%d/%m/%Y'.",
    ),
]
Strip = Annotated[
    bool,
    typer.Option(
        "--strip",
        help="Remove the spaces around every text value before anything else (UCI Adult's "
        "' Bachelors' becomes 'Bachelors', to match hierarchy files); the output has the "
        "stripped values.",
    ),
]


def _pieces(value: str) -> list[str]:
    """One option value split on commas, quoted names kept whole, spacing kept."""
    if '"' not in value:
        return value.split(",")
    try:
        return next(csv.reader([value], skipinitialspace=True, strict=True))
    except csv.Error as err:
        raise ParameterError(
            f"cannot read the column list {value!r}: {err}; quote a name holding a comma "
            'as "city, state"'
        ) from None


def columns(
    values: list[str] | None, *, what: str, available: Collection[str] | None = None
) -> list[str]:
    """Flatten repeated, comma-separated column options into one list.

    A name holding a comma can be quoted (``'"city, state",age'``); and when
    ``available`` (the table's columns) is given, pieces that are no column
    but join into one are that column (``'city, state'``, ``'city, state,age'``).
    """
    names: list[str] = []
    for value in values or []:
        pieces = _pieces(value)
        i = 0
        while i < len(pieces):
            name, step = pieces[i].strip(), 1
            if available is not None and name not in available:
                for j in range(len(pieces), i + 1, -1):
                    joined = ",".join(pieces[i:j]).strip()
                    if joined in available:
                        name, step = joined, j - i
                        break
            if name:
                names.append(name)
            i += step
    return as_column_list(names, what=what)


def date_columns(values: list[str] | None) -> dict[str, str | None]:
    """``--dates`` values as column -> strftime format (``None``: recognise it)."""
    out: dict[str, str | None] = {}
    for value in values or []:
        name, sep, fmt = value.rpartition("=")
        if not sep or "%" not in fmt:
            name, fmt = value, ""
        if not name.strip():
            raise ParameterError(
                f"--dates takes COLUMN or COLUMN=FORMAT, e.g. visit=%d/%m/%Y; got {value!r}"
            )
        out[name.strip()] = fmt.strip() or None
    return out


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
