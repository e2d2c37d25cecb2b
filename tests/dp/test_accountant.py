"""Accounting cross-checked against Google's dp-accounting for the same sequences."""

from __future__ import annotations

import math

import numpy as np
import pytest
from dp_accounting import dp_event as ev
from dp_accounting.pld.pld_privacy_accountant import PLDAccountant
from dp_accounting.rdp.rdp_privacy_accountant import RdpAccountant, compute_epsilon

from veil.dp.accountant import PrivacyLoss, compose, zcdp_for_epsilon, zcdp_to_epsilon
from veil.dp.mechanisms import DiscreteLaplaceMechanism, GaussianMechanism
from veil.errors import ParameterError


@pytest.mark.parametrize("rho", [0.001, 0.05, 0.5, 2.0])
@pytest.mark.parametrize("delta", [1e-9, 1e-6, 1e-3])
def test_zcdp_conversion_matches_rdp_accountant(rho: float, delta: float) -> None:
    rdp = RdpAccountant()
    rdp.compose(ev.ZCDpEvent(rho=rho))
    ours = zcdp_to_epsilon(rho, delta)
    # Same conversion (Canonne et al. 2020, Prop. 12); the accountant minimises on
    # its default grid of orders, we minimise continuously: never looser.
    assert ours <= rdp.get_epsilon(delta) * (1 + 1e-9)
    # On a fine grid of orders dp-accounting's conversion finds our value.
    orders = np.exp(np.linspace(np.log(1.0001), np.log(1e5), 20_000))
    theirs, _ = compute_epsilon(orders, rho * orders, delta)
    assert ours == pytest.approx(theirs, rel=1e-4)
    assert zcdp_to_epsilon(zcdp_for_epsilon(ours, delta), delta) <= ours


def test_gaussian_sequence_matches_rdp_accountant() -> None:
    mechs = [GaussianMechanism(sensitivity=1.0, rho=r) for r in (0.01, 0.02, 0.03, 0.04)]
    rdp = RdpAccountant()
    for m in mechs:
        rdp.compose(ev.GaussianDpEvent(noise_multiplier=m.scale / m.sensitivity))
    delta = 1e-6
    ours = compose([m.privacy_loss for m in mechs], delta)
    assert ours.by_accountant["zcdp"] == pytest.approx(rdp.get_epsilon(delta), rel=0.02)
    assert ours.epsilon == min(ours.by_accountant.values())


def test_discrete_laplace_sequence_matches_pld_accountant() -> None:
    mechs = [DiscreteLaplaceMechanism(epsilon=0.05, sensitivity=1) for _ in range(30)]
    delta = 1e-6
    pld = PLDAccountant()
    for m in mechs:
        pld.compose(ev.DiscreteLaplaceDpEvent(noise_parameter=1 / m.scale, sensitivity=1))
    ours = compose([m.privacy_loss for m in mechs], delta)
    assert ours.by_accountant["basic"] == pytest.approx(30 * 0.05)
    assert ours.by_accountant["pld"] == pytest.approx(pld.get_epsilon(delta), rel=1e-9)
    # Thirty small releases: PLD is tighter than adding the epsilons up.
    assert ours.accountant == "pld"
    assert ours.epsilon < 1.5


def test_pure_sequence_basic_equals_sum() -> None:
    losses = [PrivacyLoss.pure(e) for e in (0.1, 0.2, 0.3)]
    comp = compose(losses, 0.0)
    assert comp.epsilon == pytest.approx(0.6)
    assert comp.by_accountant["zcdp"] == math.inf  # zCDP needs delta > 0


def test_approximate_losses_add_deltas() -> None:
    losses = [PrivacyLoss.approximate(0.5, 1e-7)] * 3
    assert compose(losses, 1e-6).by_accountant["basic"] == pytest.approx(1.5)
    assert compose(losses, 2e-7).epsilon == math.inf  # the deltas exceed the budget


def test_privacy_loss_validation() -> None:
    with pytest.raises(ParameterError):
        PrivacyLoss()
    with pytest.raises(ParameterError, match="delta"):
        PrivacyLoss.approximate(1.0, 1.0)
    with pytest.raises(ParameterError, match="epsilon"):
        PrivacyLoss.pure(-1.0)
