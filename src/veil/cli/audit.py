"""`veil audit`: attack a trained model with rows it saw and rows it did not."""

from __future__ import annotations

from pathlib import Path

import typer

from veil.cli.app import app, fail
from veil.cli.ledger import JSON_OPTION, REPORT_OPTION
from veil.cli.options import Strip, emit
from veil.outputs import check_outputs

__all__ = ["audit"]


@app.command("audit")
def audit(
    model: Path = typer.Argument(..., help="A model file written by `veil train -o`."),  # noqa: B008
    train: Path = typer.Option(..., "--train", help="Rows the model was trained on."),  # noqa: B008
    holdout: Path = typer.Option(  # noqa: B008
        ..., "--holdout", help="Rows from the same population it never saw."
    ),
    target: str = typer.Option(..., "--target", help="The label column."),
    attack: str = typer.Option("loss", "--attack", help="loss (fast) or lira (shadow models)."),
    shadows: int = typer.Option(8, "--shadows", help="LiRA's shadow models."),
    delta: float = typer.Option(0.0, "--delta", help="Delta of the empirical lower bound."),
    seed: int = typer.Option(0, "--seed", help="Which rows are sampled for the attack."),
    strip: Strip = False,
    json: bool = JSON_OPTION,
    report: Path | None = REPORT_OPTION,
) -> None:
    """Membership inference on MODEL: AUC, TPR at low FPR, empirical epsilon lower bound."""
    from veil.io import read_table
    from veil.learn.auditing import ATTACKS, ModelAudit, audit_model
    from veil.learn.model_io import load_model

    if attack not in ATTACKS:
        fail(f"unknown --attack {attack!r}; choose one of: {', '.join(ATTACKS)}")
    check_outputs({"--report": report}, inputs=[model, train, holdout])
    fitted = load_model(model)
    tables = []
    for option, path in (("--train", train), ("--holdout", holdout)):
        table = read_table(path, strip=strip)
        if target not in table.columns:
            fail(
                f"{option} table has no column {target!r}; columns are: {', '.join(table.columns)}"
            )
        tables.append((table.select(fitted.feature_names_in_), table[target]))
    (x_in, y_in), (x_out, y_out) = tables
    result = audit_model(
        fitted, x_in, y_in, x_out, y_out, attack=attack, delta=delta, shadows=shadows, seed=seed
    )
    loss = fitted.privacy_
    emit(
        ModelAudit(
            audit=result,
            epsilon=loss.epsilon if loss is not None else None,
            delta=loss.delta if loss is not None else None,
            model=str(model),
        ),
        json=json,
        report=report,
    )
