"""PrivacyLoss: stated by numbers or by its event alone, checked, and composed in sequence."""

from __future__ import annotations

import math

import pytest

from veil.errors import ParameterError
from veil.privacy import (
    ComposedEvent,
    DiscreteLaplaceEvent,
    GaussianEvent,
    LaplaceEvent,
    PoissonSampledGaussianEvent,
    PrivacyLoss,
    RDPCurveEvent,
    compose,
    then,
    zcdp_to_epsilon,
)


def test_pure_events_give_their_exact_epsilon() -> None:
    assert PrivacyLoss.from_event(LaplaceEvent(noise_multiplier=4.0)).epsilon == 0.25
    loss = PrivacyLoss.from_event(DiscreteLaplaceEvent(noise_parameter=0.1, sensitivity=3))
    assert loss.epsilon == pytest.approx(0.3)
    assert loss.delta == 0.0
    assert loss.rho == pytest.approx(0.045)  # epsilon**2 / 2


def test_gaussian_without_delta_is_a_zcdp_statement() -> None:
    loss = PrivacyLoss.from_event(GaussianEvent(noise_multiplier=2.0))
    assert loss.epsilon is None
    assert loss.rho == pytest.approx(1 / 8)
    with_delta = PrivacyLoss.from_event(GaussianEvent(noise_multiplier=2.0), delta=1e-6)
    # Never looser than the zCDP conversion, which is one of the accountants tried.
    assert with_delta.epsilon <= zcdp_to_epsilon(1 / 8, 1e-6) + 1e-12
    assert with_delta.rho == pytest.approx(1 / 8)


def test_a_loss_stated_by_its_mechanism_alone() -> None:
    # The friction of veil 0.1: a trainer had to invent an epsilon the ledger ignored.
    event = PoissonSampledGaussianEvent(
        noise_multiplier=1.1, sampling_probability=256 / 60000, steps=int(60 * 60000 / 256)
    )
    loss = PrivacyLoss(delta=1e-5, event=event)
    assert loss.epsilon == pytest.approx(2.3817, rel=1e-3)  # PLD, the tightest here
    assert loss == PrivacyLoss.from_event(event, delta=1e-5)
    with pytest.raises(ParameterError, match="no finite epsilon at delta = 0"):
        PrivacyLoss.from_event(event)


def test_rdp_curve_loss_uses_the_conversion() -> None:
    curve = RDPCurveEvent(orders=(2.0, 4.0, 8.0, 16.0, 32.0), values=(0.1, 0.2, 0.4, 0.8, 1.6))
    loss = PrivacyLoss.from_event(curve, delta=1e-5)
    # Canonne, Kamath and Steinke 2020, Prop. 12, minimised over the given orders.
    expected = min(
        v + math.log1p(-1 / a) - math.log(1e-5 * a) / (a - 1)
        for a, v in zip(curve.orders, curve.values, strict=True)
    )
    assert loss.epsilon == pytest.approx(expected, rel=1e-12)
    assert loss.rho is None


def test_then_composes_events_too() -> None:
    a = PrivacyLoss.from_event(DiscreteLaplaceEvent(noise_parameter=0.5, sensitivity=1))
    b = PrivacyLoss.from_event(LaplaceEvent(noise_multiplier=4.0))
    both = then(a, b)
    assert both.epsilon == pytest.approx(0.75)
    assert isinstance(both.event, ComposedEvent)
    assert PrivacyLoss.from_event(both.event).epsilon == pytest.approx(0.75)


def test_validation_names_the_problem() -> None:
    with pytest.raises(ParameterError, match="needs an epsilon, a zCDP rho or an event"):
        PrivacyLoss()
    with pytest.raises(ParameterError, match="delta must be in"):
        PrivacyLoss.from_event(GaussianEvent(noise_multiplier=1.0), delta=1.5)
    with pytest.raises(ParameterError, match="unknown privacy event type"):
        PrivacyLoss(epsilon=1.0, event={"type": "mystery"})
    with pytest.raises(ParameterError, match="unknown accountant 'prv'"):
        compose([PrivacyLoss.pure(1.0)], 1e-6, accountants=["basic", "prv"])
