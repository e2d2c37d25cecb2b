"""Privacy losses, the events behind them, and the accountants that compose them.

The spine's language for what a differentially private computation costs,
shared by DP statistics, DP-SGD, PATE, federated learning and synthesizers.
It imports no job, so every job (and the ledger) can build on it::

    from veil.privacy import PrivacyLoss, PoissonSampledGaussianEvent, compose

    sgd = PoissonSampledGaussianEvent(noise_multiplier=1.1,
                                      sampling_probability=256 / 60000, steps=14062)
    loss = PrivacyLoss.from_event(sgd, delta=1e-5)   # epsilon 2.38 (PLD)
    compose([loss, loss], delta=1e-5).epsilon        # two such runs

Accountants (:mod:`veil.privacy.accountants`): basic composition, zCDP, Rényi
DP and privacy loss distributions (the last two by Google's dp-accounting),
one module each behind one interface; :func:`compose` keeps the tightest.
"""

from __future__ import annotations

from veil.privacy.accountants import ACCOUNTANTS, Accountant, get_accountant, register
from veil.privacy.composition import Composition, compose
from veil.privacy.conversions import zcdp_for_epsilon, zcdp_to_epsilon
from veil.privacy.events import (
    ComposedEvent,
    DiscreteLaplaceEvent,
    Event,
    GaussianEvent,
    LaplaceEvent,
    PoissonSampledGaussianEvent,
    RDPCurveEvent,
    ZCDPEvent,
    as_event,
    event_from_dict,
)
from veil.privacy.loss import PrivacyLoss, check_delta, check_epsilon, then

__all__ = [
    "ACCOUNTANTS",
    "Accountant",
    "ComposedEvent",
    "Composition",
    "DiscreteLaplaceEvent",
    "Event",
    "GaussianEvent",
    "LaplaceEvent",
    "PoissonSampledGaussianEvent",
    "PrivacyLoss",
    "RDPCurveEvent",
    "ZCDPEvent",
    "as_event",
    "check_delta",
    "check_epsilon",
    "compose",
    "event_from_dict",
    "get_accountant",
    "register",
    "then",
    "zcdp_for_epsilon",
    "zcdp_to_epsilon",
]
