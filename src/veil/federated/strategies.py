"""Aggregation strategies by name, on Flower's implementations, and the update screen.

Each name maps to a factory of a Flower ``Strategy`` (the unit of extension in
Flower: configure a round, aggregate its results, evaluate), filled by the
:func:`register` decorator like :mod:`veil.privacy.accountants`:

- ``fedavg``: weighted mean of the clients' models (McMahan et al. 2017);
- ``fedprox``: FedAvg whose clients add a proximal term mu (Li et al. 2020);
- ``fedadam`` / ``fedyogi``: the mean update fed to a server-side Adam or
  Yogi optimizer (Reddi et al. 2021, "Adaptive federated optimization");
- ``trimmed_mean``: coordinate-wise mean without the ``beta`` largest and
  smallest shares (Yin et al. 2018, "Byzantine-robust distributed learning");
- ``median``: coordinate-wise median (Yin et al. 2018);
- ``krum``: the update closest to its n - f - 2 neighbours (Blanchard et al.
  2017, "Machine learning with adversaries").

:class:`Screened` wraps any of them and turns an update of the wrong shape or
with NaN/inf values into a logged failure, so one broken client cannot stop a
round or poison the mean with a NaN.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
from flwr.common import FitRes, Parameters, ndarrays_to_parameters, parameters_to_ndarrays
from flwr.server.strategy import FedAdam as _FedAdam
from flwr.server.strategy import (
    FedAvg,
    FedMedian,
    FedProx,
    FedTrimmedAvg,
    FedYogi,
    Krum,
    Strategy,
)

from veil.errors import DataError, ParameterError
from veil.federated.task import check_update

__all__ = ["STRATEGIES", "Screened", "StrategyWrapper", "make_strategy", "register"]

log = logging.getLogger("veil.federated")

#: Strategy factories by name: ``factory(common_kwargs, options) -> Strategy``.
STRATEGIES: dict[str, Callable[[dict[str, Any], dict[str, Any]], Strategy]] = {}


def register(name: str) -> Callable[[Callable[..., Strategy]], Callable[..., Strategy]]:
    """Add a strategy factory to :data:`STRATEGIES` under ``name``."""

    def add(factory: Callable[..., Strategy]) -> Callable[..., Strategy]:
        STRATEGIES[name] = factory
        return factory

    return add


def _take(options: dict[str, Any], allowed: dict[str, Any], name: str) -> dict[str, Any]:
    unknown = set(options) - set(allowed)
    if unknown:
        raise ParameterError(
            f"strategy {name!r} takes no option {sorted(unknown)[0]!r}; its options are: "
            f"{', '.join(allowed) or 'none'}"
        )
    return {**allowed, **options}


@register("fedavg")
def _fedavg(common: dict[str, Any], options: dict[str, Any]) -> Strategy:
    _take(options, {}, "fedavg")
    return FedAvg(**common)


@register("fedprox")
def _fedprox(common: dict[str, Any], options: dict[str, Any]) -> Strategy:
    opts = _take(options, {"proximal_mu": 0.1}, "fedprox")
    return FedProx(**common, proximal_mu=float(opts["proximal_mu"]))


@register("fedadam")
def _fedadam(common: dict[str, Any], options: dict[str, Any]) -> Strategy:
    opts = _take(options, {"eta": 0.01, "eta_l": 0.05, "tau": 1e-3}, "fedadam")
    return _FedAdam(**common, **opts)


@register("fedyogi")
def _fedyogi(common: dict[str, Any], options: dict[str, Any]) -> Strategy:
    opts = _take(options, {"eta": 0.01, "eta_l": 0.05, "tau": 1e-3}, "fedyogi")
    return FedYogi(**common, **opts)


@register("trimmed_mean")
def _trimmed(common: dict[str, Any], options: dict[str, Any]) -> Strategy:
    opts = _take(options, {"beta": 0.2}, "trimmed_mean")
    if not 0 <= opts["beta"] < 0.5:
        raise ParameterError(f"trimmed_mean's beta must be in [0, 0.5); got {opts['beta']!r}")
    return FedTrimmedAvg(**common, beta=float(opts["beta"]))


@register("median")
def _median(common: dict[str, Any], options: dict[str, Any]) -> Strategy:
    _take(options, {}, "median")
    return FedMedian(**common)


@register("krum")
def _krum(common: dict[str, Any], options: dict[str, Any]) -> Strategy:
    opts = _take(options, {"num_malicious_clients": 1, "num_clients_to_keep": 0}, "krum")
    return Krum(**common, **{k: int(v) for k, v in opts.items()})


def _mean_metrics(results: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    """The clients' metrics averaged with their example counts as weights."""
    total = sum(n for n, _ in results)
    keys = set().union(*(m for _, m in results)) if results else set()
    return {
        k: sum(n * float(m[k]) for n, m in results if k in m) / total
        for k in keys
        if total > 0 and all(isinstance(m.get(k, 0.0), (int, float)) for _, m in results)
    }


def make_strategy(
    name: str,
    *,
    initial_parameters: list[np.ndarray],
    clients_per_round: int,
    min_clients: int = 1,
    evaluate_fn: Callable[..., Any] | None = None,
    fit_config: Callable[[int], dict[str, Any]] | None = None,
    federated_evaluation: bool = False,
    sample_all: bool = False,
    **options: Any,
) -> Strategy:
    """The Flower strategy called ``name``, sampling ``clients_per_round`` clients a round.

    Parameters
    ----------
    name
        A key of :data:`STRATEGIES`.
    initial_parameters
        The starting global model (Flower's list of arrays).
    clients_per_round
        How many clients the strategy samples each round (fewer answer when
        some are unavailable; the round goes on with them).
    min_clients
        A round needs at least this many clients connected to start.
    evaluate_fn
        Server-side evaluation ``f(round, arrays, config) -> (loss, metrics)``.
    fit_config
        ``f(round) -> dict`` sent to clients each round.
    sample_all
        Sample every connected client, at least ``clients_per_round`` (a deployment).
    federated_evaluation
        Also ask every sampled client for its accuracy on its own rows after
        each round (when the server holds no test rows).
    options
        Strategy-specific: ``proximal_mu`` (fedprox), ``eta``/``eta_l``/``tau``
        (fedadam, fedyogi), ``beta`` (trimmed_mean), ``num_malicious_clients``
        (krum).

    Raises
    ------
    ParameterError
        Unknown name or option.
    """
    if name not in STRATEGIES:
        raise ParameterError(f"unknown strategy {name!r}; choose one of: {', '.join(STRATEGIES)}")
    if clients_per_round < 1:
        raise ParameterError(f"clients_per_round must be >= 1; got {clients_per_round}")
    common = {
        # fraction 1e-9 with min_fit_clients = k: Flower samples exactly max(k, ...) = k.
        "fraction_fit": 1.0 if sample_all else 1e-9,
        "min_fit_clients": int(clients_per_round),
        "min_available_clients": int(max(min_clients, clients_per_round)),
        "fraction_evaluate": (1.0 if sample_all else 1e-9) if federated_evaluation else 0.0,
        "min_evaluate_clients": int(clients_per_round) if federated_evaluation else 0,
        "evaluate_metrics_aggregation_fn": _mean_metrics,
        "evaluate_fn": evaluate_fn,
        "on_fit_config_fn": fit_config,
        "initial_parameters": ndarrays_to_parameters(initial_parameters),
        "accept_failures": True,
        "fit_metrics_aggregation_fn": _mean_metrics,
    }
    return STRATEGIES[name](common, dict(options))


class StrategyWrapper(Strategy):
    """A strategy that adds one concern to another and passes every other hook through."""

    def __init__(self, strategy: Strategy) -> None:
        self.strategy = strategy

    def __getattr__(self, name: str) -> Any:  # e.g. a wrapped FedAdam's optimizer state
        if name == "strategy":
            raise AttributeError(name)
        return getattr(self.strategy, name)

    def initialize_parameters(self, client_manager: Any) -> Parameters | None:
        return self.strategy.initialize_parameters(client_manager)

    def configure_fit(self, server_round: int, parameters: Parameters, client_manager: Any) -> Any:
        return self.strategy.configure_fit(server_round, parameters, client_manager)

    def aggregate_fit(self, server_round: int, results: Any, failures: Any) -> Any:
        return self.strategy.aggregate_fit(server_round, results, failures)

    def configure_evaluate(
        self, server_round: int, parameters: Parameters, client_manager: Any
    ) -> Any:
        return self.strategy.configure_evaluate(server_round, parameters, client_manager)

    def aggregate_evaluate(self, server_round: int, results: Any, failures: Any) -> Any:
        return self.strategy.aggregate_evaluate(server_round, results, failures)

    def evaluate(self, server_round: int, parameters: Parameters) -> Any:
        return self.strategy.evaluate(server_round, parameters)

    def innermost(self) -> Strategy:
        """The Flower strategy at the bottom of the wrappers."""
        inner = self.strategy
        while isinstance(inner, StrategyWrapper):
            inner = inner.strategy
        return inner


class Screened(StrategyWrapper):
    """Refuses updates of the wrong shapes or with NaN/inf values: logged, the round goes on.

    Parameters
    ----------
    strategy
        The strategy that aggregates the updates that pass.
    shapes
        The shapes of the model's arrays.
    """

    def __init__(self, strategy: Strategy, shapes: list[tuple[int, ...]]) -> None:
        super().__init__(strategy)
        self.shapes = [tuple(s) for s in shapes]
        self.rejected: list[tuple[int, str, str]] = []

    def aggregate_fit(self, server_round: int, results: Any, failures: Any) -> Any:
        kept, failed = [], list(failures)
        for proxy, res in results:
            try:
                check_update(parameters_to_ndarrays(res.parameters), self.shapes)
                if not (np.isfinite(res.num_examples) and res.num_examples > 0):
                    raise DataError(f"the client reported {res.num_examples} examples")
            except (DataError, ValueError) as err:
                log.warning(
                    "round %d: update of client %s rejected: %s", server_round, proxy.cid, err
                )
                self.rejected.append((server_round, str(proxy.cid), str(err)))
                failed.append((proxy, res))
                continue
            kept.append((proxy, res))
        # Even with no valid update the wrapped strategy is called: a DP wrapper
        # must still release its noise (an empty round is not skipped).
        return self.strategy.aggregate_fit(server_round, kept, failed)


def fit_result(parameters: list[np.ndarray], num_examples: int, metrics: dict[str, Any]) -> FitRes:
    """A successful Flower ``FitRes`` carrying ``parameters``."""
    from flwr.common import Code, Status

    return FitRes(
        status=Status(code=Code.OK, message="ok"),
        parameters=ndarrays_to_parameters(parameters),
        num_examples=int(num_examples),
        metrics=metrics,
    )
