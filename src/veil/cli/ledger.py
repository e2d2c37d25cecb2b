"""`veil ledger`: register a dataset's privacy budget, show what is spent and left."""

from __future__ import annotations

from pathlib import Path

import typer

from veil.cli.app import app
from veil.cli.options import emit
from veil.errors import ParameterError
from veil.ledger import DEFAULT_LEDGER, Ledger
from veil.outputs import check_output, check_outputs
from veil.privacy import check_delta, check_epsilon

__all__ = ["ledger_app"]

ledger_app = typer.Typer(
    help="The privacy ledger: budgets per dataset and every DP release.",
    no_args_is_help=True,
)
app.add_typer(ledger_app, name="ledger")

LEDGER_OPTION = typer.Option(
    Path(DEFAULT_LEDGER), "--ledger", help="The ledger file (SQLite).", show_default=True
)
JSON_OPTION = typer.Option(False, "--json", help="Print JSON for machines.")
TIMEOUT_OPTION = typer.Option(
    30.0, "--lock-timeout", help="Seconds to wait for another process's release."
)
REPORT_OPTION = typer.Option(None, "--report", help="Also write an HTML report here.")
SPENDER_OPTION = typer.Option(
    None, "--spender", help="Who spends; checked against its own budget (`veil ledger grant`)."
)


@ledger_app.command("init")
def init(
    name: str = typer.Argument(..., help="The dataset's name in the ledger."),
    epsilon: float = typer.Option(..., "--epsilon", help="Total epsilon budget of the dataset."),
    delta: float = typer.Option(..., "--delta", help="Total delta budget (0 for pure DP)."),
    description: str = typer.Option("", "--description", help="What the dataset is."),
    ledger: Path = LEDGER_OPTION,
    json: bool = JSON_OPTION,
    lock_timeout: float = TIMEOUT_OPTION,
) -> None:
    """Register dataset NAME with its total privacy budget (creates the ledger if needed)."""
    # Everything is checked before the ledger file is created: a refused init leaves none.
    if not name.strip():
        raise ParameterError(f"dataset name must be a non-empty string; got {name!r}")
    check_epsilon(epsilon)
    check_delta(delta)
    if not ledger.exists():
        check_output(ledger, option="--ledger")
    with Ledger(ledger, create=True, timeout=lock_timeout) as book:
        status = book.add_dataset(name, epsilon=epsilon, delta=delta, description=description)
    emit(status, json=json)


@ledger_app.command("grant")
def grant(
    name: str = typer.Argument(..., help="The dataset's name in the ledger."),
    spender: str = typer.Argument(..., help="Who spends: a scientist, a federated run..."),
    epsilon: float = typer.Option(..., "--epsilon", help="The spender's epsilon budget."),
    delta: float = typer.Option(..., "--delta", help="The spender's delta budget."),
    ledger: Path = LEDGER_OPTION,
    json: bool = JSON_OPTION,
    lock_timeout: float = TIMEOUT_OPTION,
) -> None:
    """Give SPENDER a budget of its own on NAME, checked together with NAME's total."""
    with Ledger(ledger, timeout=lock_timeout) as book:
        status = book.add_spender(name, spender, epsilon=epsilon, delta=delta)
    emit(status, json=json)


@ledger_app.command("show")
def show(
    name: str = typer.Argument(..., help="The dataset's name in the ledger."),
    spender: str | None = SPENDER_OPTION,
    ledger: Path = LEDGER_OPTION,
    json: bool = JSON_OPTION,
    report: Path | None = REPORT_OPTION,
    lock_timeout: float = TIMEOUT_OPTION,
) -> None:
    """Show the budget of NAME (or of one spender): spent and remaining epsilon."""
    check_outputs({"--report": report}, ledger=ledger)
    with Ledger(ledger, timeout=lock_timeout) as book:
        status = book.status(name, spender=spender)
    emit(status, json=json, report=report)


@ledger_app.command("history")
def history(
    name: str = typer.Argument(..., help="The dataset's name in the ledger."),
    spender: str | None = SPENDER_OPTION,
    ledger: Path = LEDGER_OPTION,
    json: bool = JSON_OPTION,
    report: Path | None = REPORT_OPTION,
    lock_timeout: float = TIMEOUT_OPTION,
) -> None:
    """List every entry of NAME: finished, reserved (unfinished, counted) or cancelled."""
    check_outputs({"--report": report}, ledger=ledger)
    with Ledger(ledger, timeout=lock_timeout) as book:
        result = book.history(name, spender=spender)
    emit(result, json=json, report=report)
