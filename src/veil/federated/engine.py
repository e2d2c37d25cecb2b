"""The in-process engine: Flower's strategies and clients driven round by round in one process.

Flower's Ray simulation spends about a second per round on scheduling and
serialisation here; the same ``Strategy`` and ``NumPyClient`` objects called
directly cost milliseconds. :func:`run_rounds` is the server loop of
Flower's legacy ``Server.fit_round`` without the transport: the strategy picks
clients and their instructions, each picked client trains (a client that
raises, or outlasts the deadline, counts as a failure), the strategy
aggregates whoever answered, the server evaluates and checkpoints.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from flwr.common import (
    Code,
    DisconnectRes,
    EvaluateIns,
    EvaluateRes,
    FitIns,
    FitRes,
    GetParametersIns,
    GetParametersRes,
    GetPropertiesIns,
    GetPropertiesRes,
    ReconnectIns,
    ndarrays_to_parameters,
    parameters_to_ndarrays,
)
from flwr.server.client_manager import SimpleClientManager
from flwr.server.client_proxy import ClientProxy

from veil.federated.checkpoint import Checkpoint

__all__ = ["LocalProxy", "RoundsOutcome", "SeededClientManager", "run_rounds"]

log = logging.getLogger("veil.federated")


class LocalProxy(ClientProxy):
    """A Flower ``ClientProxy`` that calls a client object in this process."""

    def __init__(self, cid: str, client: Any) -> None:
        super().__init__(cid)
        self.node_id = int(cid)
        self.client = client

    def get_properties(
        self, ins: GetPropertiesIns, timeout: float | None, group_id: int | None
    ) -> GetPropertiesRes:
        return self.client.get_properties(ins)

    def get_parameters(
        self, ins: GetParametersIns, timeout: float | None, group_id: int | None
    ) -> GetParametersRes:
        return self.client.get_parameters(ins)

    def fit(self, ins: FitIns, timeout: float | None, group_id: int | None) -> FitRes:
        return self.client.fit(ins)

    def evaluate(
        self, ins: EvaluateIns, timeout: float | None, group_id: int | None
    ) -> EvaluateRes:
        return self.client.evaluate(ins)

    def reconnect(
        self, ins: ReconnectIns, timeout: float | None, group_id: int | None
    ) -> DisconnectRes:
        return DisconnectRes(reason="")


class SeededClientManager(SimpleClientManager):
    """Flower's client manager, sampling clients from a seeded generator (reproducible runs)."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self.rng = np.random.default_rng(seed)

    def sample(
        self, num_clients: int, min_num_clients: int | None = None, criterion: Any = None
    ) -> list[ClientProxy]:
        cids = sorted(self.clients, key=lambda c: (len(c), c))
        if criterion is not None:
            cids = [c for c in cids if criterion.select(self.clients[c])]
        if num_clients > len(cids):
            return []
        picked = self.rng.choice(len(cids), size=num_clients, replace=False)
        return [self.clients[cids[i]] for i in sorted(picked)]


@dataclass
class RoundsOutcome:
    """The global model after the last round and one record per round."""

    parameters: list[np.ndarray]
    history: list[dict[str, Any]]
    resumed_from: int


def run_rounds(
    strategy: Any,
    clients: Sequence[Any],
    rounds: int,
    *,
    deadline: float | None = None,
    checkpoint: Checkpoint | None = None,
    on_round: Callable[[dict[str, Any]], None] | None = None,
    seed: int = 0,
) -> RoundsOutcome:
    """Run ``rounds`` rounds of ``strategy`` over ``clients`` (Flower ``Client`` objects).

    Parameters
    ----------
    strategy
        A Flower strategy (wrapped or not); its ``evaluate`` gives each
        round's loss and metrics (``accuracy``).
    clients
        Client ``i`` is named ``str(i)``.
    deadline
        Seconds a client may take; a slower update is dropped from the round.
    checkpoint
        Saved after each round; when it exists already, the run resumes after
        its round with its model and server state.
    on_round
        Called with each round's record (a progress bar).
    seed
        Seeds the client sampling.
    """
    manager = SeededClientManager(seed)
    for i, client in enumerate(clients):
        manager.register(LocalProxy(str(i), client))
    params = strategy.initialize_parameters(manager)
    if params is None:
        params = clients[0].get_parameters(GetParametersIns({})).parameters
    history: list[dict[str, Any]] = []
    start = 0
    if checkpoint is not None and checkpoint.exists():
        state = checkpoint.load()
        Checkpoint.restore(strategy, state)
        params = ndarrays_to_parameters(state.parameters)
        history, start = state.history, state.round
        manager.rng = np.random.default_rng([seed, start])
        log.info("resuming after round %d from %s", start, checkpoint.path)
    for server_round in range(start + 1, rounds + 1):
        began = time.perf_counter()
        instructions = strategy.configure_fit(server_round, params, manager)
        results: list[tuple[ClientProxy, FitRes]] = []
        failures: list[Any] = []
        busy, slowest = 0.0, 0.0
        for proxy, ins in instructions:
            t0 = time.perf_counter()
            try:
                res = proxy.fit(ins, timeout=deadline, group_id=server_round)
            except Exception as err:  # a client's failure is its own: the round goes on
                log.warning("round %d: client %s failed: %s", server_round, proxy.cid, err)
                failures.append(err)
                busy += time.perf_counter() - t0
                continue
            spent = time.perf_counter() - t0
            busy += spent
            slowest = max(slowest, spent)
            if deadline is not None and spent > deadline:
                log.info(
                    "round %d: client %s missed the %gs deadline", server_round, proxy.cid, deadline
                )
                failures.append(TimeoutError(f"client {proxy.cid} took {spent:.3f}s"))
            elif res.status.code != Code.OK:
                failures.append((proxy, res))
            else:
                results.append((proxy, res))
        aggregated, _ = strategy.aggregate_fit(server_round, results, failures)
        if aggregated is not None:
            params = aggregated
        t_eval = time.perf_counter()
        evaluated = strategy.evaluate(server_round, params)
        evaluating = time.perf_counter() - t_eval
        loss, metrics = evaluated if evaluated is not None else (float("nan"), {})
        seconds = time.perf_counter() - began
        record = {
            "round": server_round,
            "clients": len(results),
            # Picked by the strategy, including those the availability model kept away.
            "sampled": len(instructions)
            + len(getattr(strategy, "dropped", {}).get(server_round, [])),
            "failures": len(failures),
            "accuracy": float(metrics.get("accuracy", float("nan"))),
            "loss": float(loss),
            "seconds": seconds,
            "train_seconds": busy,
            "overhead_seconds": max(0.0, seconds - busy - evaluating),
            # Sites train at once in a real federation: the round lasts as its slowest client.
            "parallel_seconds": max(0.0, seconds - busy) + slowest,
        }
        history.append(record)
        if checkpoint is not None:
            checkpoint.save(
                Checkpoint.capture(strategy, server_round, parameters_to_ndarrays(params), history)
            )
        if on_round is not None:
            on_round(record)
    return RoundsOutcome(parameters_to_ndarrays(params), history, start)
