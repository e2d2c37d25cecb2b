"""Simulate a federation on one machine: split the data among virtual clients and train.

:func:`simulate` is the one call behind ``veil federate simulate``: it holds
out test rows for the server, splits the rest among ``clients`` sites
(:mod:`veil.federated.partitions`), builds the task, the strategy and its
wrappers (update screening, intermittent availability, client-level DP), and
runs it in one of three engines:

- ``"inprocess"``: veil's loop over Flower's strategy and client objects
  (milliseconds of overhead per round; :mod:`veil.federated.engine`);
- the same with ``secagg=True``: Flower's ``ServerApp`` with the SecAgg+
  workflow, over :class:`~veil.federated.apps.LocalGrid`;
- ``"ray"``: Flower's own simulation engine (``flwr.simulation.run_simulation``).

A DP run's privacy loss is reserved in the ledger before round 1.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from veil.errors import ParameterError
from veil.federated.apps import LocalGrid, SiteClient, client_app, server_app
from veil.federated.availability import Availability, Intermittent
from veil.federated.checkpoint import Checkpoint
from veil.federated.data import Dataset, load_digits, load_table
from veil.federated.engine import run_rounds
from veil.federated.local_privacy import LocalPrivacy, plan_local_dp
from veil.federated.partitions import partition
from veil.federated.privacy import DP_STRATEGIES, DPFedAvg, plan_dp
from veil.federated.results import FederatedResult, roc_points
from veil.federated.strategies import STRATEGIES, Screened, StrategyWrapper, make_strategy
from veil.federated.task import ClassificationTask

__all__ = ["ENGINES", "as_dataset", "simulate", "split"]

log = logging.getLogger("veil.federated")

#: Engines a simulation runs on.
ENGINES = ("inprocess", "ray")

#: Strategies that need each update in the clear (so not under secure aggregation).
ROBUST = ("trimmed_mean", "median", "krum")


def as_dataset(data: Any, target: str | None = None) -> Dataset:
    """``data`` as a :class:`Dataset`: None (digits), a Dataset, (X, y), or a table."""
    if data is None:
        return load_digits()
    if isinstance(data, Dataset):
        return data
    if isinstance(data, tuple) and len(data) == 2:
        X, y = np.asarray(data[0], dtype=np.float32), np.asarray(data[1])
        classes = sorted(set(y.tolist()))
        index = {c: i for i, c in enumerate(classes)}
        return Dataset(
            X,
            np.array([index[v] for v in y.tolist()], dtype=np.int64),
            [str(c) for c in classes],
            "arrays",
        )
    if target is None:
        raise ParameterError("a table needs its target column: give target=... (--target)")
    return load_table(data, target)


def split(dataset: Dataset, test_size: float, seed: int) -> tuple[Dataset, Dataset]:
    """A stratified train/test split (the test rows stay with the server for evaluation)."""
    from sklearn.model_selection import train_test_split

    if not 0 < test_size < 1:
        raise ParameterError(f"test_size must be in (0, 1); got {test_size!r}")
    idx = np.arange(len(dataset))
    counts = np.bincount(dataset.y)
    strat = dataset.y if counts[counts > 0].min() >= 2 else None
    train, test = train_test_split(idx, test_size=test_size, random_state=seed, stratify=strat)

    def pick(rows):
        return Dataset(
            dataset.X[rows], dataset.y[rows], dataset.classes, dataset.name, dataset.features
        )

    return pick(np.sort(train)), pick(np.sort(test))


class _Recorder(StrategyWrapper):
    """Records, per round, who was asked, who answered, accuracy and time (Flower-run engines)."""

    def __init__(self, strategy: Any) -> None:
        super().__init__(strategy)
        self.history: list[dict[str, Any]] = []
        self._open: dict[int, dict[str, Any]] = {}

    def configure_fit(self, server_round: int, parameters: Any, client_manager: Any) -> Any:
        began = time.perf_counter()
        ins = self.strategy.configure_fit(server_round, parameters, client_manager)
        self._open[server_round] = {
            "began": began,
            "sampled": len(ins),
            "clients": 0,
            "failures": 0,
        }
        return ins

    def aggregate_fit(self, server_round: int, results: Any, failures: Any) -> Any:
        rec = self._open.setdefault(server_round, {"began": time.perf_counter(), "sampled": 0})
        rec.update(clients=len(results), failures=len(failures))
        return self.strategy.aggregate_fit(server_round, results, failures)

    def evaluate(self, server_round: int, parameters: Any) -> Any:
        out = self.strategy.evaluate(server_round, parameters)
        rec = self._open.pop(server_round, None)
        if rec is not None and server_round > 0:
            loss, metrics = out if out is not None else (float("nan"), {})
            seconds = time.perf_counter() - rec["began"]
            self.history.append(
                {
                    "round": server_round,
                    "clients": rec["clients"],
                    "sampled": rec["sampled"],
                    "failures": rec["failures"],
                    "accuracy": float(metrics.get("accuracy", float("nan"))),
                    "loss": float(loss),
                    "seconds": seconds,
                    "train_seconds": float("nan"),
                    "overhead_seconds": float("nan"),
                }
            )
        return out


def simulate(
    data: Any = None,
    *,
    target: str | None = None,
    test: Dataset | None = None,
    clients: int = 10,
    rounds: int = 20,
    clients_per_round: int | None = None,
    strategy: str = "fedavg",
    strategy_options: dict[str, Any] | None = None,
    availability: float | Availability = 1.0,
    partition_scheme: str = "iid",
    alpha: float = 0.5,
    hidden: Sequence[int] = (64,),
    local_epochs: int = 1,
    batch_size: int = 32,
    learning_rate: float = 0.05,
    secagg: bool = False,
    secagg_options: dict[str, Any] | None = None,
    dp_epsilon: float | None = None,
    dp_noise_multiplier: float | None = None,
    dp_delta: float | None = None,
    clipping_norm: float = 1.0,
    adaptive_clipping: bool = False,
    accountant: str = "pld",
    local_dp_epsilon: float | None = None,
    local_noise_multiplier: float | None = None,
    ledger: Any = None,
    dataset: str | None = None,
    spender: str | None = None,
    engine: str = "inprocess",
    checkpoint: str | None = None,
    test_size: float = 0.2,
    make_client: Callable[[int, ClassificationTask, Dataset], Any] | None = None,
    progress: bool | Callable[[int, dict[str, Any]], None] = False,
    seed: int = 0,
) -> FederatedResult:
    """Train one model across ``clients`` simulated sites; report accuracy per round and spend.

    Parameters
    ----------
    data, target
        None for scikit-learn's digits, a :class:`Dataset`, ``(X, y)``, or a
        table (path, pandas, polars, pyarrow) with its ``target`` column.
    test
        Server-held test rows; by default ``test_size`` of ``data``, stratified.
    clients, rounds, clients_per_round
        Sites, rounds, and clients sampled per round (default: all).
    strategy, strategy_options
        A name in :data:`~veil.federated.strategies.STRATEGIES` and its options.
    availability
        Probability a client answers in a round, or an :class:`Availability`.
    partition_scheme, alpha
        ``"iid"``, ``"dirichlet"`` (label skew) or ``"quantity"``, and its alpha.
    hidden, local_epochs, batch_size, learning_rate
        The task: MLP widths (``()`` for logistic regression) and local SGD.
    secagg, secagg_options
        Aggregate with Flower's SecAgg+ (options: ``num_shares``,
        ``reconstruction_threshold``, ``clipping_range``, ``quantization_range``).
    dp_epsilon, dp_noise_multiplier, dp_delta, clipping_norm, adaptive_clipping, accountant
        Client-level DP-FedAvg (:mod:`veil.federated.privacy`): a target
        epsilon or a noise multiplier, delta (default 1 / clients**1.1).
    local_dp_epsilon, local_noise_multiplier
        Local DP instead (:mod:`veil.federated.local_privacy`): every site
        clips its update to ``clipping_norm`` and adds its own Gaussian noise,
        so that its ``rounds`` updates are (epsilon, ``dp_delta``)-DP whatever
        the server does; works with SecAgg+ and every strategy.
    ledger, dataset, spender
        Reserve the DP run's loss (central or local) for ``dataset`` before round 1.
    engine
        ``"inprocess"`` or ``"ray"`` (Flower's simulation engine).
    checkpoint
        A file saved after every round (in-process engine); an existing one resumes.
    make_client
        ``f(index, task, site_data) -> NumPyClient`` to replace a site's
        client (e.g. a poisoned one in a robustness test).
    progress
        True for a progress bar per round, or ``f(round, record)``.
    seed
        Seeds splits, initial weights, local shuffles and client sampling; never DP noise.

    Raises
    ------
    ParameterError
        A bad setting or combination (robust strategies or DP under SecAgg+).
    BudgetExceededError
        The ledger refuses the DP spend; nothing was trained.
    """
    if engine not in ENGINES:
        raise ParameterError(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}")
    if strategy not in STRATEGIES:
        raise ParameterError(
            f"unknown strategy {strategy!r}; choose one of: {', '.join(STRATEGIES)}"
        )
    if isinstance(clients, bool) or not isinstance(clients, int) or clients < 1:
        raise ParameterError(f"clients must be a positive integer; got {clients!r}")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ParameterError(f"rounds must be a positive integer; got {rounds!r}")
    per_round = clients if clients_per_round is None else int(clients_per_round)
    if not 1 <= per_round <= clients:
        raise ParameterError(
            f"clients_per_round must be in 1..{clients}; got {clients_per_round!r}"
        )
    dp = dp_epsilon is not None or dp_noise_multiplier is not None
    local_dp = local_dp_epsilon is not None or local_noise_multiplier is not None
    if dp and local_dp:
        raise ParameterError(
            "choose central DP-FedAvg (dp_epsilon) or local DP (local_dp_epsilon), not both"
        )
    if secagg and strategy in ROBUST:
        raise ParameterError(
            f"strategy {strategy!r} must see each update, which secure aggregation hides; "
            "use fedavg, fedprox, fedadam or fedyogi with --secagg"
        )
    if secagg and dp:
        raise ParameterError(
            "central DP-FedAvg clips each update at the server, which secure aggregation "
            "hides; run it without --secagg, or use local DP (--local-epsilon) with --secagg"
        )
    if dp and strategy not in DP_STRATEGIES:
        raise ParameterError(
            f"DP-FedAvg works with {', '.join(DP_STRATEGIES)}; got strategy {strategy!r}"
        )
    if (ledger is None) != (dataset is None):
        raise ParameterError(
            "a ledger and a dataset go together: the spend is charged to the dataset"
        )
    if ledger is not None and not (dp or local_dp):
        raise ParameterError("a ledger records DP spends: give dp_epsilon or local_dp_epsilon too")
    if checkpoint is not None and (engine != "inprocess" or secagg):
        raise ParameterError("checkpoints are kept by the in-process engine without SecAgg+")
    avail = (
        availability
        if isinstance(availability, Availability)
        else Availability(probability=availability, seed=seed)
    )

    full = as_dataset(data, target)
    if test is None:
        train, test = split(full, test_size, seed)
    else:
        train = full
    parts = partition(train.y, clients, scheme=partition_scheme, alpha=alpha, seed=seed)
    task = ClassificationTask(
        train.X.shape[1], len(train.classes), hidden=hidden, epochs=local_epochs,
        batch_size=batch_size, learning_rate=learning_rate, seed=seed,
    )  # fmt: skip
    last: dict[str, Any] = {}

    def evaluate_fn(server_round: int, arrays: list[np.ndarray], config: dict[str, Any]) -> Any:
        ev = task.evaluate(arrays, test.X, test.y)
        last["scores"], last["parameters"] = ev.scores, [np.asarray(a) for a in arrays]
        return ev.loss, {"accuracy": ev.accuracy}

    def fit_config(server_round: int) -> dict[str, Any]:
        return {"server_round": server_round}

    inner = make_strategy(
        strategy,
        initial_parameters=task.initial_parameters(),
        clients_per_round=per_round,
        evaluate_fn=evaluate_fn,
        fit_config=fit_config,
        **(strategy_options or {}),
    )
    plan = None
    delta = dp_delta if dp_delta is not None else 1.0 / clients**1.1
    if dp:
        plan = plan_dp(
            total_clients=clients, clients_per_round=per_round, rounds=rounds, delta=delta,
            epsilon=dp_epsilon, noise_multiplier=dp_noise_multiplier, clipping_norm=clipping_norm,
            adaptive=adaptive_clipping, accountant=accountant,
        )  # fmt: skip
        inner = DPFedAvg(inner, plan)
    local_plan = None
    if local_dp:
        local_plan = plan_local_dp(
            rounds=rounds, delta=delta, epsilon=local_dp_epsilon,
            noise_multiplier=local_noise_multiplier, clipping_norm=clipping_norm,
        )  # fmt: skip
    screened = Screened(inner, task.shapes())
    recorder = _Recorder(screened)
    top = Intermittent(recorder, avail)

    def site(i: int) -> Any:
        rows = parts[i]
        local = Dataset(train.X[rows], train.y[rows], train.classes, train.name)
        if make_client is not None:
            return make_client(i, task, local)
        own = LocalPrivacy(local_plan) if local_plan is not None else None
        return SiteClient(task, local.X, local.y, local=own)

    settings = {
        "data": full.name,
        "clients": clients,
        "clients_per_round": per_round,
        "rounds": rounds,
        "strategy": strategy,
        "partition": partition_scheme
        if partition_scheme == "iid"
        else f"{partition_scheme}(alpha={alpha})",
        "availability": avail.to_dict(),
        "secagg": secagg,
        "engine": engine,
        "model": "MLP " + "-".join(map(str, [task.n_features, *task.hidden, task.n_classes])),
        "local_epochs": local_epochs,
        "train_rows": len(train),
        "test_rows": len(test),
        "seed": seed,
    }
    book, owned, reservation = None, False, None
    spent = plan if plan is not None else local_plan
    if spent is not None and ledger is not None:
        from veil.ledger import as_ledger

        book, owned = as_ledger(ledger)
        mechanism = (
            "DP-FedAvg (Poisson-sampled Gaussian over clients)"
            if plan is not None
            else "local DP (each site's clipped update plus its own Gaussian noise)"
        )
        try:
            reservation = book.reserve(
                dataset,  # type: ignore[arg-type]
                spent.loss,
                what=f"federated run: {strategy}, {clients} clients, {rounds} rounds",
                mechanism=mechanism,
                parameters=spent.to_dict(),
                spender=spender,
            )
        except BaseException:
            if owned:
                book.close()
            raise
    from veil.learn.progress import EpochProgress

    report = EpochProgress(progress, rounds, "federated rounds")
    began = time.perf_counter()
    try:
        # From here the reservation stays counted whatever happens: noise may be out.
        report(0, {"epoch": 0})
        if engine == "inprocess" and not secagg:
            ckpt = Checkpoint(checkpoint) if checkpoint is not None else None
            outcome = run_rounds(
                top, [site(i).to_client() for i in range(clients)], rounds,
                deadline=avail.deadline, checkpoint=ckpt, seed=seed,
                on_round=lambda r: report(r["round"], {"loss": r["loss"], **r}),
            )  # fmt: skip
            history, params = outcome.history, outcome.parameters
        else:
            app = server_app(
                top, rounds, secagg=secagg, round_timeout=avail.deadline, **(secagg_options or {})
            )
            clients_app = client_app(site, secagg=secagg)
            if engine == "inprocess":
                LocalGrid(clients_app, clients).serve(app)
            else:
                _run_ray(app, clients_app, clients)
            history, params = recorder.history, last.get("parameters")
        seconds = time.perf_counter() - began
        final = history[-1]["accuracy"] if history else float("nan")
        privacy = None
        if spent is not None:
            privacy = {
                **spent.to_dict(),
                "reservation_id": None if reservation is None else reservation.id,
            }
        result = FederatedResult(
            rounds=history,
            final_accuracy=final,
            settings=settings,
            parameters=params or [],
            roc=roc_points(test.y, last["scores"]) if "scores" in last else None,
            privacy=privacy,
            rejected=[{"round": r, "client": c, "reason": why} for r, c, why in screened.rejected],
            seconds=seconds,
            notes=list(full.notes),
        )
        if book is not None:
            book.finish(reservation, {"final_accuracy": final, "rounds": len(history)})  # type: ignore[arg-type]
        return result
    finally:
        report.close()
        if owned:
            book.close()  # type: ignore[union-attr]


def _run_ray(app: Any, clients_app: Any, clients: int) -> None:
    """Flower's Ray simulation of ``clients`` supernodes, one CPU each at most."""
    from flwr.simulation import run_simulation

    run_simulation(
        server_app=app,
        client_app=clients_app,
        num_supernodes=clients,
        backend_config={
            "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
            "init_args": {"num_cpus": 2, "include_dashboard": False},
        },
    )
