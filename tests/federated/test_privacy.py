"""DP-FedAvg: epsilon from the accountants, in the ledger before round 1, noise, clipping."""

from __future__ import annotations

import numpy as np
import pytest
from flwr.common import ndarrays_to_parameters
from scipy import stats

from veil.errors import BudgetExceededError, ParameterError
from veil.federated import DPFedAvg, DPPlan, dp_fedavg_epsilon, plan_dp, simulate
from veil.federated.apps import SiteClient
from veil.federated.privacy import clip_update
from veil.federated.strategies import fit_result, make_strategy
from veil.ledger import Ledger


def _dp_accounting_epsilon(z: float, q: float, rounds: int, delta: float) -> float:
    import dp_accounting
    from dp_accounting.pld import pld_privacy_accountant

    event = dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(z)), rounds
    )
    acc = pld_privacy_accountant.PLDAccountant(value_discretization_interval=1e-4)
    return acc.compose(event).get_epsilon(delta)


def test_epsilon_of_a_run_is_the_accountants(tmp_path) -> None:
    out = simulate(
        clients=20, clients_per_round=5, rounds=6, dp_noise_multiplier=1.2, dp_delta=1e-3, hidden=()
    )
    eps = out.privacy["epsilon"]
    assert out.privacy["sampling_probability"] == 0.25
    assert eps == dp_fedavg_epsilon(1.2, sampling_probability=0.25, rounds=6, delta=1e-3)
    # Cross-check with Google's dp-accounting composing the same event directly.
    assert eps == pytest.approx(_dp_accounting_epsilon(1.2, 0.25, 6, 1e-3), rel=0.02)


def test_target_epsilon_is_met_and_reserved_before_round_one(tmp_path) -> None:
    path = tmp_path / "ledger.db"
    book = Ledger(path, create=True)
    book.add_dataset("sites", epsilon=10.0, delta=1e-2)
    book.close()
    seen: list[tuple[str, float]] = []

    class Watching(SiteClient):
        def fit(self, parameters, config):  # type: ignore[no-untyped-def]
            if not seen:  # the first local training of the whole run
                with Ledger(path) as led:
                    rec = led.history("sites").records
                    seen.extend((r.state, r.loss.epsilon) for r in rec)
            return super().fit(parameters, config)

    out = simulate(
        clients=10, rounds=3, dp_epsilon=4.0, dp_delta=1e-3, ledger=path, dataset="sites",
        make_client=lambda i, task, d: Watching(task, d.X, d.y), hidden=(),
    )  # fmt: skip
    eps = out.privacy["epsilon"]
    assert 4.0 * (1 - 0.01) <= eps <= 4.0
    assert seen == [("reserved", eps)]
    with Ledger(path) as led:
        (record,) = led.history("sites").records
    assert record.state == "finished" and record.loss.epsilon == eps
    assert record.parameters["noise_multiplier"] == out.privacy["noise_multiplier"]


def test_refused_spend_trains_nothing(tmp_path) -> None:
    path = tmp_path / "ledger.db"
    with Ledger(path, create=True) as book:
        book.add_dataset("sites", epsilon=1.0, delta=1e-2)

    def never(i, task, d):  # type: ignore[no-untyped-def]
        raise AssertionError("a client was built after a refused spend")

    with pytest.raises(BudgetExceededError):
        simulate(
            clients=10, rounds=3, dp_epsilon=4.0, dp_delta=1e-3, ledger=path, dataset="sites",
            make_client=never,
        )  # fmt: skip


def _dp_round(plan, results, shape=(100, 200)):  # type: ignore[no-untyped-def]
    inner = make_strategy("fedavg", initial_parameters=[np.zeros(shape)], clients_per_round=1)
    dp = DPFedAvg(inner, plan)
    from veil.federated.engine import SeededClientManager

    dp.configure_fit(1, ndarrays_to_parameters([np.zeros(shape)]), SeededClientManager())
    params, _ = dp.aggregate_fit(1, results, [])
    from flwr.common import parameters_to_ndarrays

    return dp, parameters_to_ndarrays(params)[0]


def test_noise_is_gaussian_with_the_stated_std() -> None:
    plan = plan_dp(
        total_clients=10, clients_per_round=10, rounds=1, delta=1e-3, noise_multiplier=1.0,
        clipping_norm=2.0,
    )  # fmt: skip
    _, noisy = _dp_round(plan, [])
    # An empty round releases pure noise: N(0, (z C / m)^2) = N(0, 0.2^2) per coordinate.
    # 20,000 draws; KS rejects at p < 1e-6 (false failure 1e-6); a 10% error in the std
    # moves the KS distance to ~0.04, far beyond the 0.019 the test tolerates at that level.
    assert stats.kstest(noisy.ravel(), "norm", args=(0, 0.2)).pvalue > 1e-6
    assert abs(noisy.std() - 0.2) < 0.01


def test_each_update_is_clipped_before_summing() -> None:
    # A plan with next to no noise (never a real one: its epsilon is not computed).
    plan = DPPlan(
        noise_multiplier=1e-9, clipping_norm=1.0, sampling_probability=1.0, expected_clients=1.0,
        rounds=1, epsilon=float("inf"), delta=1e-3, accountant="pld", adaptive=False,
        clipped_count_stddev=None,
    )  # fmt: skip
    big = [np.full((100, 200), 50.0)]
    dp, out = _dp_round(plan, [(None, fit_result(big, 1, {}))])
    assert dp.norms[1][0] == pytest.approx(50.0 * np.sqrt(20_000))
    assert np.linalg.norm(out) == pytest.approx(1.0, rel=1e-3)
    new = clip_update([np.array([3.0, 4.0])], [np.zeros(2)], 1.0)
    np.testing.assert_allclose(new[0], [0.6, 0.8])


def test_adaptive_clipping_moves_toward_the_quantile() -> None:
    plan = plan_dp(
        total_clients=20, clients_per_round=20, rounds=1, delta=1e-3, noise_multiplier=1.0,
        adaptive=True,
    )  # fmt: skip
    # Andrew et al.: the update's own noise is raised so that both together account as z.
    zd = plan.update_noise_multiplier
    assert (zd**-2 + (2 * plan.clipped_count_stddev) ** -2) ** -0.5 == pytest.approx(1.0)
    small = [(None, fit_result([np.full((10, 10), 1e-3)], 1, {})) for _ in range(20)]
    inner = make_strategy("fedavg", initial_parameters=[np.zeros((10, 10))], clients_per_round=1)
    dp = DPFedAvg(inner, plan)
    from veil.federated.engine import SeededClientManager

    for r in range(1, 6):
        dp.configure_fit(r, ndarrays_to_parameters([np.zeros((10, 10))]), SeededClientManager())
        dp.aggregate_fit(r, small, [])
    # Every update fits: the fraction is ~1 > 0.5, so C shrinks by about exp(-0.1) a round.
    assert dp.clipping_norm < 0.8
    with pytest.raises(ParameterError, match="count noise"):
        plan_dp(total_clients=10, clients_per_round=2, rounds=1, delta=1e-3,
                noise_multiplier=1.0, adaptive=True)  # fmt: skip


def test_noise_is_not_seeded() -> None:
    kwargs = {"clients": 5, "rounds": 1, "dp_noise_multiplier": 1.0, "dp_delta": 1e-3, "hidden": ()}
    a, b = simulate(seed=0, **kwargs), simulate(seed=0, **kwargs)
    assert not np.allclose(a.parameters[0], b.parameters[0])
