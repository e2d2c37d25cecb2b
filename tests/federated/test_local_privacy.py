"""Local DP: each site clips and noises its own update; epsilon, noise, ledger, refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from veil.errors import ParameterError
from veil.federated import LocalPrivacy, plan_local_dp, simulate
from veil.federated.apps import SiteClient
from veil.federated.local_privacy import local_epsilon
from veil.ledger import Ledger
from veil.privacy import GaussianEvent, PrivacyLoss


@pytest.mark.parametrize(("z", "rounds"), [(0.6, 1), (2.7, 20), (5.0, 100), (1.0, 3)])
def test_epsilon_equals_the_spines_pld_for_the_composed_gaussian(z: float, rounds: int) -> None:
    # R Gaussian rounds of multiplier z are one Gaussian of multiplier z / sqrt(R):
    # the analytic epsilon (Balle and Wang) against the spine's PLD accountant.
    mine = local_epsilon(z, rounds=rounds, delta=1e-5)
    pld = PrivacyLoss.from_event(GaussianEvent(noise_multiplier=z / math.sqrt(rounds)), delta=1e-5)
    assert mine == pytest.approx(pld.epsilon, rel=1e-6)


def test_calibration_lands_at_or_just_under_the_target() -> None:
    for target, rounds in [(1.0, 5), (8.0, 20), (50.0, 200)]:
        plan = plan_local_dp(rounds=rounds, delta=1e-5, epsilon=target)
        assert target * (1 - 1e-3) <= plan.epsilon <= target
        assert plan.epsilon == local_epsilon(plan.noise_multiplier, rounds=rounds, delta=1e-5)


def test_what_leaves_the_site_is_the_clipped_update_plus_gaussian_noise() -> None:
    plan = plan_local_dp(rounds=2, delta=1e-5, noise_multiplier=0.5, clipping_norm=3.0)
    guard = LocalPrivacy(plan)
    old = [np.zeros((100, 100)), np.zeros(50)]
    new = [np.full((100, 100), 1.0), np.full(50, 1.0)]  # norm ~100: clipped to 3
    sent = guard.privatize(new, old)
    clipped = 3.0 / math.sqrt(10_050)
    noise = np.concatenate([(sent[0] - clipped).ravel(), (sent[1] - clipped).ravel()])
    # 10,050 draws against N(0, (z 2C)^2) = N(0, 3^2); KS at p < 1e-6 (false failure 1e-6).
    assert plan.noise_std == 3.0
    assert stats.kstest(noise, "norm", args=(0.0, 3.0)).pvalue > 1e-6
    guard.privatize(new, old)
    with pytest.raises(ParameterError, match="covers 2 round"):
        guard.privatize(new, old)  # the budget of rounds is spent: nothing more leaves


def test_the_site_noises_whatever_the_server_asks() -> None:
    from veil.federated.task import ClassificationTask

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 5)).astype(np.float32), rng.integers(0, 2, 40)
    task = ClassificationTask(5, 2, hidden=(32,), epochs=1, seed=0)  # 258 weights
    plan = plan_local_dp(rounds=5, delta=1e-5, noise_multiplier=1.0, clipping_norm=0.5)
    site = SiteClient(task, X, y, local=LocalPrivacy(plan))
    start = task.initial_parameters()
    # A server asking for a huge clip norm changes nothing: the site's own C and noise.
    sent, weight, metrics = site.fit(start, {"clip_norm": 1e9, "server_round": 1})
    delta = np.concatenate([(s - p).ravel() for s, p in zip(sent, start, strict=True)])
    # Noise of std z 2C = 1 on each of 258 weights, not a bare update of norm <= 0.5:
    # a sample std under 0.5 has probability P(chi2_257 < 64) < 1e-30 (the false-failure rate).
    assert delta.std() > 0.5
    # Nothing else computed from the rows leaves: no row count, no loss, no evaluation.
    assert (weight, metrics) == (1, {})
    with pytest.raises(ParameterError, match="reports no loss or accuracy"):
        site.evaluate(start, {})


def test_a_local_dp_run_is_reserved_and_works_with_secagg(tmp_path) -> None:
    path = tmp_path / "ledger.db"
    with Ledger(path, create=True) as book:
        book.add_dataset("sites", epsilon=100.0, delta=1e-3)
    out = simulate(
        clients=4, rounds=2, local_dp_epsilon=50.0, dp_delta=1e-5, clipping_norm=1.0,
        secagg=True, ledger=path, dataset="sites", hidden=(),
    )  # fmt: skip
    assert [r["clients"] for r in out.rounds] == [4, 4]
    assert out.privacy["kind"].startswith("local")
    assert 50.0 * (1 - 1e-3) <= out.privacy["epsilon"] <= 50.0
    with Ledger(path) as book:
        (record,) = book.history("sites").records
    assert record.state == "finished" and record.loss.epsilon == out.privacy["epsilon"]
    assert record.mechanism.startswith("local DP")


def test_bad_local_settings_are_refused() -> None:
    with pytest.raises(ParameterError, match="not both"):
        simulate(clients=3, rounds=1, dp_epsilon=3.0, local_dp_epsilon=3.0)
    with pytest.raises(ParameterError, match="exactly one"):
        plan_local_dp(rounds=3, delta=1e-5)
    with pytest.raises(ParameterError, match="positive"):
        plan_local_dp(rounds=3, delta=1e-5, epsilon=-1.0)
    with pytest.raises(ParameterError, match="rounds"):
        plan_local_dp(rounds=0, delta=1e-5, epsilon=1.0)
    with pytest.raises(ParameterError, match="clipping_norm"):
        plan_local_dp(rounds=3, delta=1e-5, epsilon=1.0, clipping_norm=float("nan"))
