"""`veil train`: a differentially private classifier of one column of a table."""

from __future__ import annotations

import json as jsonlib
from pathlib import Path
from typing import Any

import typer

from veil.cli.app import app, fail
from veil.cli.ledger import JSON_OPTION, REPORT_OPTION, SPENDER_OPTION
from veil.cli.options import Strip, columns, emit
from veil.errors import VeilError
from veil.outputs import check_outputs

__all__ = ["parse_bounds", "train"]


def parse_bounds(values: list[str] | None) -> dict[str, tuple[float, float]]:
    """``--bounds age=17:90`` (repeatable, or comma-separated) as {column: (low, high)}."""
    from veil.learn.preprocessing import as_bounds

    out: dict[str, tuple[float, float]] = {}
    for value in values or []:
        for piece in value.split(","):
            name, sep, rng = piece.rpartition("=")
            if not sep or not name.strip():
                fail(f"--bounds takes COLUMN=LOW:HIGH, e.g. age=17:90; got {piece!r}")
            out[name.strip()] = as_bounds(rng, name.strip())
    return out


def _categories(path: Path | None) -> dict[str, list[Any]]:
    if path is None:
        return {}
    try:
        data = jsonlib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        fail(f"cannot read the categories file {str(path)!r}: {err}")
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        fail(
            f"the categories file {str(path)!r} must be a JSON object of lists, e.g. "
            '{"sex": ["F", "M"], "state": ["CA", "NY"]}'
        )
    return data


def _epsilons(text: str | None, report: Path | None) -> list[float]:
    if text is None:
        return [1.0, 3.0, 8.0] if report is not None else []
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        fail(f"--curve takes epsilons separated by commas, e.g. 1,3,8; got {text!r}")
    raise AssertionError  # unreachable


def _hidden(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        fail(f"--hidden takes layer widths separated by commas, e.g. 256,256; got {text!r}")
    return sizes


@app.command("train")
def train(
    file: Path = typer.Argument(..., help="The table: CSV, TSV, Parquet or Arrow."),  # noqa: B008
    target: str = typer.Option(..., "--target", help="The column to predict."),
    epsilon: float = typer.Option(..., "--epsilon", help="Total privacy loss of the model."),
    delta: float = typer.Option(1e-5, "--delta", help="Delta; below 1 / number of rows."),
    model: str = typer.Option("mlp", "--model", help="mlp or logistic."),
    output: Path | None = typer.Option(  # noqa: B008
        None, "--output", "-o", help="Write the trained model here (.pt)."
    ),
    dataset: str | None = typer.Option(None, "--dataset", help="Dataset to charge."),
    ledger: Path | None = typer.Option(None, "--ledger", help="The ledger file."),  # noqa: B008
    spender: str | None = SPENDER_OPTION,
    audit: bool = typer.Option(False, "--audit", help="Attack the model; report what leaks."),
    attack: str = typer.Option("loss", "--attack", help="With --audit: loss or lira."),
    bounds: list[str] | None = typer.Option(  # noqa: B008
        None, "--bounds", help="Public bounds COL=LOW:HIGH (repeatable); others are DP-estimated."
    ),
    categories: Path | None = typer.Option(  # noqa: B008
        None, "--categories", help='JSON file of public category sets {"col": [...]}.'
    ),
    drop: list[str] | None = typer.Option(  # noqa: B008
        None, "--drop", help="Columns not to use as features (comma-separated, repeatable)."
    ),
    epochs: int = typer.Option(10, "--epochs", help="Passes over the data."),
    batch_size: int = typer.Option(256, "--batch-size", help="Expected (Poisson) batch size."),
    learning_rate: float | None = typer.Option(None, "--learning-rate", help="Adam's step."),
    max_grad_norm: float = typer.Option(1.0, "--max-grad-norm", help="Per-example clip norm."),
    hidden: str = typer.Option("256,256", "--hidden", help="MLP hidden widths."),
    test_size: float = typer.Option(0.2, "--test-size", help="Share of rows held out."),
    curve: str | None = typer.Option(
        None, "--curve", help="Epsilons of the privacy-utility curve (default 1,3,8 with --report)."
    ),
    seed: int = typer.Option(0, "--seed", help="Split and initialisation (never the noise)."),
    strip: Strip = False,
    json: bool = JSON_OPTION,
    report: Path | None = REPORT_OPTION,
) -> None:
    """Train a DP classifier of --target on FILE, compare it with no privacy, audit it."""
    from veil.learn.auditing import ATTACKS
    from veil.learn.model_io import save_model
    from veil.learn.table_training import MODELS, train_table

    if model not in MODELS:
        fail(f"unknown --model {model!r}; choose one of: {', '.join(MODELS)}")
    if attack not in ATTACKS:
        fail(f"unknown --attack {attack!r}; choose one of: {', '.join(ATTACKS)}")
    if (ledger is None) != (dataset is None):
        fail("--ledger and --dataset go together: the spend is charged to DATASET in LEDGER")
    if ledger is not None and not ledger.is_file():
        fail(f"ledger {str(ledger)!r} does not exist; create it with `veil ledger init`")
    # Before any spend: outputs may not overwrite the data or the ledger.
    check_outputs({"--output": output, "--report": report}, inputs=[file], ledger=ledger)
    result = train_table(
        file,
        target=target,
        epsilon=epsilon,
        delta=delta,
        model=model,
        drop=columns(drop, what="--drop"),
        bounds=parse_bounds(bounds),
        categories=_categories(categories),
        hidden_layer_sizes=_hidden(hidden),
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        max_grad_norm=max_grad_norm,
        test_size=test_size,
        curve=_epsilons(curve, report),
        audit=audit,
        attack=attack,
        ledger=ledger,
        dataset=dataset,
        spender=spender,
        seed=seed,
        progress=not json,
        strip=strip,
    )
    # The model is paid for: save it first, then tell, then the report.
    if output is not None:
        save_model(result.model, output)
    emit(result, json=json)
    if output is not None and not json:
        typer.echo(f"Model written to {output}")
    if report is not None:
        try:
            result.save_html(report)
        except (OSError, VeilError) as err:
            fail(f"the model was trained, but its report could not be written: {err}")
        if not json:
            typer.echo(f"HTML report written to {report}")
