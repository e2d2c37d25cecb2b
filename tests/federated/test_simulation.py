"""Simulation: convergence, robust strategies, intermittent clients, resume."""

from __future__ import annotations

import numpy as np
import pytest

from veil.errors import ParameterError
from veil.federated import Availability, ClassificationTask, load_digits, simulate
from veil.federated.apps import SiteClient
from veil.federated.simulation import split


@pytest.fixture(scope="module")
def digits():
    return split(load_digits(), 0.2, 0)


def test_iid_federation_within_two_points_of_centralized(digits) -> None:
    train, test = digits
    task = ClassificationTask(64, 10, epochs=20)
    params, _ = task.fit(task.initial_parameters(), train.X, train.y)
    central = task.evaluate(params, test.X, test.y).accuracy
    fed = simulate(train, test=test, clients=10, rounds=30, local_epochs=3)
    assert central > 0.9
    assert abs(fed.final_accuracy - central) <= 0.02, (fed.final_accuracy, central)
    # Everything but local training and evaluation: milliseconds per round in process.
    overhead = np.median([r["overhead_seconds"] for r in fed.rounds])
    assert overhead < 0.05


class Poisoned(SiteClient):
    """Sends the global model minus ten times its honest update (scaled and sign-flipped)."""

    def fit(self, parameters, config):  # type: ignore[no-untyped-def]
        new, n, m = super().fit(parameters, config)
        return [p - 10.0 * (q - p) for p, q in zip(parameters, new, strict=True)], n, m


def test_poisoned_clients_break_fedavg_not_robust_strategies(digits) -> None:
    train, test = digits

    def make(i, task, data):  # type: ignore[no-untyped-def]
        return (Poisoned if i < 2 else SiteClient)(task, data.X, data.y)

    common = {"test": test, "clients": 10, "rounds": 10, "local_epochs": 3}
    clean = simulate(train, **common).final_accuracy
    attacked = simulate(train, make_client=make, **common).final_accuracy
    assert clean > 0.9
    assert attacked < 0.3  # FedAvg follows the attackers (chance is 0.1)
    for name, options in [
        ("trimmed_mean", {"beta": 0.3}),
        ("median", {}),
        ("krum", {"num_malicious_clients": 2}),
    ]:
        robust = simulate(
            train, make_client=make, strategy=name, strategy_options=options, **common
        ).final_accuracy
        assert robust > clean - 0.05, (name, robust, clean)


def test_intermittent_clients_answer_at_the_stated_rate() -> None:
    result = simulate(clients=10, rounds=20, availability=0.5, hidden=(), seed=1)
    answered = np.array([r["clients"] for r in result.rounds])
    assert (np.array([r["sampled"] for r in result.rounds]) == 10).all()
    # 200 Bernoulli(0.5) draws: mean 100, sd 7.1; outside 100 +- 40 has probability < 1e-8.
    assert 60 <= answered.sum() <= 140
    assert answered.min() < 10  # someone was missing at least once


def test_schedule_and_stragglers() -> None:
    sched = Availability(schedule={1: [0, 1], 2: [2]}, seed=0)
    result = simulate(clients=4, rounds=3, availability=sched, hidden=())
    assert [r["clients"] for r in result.rounds] == [2, 1, 4]
    slow = Availability(straggler_probability=1.0)
    out = simulate(clients=3, rounds=2, availability=slow, hidden=())
    assert [r["clients"] for r in out.rounds] == [0, 0]
    assert out.rounds[-1]["accuracy"] == out.rounds[0]["accuracy"]  # no update, same model


def test_deadline_drops_slow_clients() -> None:
    class Slow(SiteClient):
        def fit(self, parameters, config):  # type: ignore[no-untyped-def]
            import time

            time.sleep(0.3)  # a slow site, not synchronisation
            return super().fit(parameters, config)

    def make(i, task, data):  # type: ignore[no-untyped-def]
        return (Slow if i == 0 else SiteClient)(task, data.X, data.y)

    out = simulate(
        clients=3, rounds=2, availability=Availability(deadline=0.2), make_client=make, hidden=()
    )
    assert [r["clients"] for r in out.rounds] == [2, 2]


@pytest.mark.parametrize("strategy", ["fedavg", "fedadam"])
def test_checkpoint_resume_equals_an_uninterrupted_run(tmp_path, strategy: str) -> None:
    kwargs = {"clients": 4, "strategy": strategy, "hidden": (8,), "seed": 2}
    straight = simulate(rounds=4, **kwargs)
    path = tmp_path / "run.npz"
    first = simulate(rounds=2, checkpoint=str(path), **kwargs)
    assert len(first.rounds) == 2 and path.is_file()
    resumed = simulate(rounds=4, checkpoint=str(path), **kwargs)
    assert [r["round"] for r in resumed.rounds] == [1, 2, 3, 4]
    for a, b in zip(resumed.parameters, straight.parameters, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_strategies_by_name_run() -> None:
    for name in ["fedprox", "fedyogi"]:
        out = simulate(clients=3, rounds=2, strategy=name, hidden=())
        assert len(out.rounds) == 2 and np.isfinite(out.final_accuracy)


def test_bad_settings() -> None:
    with pytest.raises(ParameterError, match="unknown strategy"):
        simulate(strategy="fedsgd")
    with pytest.raises(ParameterError, match="secure aggregation hides"):
        simulate(strategy="krum", secagg=True)
    with pytest.raises(ParameterError, match="takes no option"):
        simulate(strategy="median", strategy_options={"beta": 0.1}, rounds=1)
    with pytest.raises(ParameterError, match="clients_per_round"):
        simulate(clients=3, clients_per_round=5)
