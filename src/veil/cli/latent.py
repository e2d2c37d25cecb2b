"""`veil latent evaluate`: what a PCA or autoencoder code of a table keeps and leaks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from veil.cli.app import app, fail
from veil.cli.options import Json, Quasi, ReportPath, Strip, columns, emit
from veil.io import read_table
from veil.outputs import check_outputs

__all__ = ["latent_app"]

latent_app = typer.Typer(
    help="Latent codes of a table: utility and re-identification risk.", no_args_is_help=True
)
app.add_typer(latent_app, name="latent")


@latent_app.command("evaluate")
def evaluate(
    file: Annotated[Path, typer.Argument(help="The table: CSV, TSV, Parquet or Arrow.")],
    target: Annotated[str, typer.Option("--target", help="Two-class column for the AUC.")],
    quasi: Quasi = None,
    method: Annotated[str, typer.Option("--method", help="pca or autoencoder.")] = "pca",
    components: Annotated[int, typer.Option("--components", "-k", help="Code size.")] = 5,
    targets: Annotated[int, typer.Option("--targets", help="People attacked.")] = 1000,
    public_fraction: Annotated[
        float, typer.Option("--public-fraction", help="Share of rows the attacker holds.")
    ] = 0.3,
    noise_epsilon: Annotated[
        float | None, typer.Option("--noise-epsilon", help="Gaussian noise on the codes.")
    ] = None,
    noise_delta: Annotated[float, typer.Option("--noise-delta", help="Its delta.")] = 1e-6,
    clip: Annotated[float, typer.Option("--clip", help="L2 bound of a code before noise.")] = 2.0,
    epochs: Annotated[int, typer.Option("--epochs", help="Autoencoder training epochs.")] = 30,
    seed: Annotated[int, typer.Option("--seed", help="Splits and initialisation.")] = 0,
    strip: Strip = False,
    json: Json = False,
    report: ReportPath = None,
) -> None:
    """Fit codes on FILE's rows, then a model's AUC on them and a linkage attack against them."""
    from veil.learn.latent import LatentEncoder
    from veil.learn.latent_attack import evaluate_latent

    qi = columns(quasi, what="quasi-identifiers")
    if not qi:
        fail("give the quasi-identifiers the attacker knows with -q, e.g. -q age,sex,zip")
    check_outputs({"--report": report}, inputs=[file])
    noise = None
    if noise_epsilon is not None:
        noise = {"epsilon": noise_epsilon, "delta": noise_delta, "clip": clip}
    result = evaluate_latent(
        LatentEncoder(method, components, epochs=epochs, seed=seed),
        read_table(file, strip=strip),
        target=target,
        quasi=qi,
        public_fraction=public_fraction,
        n_targets=targets,
        noise=noise,
        seed=seed,
    )
    emit(result, json=json, report=report)
