"""`veil crypto`: encrypted predictions over HTTP (serve, predict) and secure sums (mpc-sum)."""

from __future__ import annotations

import json as jsonlib
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from veil.cli.app import app, fail

if TYPE_CHECKING:  # imported where used: `veil --help` stays fast
    import numpy as np
    import polars as pl

__all__ = ["crypto_app"]

crypto_app = typer.Typer(
    help="Encrypted ML: homomorphic-encryption predictions and secret-shared sums.",
    no_args_is_help=True,
)
app.add_typer(crypto_app, name="crypto")


def _pair(text: str | None, option: str) -> tuple[int, float] | None:
    if text is None:
        return None
    parts = text.split(",")
    try:
        if len(parts) == 2:
            return int(parts[0]), float(parts[1])
    except ValueError:
        pass
    fail(f"{option} must be DEGREE,BOUND (e.g. 3,8); got {text!r}")
    raise AssertionError  # unreachable: fail raises


def _require_tenseal(why: str = "homomorphic encryption needs TenSEAL") -> None:
    """One line instead of a traceback when the `crypto` extra is missing."""
    import importlib

    try:
        importlib.import_module("tenseal")
    except ImportError:
        fail(f"{why}: pip install 'veil[crypto]'")


def _features(frame: pl.DataFrame, data: Path, names: list[str] | None, n: int) -> np.ndarray:
    """The model's feature columns of ``frame`` as a float matrix, or a one-line error."""
    import numpy as np

    from veil.errors import ColumnError, DataError

    if names:
        missing = [c for c in names if c not in frame.columns]
        if missing:
            raise ColumnError(
                f"column {missing[0]!r} the model reads is not in {str(data)!r}; "
                f"columns are: {', '.join(frame.columns)}"
            )
        frame = frame.select(names)
    if frame.width != n:
        fail(f"the model takes {n} features; {str(data)!r} has {frame.width} columns")
    non_numeric = [c for c, t in frame.schema.items() if not t.is_numeric()]
    if non_numeric:
        fail(f"column {non_numeric[0]!r} is not numeric; the model takes numbers only")
    if any(frame[c].null_count() for c in frame.columns):
        raise DataError(f"{str(data)!r} has missing values; impute or drop them first")
    return frame.to_numpy().astype(np.float64)


@crypto_app.command("serve")
def serve(
    model: Path = typer.Argument(  # noqa: B008
        ..., help="A scikit-learn linear/logistic model (joblib) or a torch.save'd nn.Sequential."
    ),
    port: int = typer.Option(8750, "--port", help="Port to listen on (0: a free one)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    approximate: str | None = typer.Option(
        None,
        "--approximate",
        help="DEGREE,BOUND: replace ReLU/Tanh/... of a PyTorch model by a fitted polynomial.",
    ),
    server_sigmoid: str | None = typer.Option(
        None,
        "--server-sigmoid",
        help="DEGREE,BOUND: the server returns probabilities of a logistic model "
        "(a fitted sigmoid; its error is printed) instead of scores.",
    ),
) -> None:
    """Serve encrypted predictions of MODEL: the server never sees features or results."""
    _require_tenseal()
    from veil.crypto.he import load_model
    from veil.crypto.service import HEServer

    if not 0 <= port <= 65535:
        fail(f"--port must be in [0, 65535]; got {port}")
    he_model = load_model(model, approximate=_pair(approximate, "--approximate"))
    link = _pair(server_sigmoid, "--server-sigmoid")
    if link is not None:
        he_model = he_model.with_server_link(degree=link[0], bound=link[1])
    server = HEServer(he_model, host=host, port=port)
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s veil crypto: %(message)s"
    )
    typer.echo(f"serving {he_model.description} at {server.url} (Ctrl-C to stop)")
    if he_model.approximation_error:
        typer.echo(
            f"approximation error of the encrypted model: {he_model.approximation_error:.3g}"
        )
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()


@crypto_app.command("predict")
def predict(
    data: Path = typer.Argument(..., help="The rows to score: CSV, TSV, Parquet or Arrow."),  # noqa: B008
    server: str = typer.Option(..., "--server", help="The HE server, e.g. http://127.0.0.1:8750."),
    out: Path = typer.Option(..., "-o", "--output", help="Where to write the predictions."),  # noqa: B008
    timeout: float = typer.Option(300.0, "--timeout", help="Seconds to wait for the server."),
) -> None:
    """Encrypt DATA, have --server score it, decrypt: `probability` or `prediction` in -o."""
    import polars as pl

    _require_tenseal()
    from veil.crypto.service import HEClient
    from veil.io import read_table, write_table
    from veil.outputs import check_outputs

    check_outputs({"-o": out}, inputs=[data])
    frame = read_table(data)
    client = HEClient(server, timeout=timeout)
    X = _features(frame, data, client.feature_names, int(client.info["n_features"]))
    result = client.predict(X)
    table = pl.DataFrame({name: result[:, k] for k, name in enumerate(client.outputs)})
    write_table(table, out)
    typer.echo(f"{len(table)} encrypted predictions ({', '.join(client.outputs)}) written to {out}")


@crypto_app.command("mpc-predict")
def mpc_predict(
    model: Path = typer.Argument(  # noqa: B008
        ..., help="A scikit-learn linear/logistic model (joblib) or a one-layer torch model."
    ),
    data: Path = typer.Argument(..., help="The rows to score: CSV, TSV, Parquet or Arrow."),  # noqa: B008
    out: Path = typer.Option(..., "-o", "--output", help="Where to write the predictions."),  # noqa: B008
    parties: int = typer.Option(3, "--parties", help="Computing parties: 2 or 3."),
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds a party waits for a message."),
) -> None:
    """Score DATA with MODEL held as secret shares by 2-3 party processes and a dealer."""
    import polars as pl

    _require_tenseal("reading models goes through veil.crypto.he, which needs TenSEAL")
    from veil.crypto.he import Dense, load_model
    from veil.crypto.mpc import shared_predict
    from veil.io import read_table, write_table
    from veil.outputs import check_outputs

    check_outputs({"-o": out}, inputs=[data, model])
    he_model = load_model(model)
    layer = he_model.layers[0]
    if len(he_model.layers) != 1 or not isinstance(layer, Dense) or layer.n_outputs != 1:
        fail(
            "mpc-predict runs linear and binary logistic models (one linear layer, one "
            f"output); {str(model)!r} is {he_model.description}: serve it with HE instead"
        )
    X = _features(read_table(data), data, list(he_model.feature_names or []), layer.n_inputs)
    result = shared_predict(
        layer.weight[0],
        float(layer.bias[0]),
        X,
        n_parties=parties,
        link=he_model.link,
        timeout=timeout,
    )
    write_table(pl.DataFrame({he_model.outputs[0]: result}), out)
    typer.echo(
        f"{len(result)} predictions ({he_model.outputs[0]}) from {parties} parties "
        f"holding the model and the rows as shares, written to {out}"
    )


@crypto_app.command("mpc-sum")
def mpc_sum(
    files: list[Path] = typer.Argument(  # noqa: B008
        ..., help="One table per data owner (at least 2); each is read by its own party process."
    ),
    columns: str = typer.Option(..., "--columns", "-c", help="Numeric columns to total, a,b,c."),
    out: Path | None = typer.Option(None, "-o", "--output", help="Also write the totals here."),  # noqa: B008
    json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds a party waits for a message."),
) -> None:
    """Column totals and means across owners' FILES by secret sharing: no one sees others' rows."""
    import polars as pl

    from veil.crypto.mpc import secure_column_sums
    from veil.io import write_table
    from veil.outputs import check_outputs

    check_outputs({"-o": out}, inputs=files)
    cols = [c.strip() for c in columns.split(",") if c.strip()]
    if not cols:
        fail("--columns names no column; give e.g. -c income,age")
    if timeout <= 0:
        fail(f"--timeout must be > 0; got {timeout:g}")
    result = secure_column_sums(files, cols, timeout=timeout)
    table = pl.DataFrame(
        {
            "column": cols,
            "sum": [result["sums"][c] for c in cols],
            "count": [result["count"]] * len(cols),
            "mean": [result["means"][c] for c in cols],
        }
    )
    if out is not None:
        write_table(table, out)
    if json:
        typer.echo(jsonlib.dumps({**result, "owners": len(files)}))
        return
    typer.echo(f"secure sum over {len(files)} owners, {result['count']} rows:")
    for c in cols:
        typer.echo(f"  {c}: sum {result['sums'][c]:.6g}, mean {result['means'][c]:.6g}")
    if out is not None:
        typer.echo(f"written to {out}")
