"""`veil synth`: a differentially private synthetic copy of a table, with its evaluation."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import typer

from veil.cli.app import app, fail
from veil.cli.ledger import JSON_OPTION, REPORT_OPTION, SPENDER_OPTION, TIMEOUT_OPTION
from veil.errors import VeilError
from veil.ledger import DEFAULT_LEDGER
from veil.outputs import check_outputs

__all__ = ["synth"]


def _bounds(values: list[str] | None) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    for value in values or []:
        name, sep, pair = value.rpartition("=")
        lo, colon, hi = pair.partition(":")
        if not sep or not colon or not name.strip():
            fail(f"--bounds takes COLUMN=LOW:HIGH, e.g. age=17:90; got {value!r}")
        try:
            out[name.strip()] = (float(lo), float(hi))
        except ValueError:
            fail(f"--bounds takes two numbers COLUMN=LOW:HIGH, e.g. age=17:90; got {value!r}")
    return out


@app.command("synth")
def synth(
    file: Path = typer.Argument(..., help="The table: CSV, TSV, Parquet or Arrow."),  # noqa: B008
    epsilon: float = typer.Option(..., "--epsilon", help="Privacy loss of the whole synthesis."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write the synthetic table."),  # noqa: B008
    delta: float = typer.Option(1e-9, "--delta", help="Delta of the synthesis (> 0)."),
    method: str = typer.Option("mst", "--method", help="mst, aim or independent (baseline)."),
    rows: int | None = typer.Option(
        None, "-n", "--rows", help="Synthetic rows (default: as many as the rows fitted on)."
    ),
    target: str | None = typer.Option(
        None, "--target", help="Column to predict for TSTR/TRTR; AIM keeps its relations."
    ),
    bounds: list[str] | None = typer.Option(  # noqa: B008
        None, "--bounds", help="Public bounds COLUMN=LOW:HIGH of a numeric column (repeatable)."
    ),
    bins: int = typer.Option(10, "--bins", help="Bins per numeric column."),
    max_categories: int = typer.Option(
        100, "--max-categories", help="Categories kept at most per text column; rest: (other)."
    ),
    holdout: float = typer.Option(
        0.2, "--holdout", help="Share of rows kept out of the fit to evaluate it (0: none)."
    ),
    rounds: int | None = typer.Option(
        None, "--rounds", help="AIM: planned rounds (default 16 per column); fewer is faster."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Seeds sampling and split, not noise."),
    dataset: str | None = typer.Option(
        None, "--dataset", help="Charge this dataset's budget in the ledger."
    ),
    ledger: Path | None = typer.Option(  # noqa: B008
        None, "--ledger", help=f"The ledger file (default {DEFAULT_LEDGER} with --dataset)."
    ),
    spender: str | None = SPENDER_OPTION,
    json: bool = JSON_OPTION,
    report: Path | None = REPORT_OPTION,
    lock_timeout: float = TIMEOUT_OPTION,
) -> None:
    """Write a DP synthetic copy of FILE to -o, and evaluate it against the real rows."""
    from veil.io import write_table
    from veil.ledger import Ledger
    from veil.synth import SYNTHESIZERS, SynthesisWarning, synthesize

    if method not in SYNTHESIZERS:
        fail(f"unknown method {method!r}; choose one of: {', '.join(SYNTHESIZERS)}")
    if rounds is not None and method != "aim":
        fail(f"--rounds applies to --method aim only; got --method {method}")
    options = {"rounds": rounds} if rounds is not None else {}
    if ledger is not None and dataset is None:
        fail("--ledger needs --dataset: the dataset whose budget the synthesis is charged to")
    book_path = (ledger or Path(DEFAULT_LEDGER)) if dataset is not None else None
    check_outputs({"-o": output, "--report": report}, inputs=[file], ledger=book_path)
    book = Ledger(book_path, timeout=lock_timeout) if book_path is not None else None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SynthesisWarning)
            result = synthesize(
                file,
                epsilon=epsilon,
                delta=delta,
                method=method,
                n=rows,
                target=target,
                bounds=_bounds(bounds),
                bins=bins,
                max_categories=max_categories,
                holdout=holdout,
                ledger=book,
                dataset=dataset,
                spender=spender,
                seed=seed,
                progress=sys.stderr.isatty(),
                **options,
            )
    finally:
        if book is not None:
            book.close()
    for w in caught:
        if issubclass(w.category, SynthesisWarning):
            print(f"warning: {' '.join(str(w.message).split())}", file=sys.stderr)
    write_table(result.synthetic, output)
    if json:
        typer.echo(result.to_json())
    else:
        result.print()
        typer.echo(f"synthetic table written to {output}")
    if report is not None:
        try:
            result.save_html(report)
        except (OSError, VeilError) as err:
            fail(
                f"the synthetic table was written to {str(output)!r}, but the report could not "
                f"be written to {str(report)!r}: {err}"
            )
        if not json:
            typer.echo(f"HTML report written to {report}")
