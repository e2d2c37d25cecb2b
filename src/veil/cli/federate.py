"""`veil federate`: simulate a federation, deploy a server and its clients, reproduce the study."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import typer

from veil.cli.app import app, fail
from veil.cli.ledger import JSON_OPTION, REPORT_OPTION, SPENDER_OPTION
from veil.cli.options import emit
from veil.errors import VeilError
from veil.outputs import check_outputs

__all__ = ["federate_app"]

federate_app = typer.Typer(
    help="Federated learning on Flower: simulate, deploy (server, client), the study.",
    no_args_is_help=True,
)
app.add_typer(federate_app, name="federate")


def _quiet(verbose: bool) -> None:
    """Flower logs every step (and its deprecations); keep its errors only unless asked."""
    if not verbose:
        logging.getLogger("flwr").setLevel(logging.ERROR)


def _ints(text: str, option: str) -> tuple[int, ...]:
    try:
        values = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        fail(f"{option} takes positive integers separated by commas, e.g. 3,10; got {text!r}")
    return values


def _hidden(text: str) -> tuple[int, ...]:
    if text.strip() in ("", "0", "none"):
        return ()
    return _ints(text, "--hidden")


CATEGORIES_OPTION = typer.Option(
    None, "--categories", help="JSON {column: [values]} every site shares (one-hot order)."
)


def _categories(path: Path | None) -> dict[str, list[Any]] | None:
    """The category lists of a JSON file, checked: {column: [value, ...]}."""
    if path is None:
        return None
    import json as _json

    try:
        data = _json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        fail(f"--categories {str(path)!r} is not a readable JSON file: {err}")
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, list) for k, v in data.items()
    ):
        fail(f'--categories {str(path)!r} must hold {{"column": ["value", ...], ...}}')
    return data


def _options(values: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for value in values or []:
        name, sep, raw = value.partition("=")
        if not sep or not name.strip():
            fail(f"--strategy-option takes NAME=VALUE, e.g. beta=0.2; got {value!r}")
        try:
            out[name.strip()] = float(raw)
        except ValueError:
            fail(f"--strategy-option {name}: {raw!r} is not a number")
    return out


def _save_report(result: Any, report: Path | None, json: bool) -> None:
    if report is None:
        return
    try:
        result.save_html(report)
    except (OSError, VeilError) as err:
        fail(f"the run finished, but its report could not be written: {err}")
    if not json:
        typer.echo(f"HTML report written to {report}")


@federate_app.command("simulate")
def simulate_command(
    data: Path | None = typer.Option(  # noqa: B008
        None, "--data", help="A table (CSV, Parquet...); default digits."
    ),
    target: str | None = typer.Option(
        None, "--target", help="The column to predict (with --data)."
    ),
    clients: int = typer.Option(10, "--clients", help="Simulated sites."),
    rounds: int = typer.Option(20, "--rounds", help="Federated rounds."),
    clients_per_round: int | None = typer.Option(
        None, "--clients-per-round", help="Sampled per round (default all)."
    ),
    availability: float = typer.Option(
        1.0, "--availability", help="Chance a client answers a round."
    ),
    stragglers: float = typer.Option(
        0.0, "--stragglers", help="Chance an answering client is too late."
    ),
    deadline: float | None = typer.Option(None, "--deadline", help="Seconds a client may take."),
    strategy: str = typer.Option(
        "fedavg",
        "--strategy",
        help="fedavg, fedprox, fedadam, fedyogi, trimmed_mean, median, krum.",
    ),
    strategy_option: list[str] | None = typer.Option(  # noqa: B008
        None, "--strategy-option", help="NAME=VALUE, e.g. beta=0.2 (repeatable)."
    ),
    partition: str = typer.Option(
        "iid", "--partition", help="iid, dirichlet (label skew) or quantity."
    ),
    alpha: float = typer.Option(0.5, "--alpha", help="Dirichlet concentration of the partition."),
    hidden: str = typer.Option(
        "64", "--hidden", help="MLP hidden widths; 0 for logistic regression."
    ),
    local_epochs: int = typer.Option(1, "--local-epochs", help="Local passes per round."),
    batch_size: int = typer.Option(32, "--batch-size", help="Local minibatch size."),
    learning_rate: float = typer.Option(0.05, "--learning-rate", help="Local SGD step."),
    secagg: bool = typer.Option(False, "--secagg", help="Aggregate with Flower's SecAgg+."),
    dp_epsilon: float | None = typer.Option(
        None, "--dp-epsilon", help="Client-level DP-FedAvg epsilon."
    ),
    dp_delta: float | None = typer.Option(
        None, "--dp-delta", help="Its delta (default 1/clients^1.1)."
    ),
    clipping_norm: float = typer.Option(
        1.0, "--clipping-norm", help="Clip norm of each client's update."
    ),
    local_epsilon: float | None = typer.Option(
        None, "--local-epsilon", help="Local DP: each site noises its own updates."
    ),
    adaptive_clipping: bool = typer.Option(
        False, "--adaptive-clipping", help="Adapt the clip norm (Andrew et al.)."
    ),
    dataset: str | None = typer.Option(None, "--dataset", help="Dataset to charge in the ledger."),
    ledger: Path | None = typer.Option(None, "--ledger", help="The ledger file."),  # noqa: B008
    spender: str | None = SPENDER_OPTION,
    engine: str = typer.Option(
        "inprocess", "--engine", help="inprocess or ray (Flower's simulation)."
    ),
    checkpoint: Path | None = typer.Option(  # noqa: B008
        None, "--checkpoint", help="Save each round here; resume from it."
    ),
    test_size: float = typer.Option(
        0.2, "--test-size", help="Share of rows the server keeps for testing."
    ),
    seed: int = typer.Option(0, "--seed", help="Splits, weights, sampling (never the DP noise)."),
    verbose: bool = typer.Option(False, "--verbose", help="Show Flower's own log."),
    json: bool = JSON_OPTION,
    report: Path | None = REPORT_OPTION,
) -> None:
    """Train one model across simulated sites; print accuracy per round (and epsilon)."""
    from veil.federated import Availability, simulate

    if (data is None) != (target is None):
        fail("--data and --target go together: the table and the column to predict")
    if data is not None and not data.is_file():
        fail(f"--data {str(data)!r} does not exist")
    if (ledger is None) != (dataset is None):
        fail("--ledger and --dataset go together: the spend is charged to DATASET in LEDGER")
    if ledger is not None and not ledger.is_file():
        fail(f"ledger {str(ledger)!r} does not exist; create it with `veil ledger init`")
    if ledger is not None and dp_epsilon is None and local_epsilon is None:
        fail("--ledger records DP spends: give --dp-epsilon or --local-epsilon too")
    check_outputs({"--report": report, "--checkpoint": checkpoint}, inputs=[data], ledger=ledger)
    _quiet(verbose)
    result = simulate(
        data,
        target=target,
        clients=clients,
        rounds=rounds,
        clients_per_round=clients_per_round,
        strategy=strategy,
        strategy_options=_options(strategy_option),
        availability=Availability(
            probability=availability, straggler_probability=stragglers, deadline=deadline, seed=seed
        ),
        partition_scheme=partition,
        alpha=alpha,
        hidden=_hidden(hidden),
        local_epochs=local_epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        secagg=secagg,
        dp_epsilon=dp_epsilon,
        dp_delta=dp_delta,
        clipping_norm=clipping_norm,
        adaptive_clipping=adaptive_clipping,
        local_dp_epsilon=local_epsilon,
        ledger=ledger,
        dataset=dataset,
        spender=spender,
        engine=engine,
        checkpoint=str(checkpoint) if checkpoint is not None else None,
        test_size=test_size,
        progress=not json,
        seed=seed,
    )
    emit(result, json=json)
    _save_report(result, report, json)


@federate_app.command("certificates")
def certificates_command(
    folder: Path = typer.Argument(..., help="An empty (or new) folder for the files."),  # noqa: B008
    clients: int = typer.Option(3, "--clients", help="Client key pairs to make."),
    host: list[str] | None = typer.Option(  # noqa: B008
        None, "--host", help="Server host names/IPs (repeatable)."
    ),
) -> None:
    """Write a CA, the server's TLS certificate and one key pair per client (tests, demos)."""
    from veil.federated.deployment import make_certificates

    if clients < 1:
        fail(f"--clients must be >= 1; got {clients}")
    if folder.exists() and not folder.is_dir():
        fail(f"{str(folder)!r} is a file; give a folder")
    paths = make_certificates(
        folder, clients=clients, hosts=tuple(host or ("127.0.0.1", "localhost"))
    )
    typer.echo(
        f"Wrote {len(paths)} files to {folder}: ca.crt, server.crt/key, "
        f"client1..{clients}.key/.pub, authorized_keys"
    )


@federate_app.command("server")
def server_command(
    certificates: Path = typer.Option(  # noqa: B008
        ..., "--certificates", help="Folder from `veil federate certificates`."
    ),
    address: str = typer.Option("127.0.0.1:9092", "--address", help="host:port to listen on."),
    rounds: int = typer.Option(3, "--rounds", help="Federated rounds."),
    min_clients: int = typer.Option(2, "--min-clients", help="Clients sampled per round."),
    features: int | None = typer.Option(None, "--features", help="Input width (or give --test)."),
    classes: int | None = typer.Option(
        None, "--classes", help="Number of classes (or give --test)."
    ),
    test: Path | None = typer.Option(None, "--test", help="A test table the server evaluates on."),  # noqa: B008
    target: str | None = typer.Option(None, "--target", help="Target column of --test."),
    categories: Path | None = CATEGORIES_OPTION,
    hidden: str = typer.Option(
        "64", "--hidden", help="MLP hidden widths; 0 for logistic regression."
    ),
    local_epochs: int = typer.Option(1, "--local-epochs", help="Local passes per round."),
    batch_size: int = typer.Option(32, "--batch-size", help="Local minibatch size."),
    learning_rate: float = typer.Option(0.05, "--learning-rate", help="Local SGD step."),
    strategy: str = typer.Option("fedavg", "--strategy", help="A strategy name (see simulate)."),
    checkpoint: Path | None = typer.Option(  # noqa: B008
        None, "--checkpoint", help="Save each round; resume from it."
    ),
    round_timeout: float = typer.Option(
        60.0, "--round-timeout", help="Seconds a round waits for a client."
    ),
    seed: int = typer.Option(0, "--seed", help="Initial weights."),
    secagg: bool = typer.Option(
        False, "--secagg", help="Aggregate with Flower's SecAgg+: the server sees only the sum."
    ),
    verbose: bool = typer.Option(False, "--verbose", help="Show Flower's own log."),
    json: bool = JSON_OPTION,
    report: Path | None = REPORT_OPTION,
) -> None:
    """Serve a federated run over gRPC with TLS to authenticated clients."""
    from veil.federated import ClassificationTask, FederatedResult
    from veil.federated.data import load_table
    from veil.federated.deployment import run_server

    if (test is None) != (target is None):
        fail("--test and --target go together: the server's test table and its target column")
    if categories is not None and test is None:
        fail("--categories describes the --test table's columns: give --test and --target too")
    test_data = None
    if test is not None:
        test_data = load_table(test, target, categories=_categories(categories))  # type: ignore[arg-type]
        features, classes = test_data.X.shape[1], len(test_data.classes)
    if features is None or classes is None:
        fail("give the model's --features and --classes, or a --test table to read them from")
    check_outputs({"--report": report, "--checkpoint": checkpoint}, inputs=[test])
    _quiet(verbose)
    task = ClassificationTask(
        features, classes, hidden=_hidden(hidden), epochs=local_epochs,  # type: ignore[arg-type]
        batch_size=batch_size, learning_rate=learning_rate, seed=seed,
    )  # fmt: skip
    out = run_server(
        task, address=address, certificates=certificates, rounds=rounds, min_clients=min_clients,
        strategy=strategy, test=test_data, checkpoint=checkpoint, round_timeout=round_timeout,
        secagg=secagg,
    )  # fmt: skip
    history = out["rounds"]
    result = FederatedResult(
        rounds=[{"sampled": r.get("clients", 0), **r} for r in history],
        final_accuracy=history[-1]["accuracy"] if history else float("nan"),
        settings={"address": address, "rounds": rounds, "min_clients": min_clients,
                  "strategy": strategy,
                  "evaluation": "server test table" if test is not None else "federated",
                  "resumed_from": out["resumed_from"], "rejected_clients": out["rejected_clients"],
                  "secagg": secagg, "rejected_replies": out.get("rejected_replies", [])},
        seconds=sum(r["seconds"] for r in history),
    )  # fmt: skip
    emit(result, json=json)
    _save_report(result, report, json)


@federate_app.command("client")
def client_command(
    data: Path = typer.Option(..., "--data", help="This site's table."),  # noqa: B008
    target: str = typer.Option(..., "--target", help="The column to predict."),
    server: str = typer.Option("127.0.0.1:9092", "--server", help="The server's host:port."),
    certificates: Path = typer.Option(  # noqa: B008
        ..., "--certificates", help="Folder holding the CA certificate."
    ),
    key: Path = typer.Option(..., "--key", help="This client's private key (clientN.key)."),  # noqa: B008
    classes: str | None = typer.Option(
        None, "--classes", help="Class names in order, comma-separated."
    ),
    categories: Path | None = CATEGORIES_OPTION,
    max_retries: int = typer.Option(
        5, "--max-retries", help="Reconnection tries (exponential backoff)."
    ),
    max_wait: float = typer.Option(60.0, "--max-wait", help="Seconds to keep trying to connect."),
    local_epsilon: float | None = typer.Option(
        None, "--local-epsilon", help="Local DP: noise this site's own updates."
    ),
    local_rounds: int = typer.Option(
        20, "--local-rounds", help="Rounds --local-epsilon covers (then it stops)."
    ),
    local_delta: float = typer.Option(1e-5, "--local-delta", help="Delta of --local-epsilon."),
    clipping_norm: float = typer.Option(
        1.0, "--clipping-norm", help="Clip norm of this site's update (local DP)."
    ),
    verbose: bool = typer.Option(False, "--verbose", help="Show Flower's own log."),
) -> None:
    """Join a federated run with this site's rows; they never leave the site."""
    from veil.federated.data import load_table
    from veil.federated.deployment import run_client
    from veil.federated.local_privacy import plan_local_dp

    if not data.is_file():
        fail(f"--data {str(data)!r} does not exist")
    local = None
    if local_epsilon is not None:
        local = plan_local_dp(
            rounds=local_rounds, delta=local_delta, epsilon=local_epsilon,
            clipping_norm=clipping_norm,
        )  # fmt: skip
        typer.echo(
            f"Local DP: each update clipped to {local.clipping_norm:g} and noised (std "
            f"{local.noise_std:.4g}); {local.rounds} round(s) at most, epsilon "
            f"{local.epsilon:.4g} at delta {local.delta:g} in all."
        )
    names = [c.strip() for c in classes.split(",")] if classes else None
    site = load_table(data, target, classes=names, categories=_categories(categories))
    _quiet(verbose)
    done = run_client(
        site.X, site.y, server=server, certificates=certificates, key=key,
        max_retries=max_retries, max_wait_time=max_wait, local=local,
    )  # fmt: skip
    if local is not None and done >= local.rounds:
        typer.echo(
            f"Trained {done} round(s) with {server}: all that this site's local privacy "
            "budget covers (--local-rounds); it left the run."
        )
        return
    typer.echo(f"Trained {done} round(s) with {server}; the run is over.")


@federate_app.command("study")
def study_command(
    images: Path | None = typer.Option(  # noqa: B008
        None, "--images", help="Folder with train/<CLASS>, test/<CLASS>."
    ),
    clients: str = typer.Option("3,10", "--clients", help="Client counts, comma-separated."),
    rounds: str = typer.Option("5,10", "--rounds", help="Round counts, comma-separated."),
    availability: float = typer.Option(
        0.7, "--availability", help="Chance an intermittent client answers."
    ),
    image_size: int = typer.Option(32, "--image-size", help="Images are resized to this square."),
    seed: int = typer.Option(0, "--seed", help="Splits, weights, sampling."),
    verbose: bool = typer.Option(False, "--verbose", help="Show Flower's own log."),
    json: bool = JSON_OPTION,
    report: Path | None = REPORT_OPTION,
) -> None:
    """Centralized vs 3 and 10 clients, with and without intermittent ones (the study's table)."""
    from veil.federated.study import study

    if images is not None and not images.is_dir():
        fail(f"--images {str(images)!r} is not a folder")
    check_outputs({"--report": report}, inputs=[])
    _quiet(verbose)
    say = None if json else (lambda name: typer.echo(f"running: {name}", err=True))
    result = study(
        str(images) if images is not None else None, clients=_ints(clients, "--clients"),
        rounds=_ints(rounds, "--rounds"), availability=availability, image_size=image_size,
        seed=seed, progress=say,
    )  # fmt: skip
    emit(result, json=json)
    _save_report(result, report, json)
