"""`veil dp query`: release one statistic of a table with differential privacy."""

from __future__ import annotations

from pathlib import Path

import typer

from veil.cli.app import app, fail
from veil.cli.ledger import (
    JSON_OPTION,
    LEDGER_OPTION,
    REPORT_OPTION,
    SPENDER_OPTION,
    TIMEOUT_OPTION,
)
from veil.cli.options import emit
from veil.dp import Query, release
from veil.errors import VeilError
from veil.ledger import Ledger
from veil.outputs import check_outputs

__all__ = ["dp_app"]

dp_app = typer.Typer(help="Release statistics with differential privacy.", no_args_is_help=True)
app.add_typer(dp_app, name="dp")


def _bounds(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    parts = text.split(",")
    if len(parts) != 2:
        fail(f"--bounds must be LOW,HIGH (e.g. 0,120); got {text!r}")
    try:
        return float(parts[0]), float(parts[1])
    except ValueError:
        fail(f"--bounds must be two numbers LOW,HIGH (e.g. 0,120); got {text!r}")
    raise AssertionError  # unreachable: fail raises


def _query(
    count: bool,
    columns: dict[str, str | None],
    bounds: str | None,
    q: float,
    bins: int | None,
    categories: str | None,
    group_by: str | None,
) -> Query:
    chosen = [name for name, col in columns.items() if col is not None]
    if count:
        chosen.insert(0, "count")
    if len(chosen) != 1:
        fail(
            "give exactly one statistic: --count, --sum COL, --mean COL, --variance COL, "
            f"--quantile COL, --median COL or --histogram COL; got {len(chosen)}"
        )
    statistic = chosen[0]
    column = columns.get(statistic)
    if statistic == "median":
        statistic, q = "quantile", 0.5
    by = tuple(c.strip() for c in group_by.split(",") if c.strip()) if group_by else ()
    cats = tuple(c.strip() for c in categories.split(",")) if categories else None
    return Query(
        statistic,
        column,
        bounds=_bounds(bounds),
        q=q if statistic == "quantile" else None,
        bins=bins,
        categories=cats,
        by=by,
    )


@dp_app.command("query")
def query(
    file: Path = typer.Argument(..., help="The table: CSV, TSV, Parquet or Arrow."),  # noqa: B008
    dataset: str = typer.Option(..., "--dataset", help="The dataset's name in the ledger."),
    epsilon: float = typer.Option(..., "--epsilon", help="Privacy loss this release spends."),
    delta: float = typer.Option(0.0, "--delta", help="Delta this release spends."),
    count: bool = typer.Option(False, "--count", help="Number of rows."),
    sum_: str | None = typer.Option(None, "--sum", help="Sum of COLUMN (needs --bounds)."),
    mean: str | None = typer.Option(None, "--mean", help="Mean of COLUMN (needs --bounds)."),
    variance: str | None = typer.Option(None, "--variance", help="Variance of COLUMN."),
    quantile: str | None = typer.Option(None, "--quantile", help="Quantile --q of COLUMN."),
    median: str | None = typer.Option(None, "--median", help="Median of COLUMN."),
    histogram: str | None = typer.Option(None, "--histogram", help="Counts per bin/category."),
    bounds: str | None = typer.Option(None, "--bounds", help="Clamping bounds LOW,HIGH."),
    q: float = typer.Option(0.5, "--q", help="Which quantile, in [0, 1]."),
    bins: int | None = typer.Option(None, "--bins", help="Histogram bins over --bounds."),
    categories: str | None = typer.Option(None, "--categories", help="Known categories a,b,c."),
    group_by: str | None = typer.Option(None, "--group-by", help="Group-by columns a,b."),
    mechanism: str = typer.Option("laplace", "--mechanism", help="laplace or gaussian."),
    privacy_unit: str | None = typer.Option(None, "--privacy-unit", help="Person id column."),
    max_contributions: int | None = typer.Option(
        None, "--max-contributions", help="Rows kept per person (with --privacy-unit)."
    ),
    alpha: float = typer.Option(0.05, "--alpha", help="1 - confidence of the intervals."),
    spender: str | None = SPENDER_OPTION,
    ledger: Path = LEDGER_OPTION,
    json: bool = JSON_OPTION,
    report: Path | None = REPORT_OPTION,
    lock_timeout: float = TIMEOUT_OPTION,
) -> None:
    """Release one statistic of FILE, charged to --dataset's budget in the ledger."""
    columns = {
        "sum": sum_,
        "mean": mean,
        "variance": variance,
        "quantile": quantile,
        "median": median,
        "histogram": histogram,
    }
    spec = _query(count, columns, bounds, q, bins, categories, group_by)
    # Before any spend: the report may not overwrite the data or the ledger, and must
    # be writable, so the user always gets the value they paid for.
    check_outputs({"--report": report}, inputs=[file], ledger=ledger)
    with Ledger(ledger, timeout=lock_timeout) as book:
        result = release(
            file,
            spec,
            epsilon=epsilon,
            delta=delta,
            dataset=dataset,
            ledger=book,
            mechanism=mechanism,
            privacy_unit=privacy_unit,
            max_contributions=max_contributions,
            alpha=alpha,
            spender=spender,
        )
    emit(result, json=json)  # the released value first: it is paid for whatever follows
    if report is not None:
        try:
            result.save_html(report)
        except (OSError, VeilError) as err:
            fail(
                f"the release was recorded and is printed above, but its report could not be "
                f"written to {str(report)!r}: {err}"
            )
        if not json:
            typer.echo(f"HTML report written to {report}")
