"""Noisy marginals and private selections, and the zCDP budget they are paid from.

Every synthesizer here spends one zCDP budget rho (Bun and Steinke 2016),
calibrated so that its (epsilon, delta) conversion by the tightest accountant
of :mod:`veil.privacy` is the epsilon the user asked for. A :class:`Meter`
hands that budget out: each marginal is a vector of counts released with
veil's discrete Gaussian mechanism (L2 sensitivity 1: one person adds one to
one cell), each selection is veil's exponential mechanism (rho = epsilon**2 /
8, Cesar and Rogers 2021), and the meter refuses to spend past its budget.
The noise comes from OpenDP's exact samplers, never from a seeded generator.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from veil.errors import ParameterError
from veil.privacy import PrivacyLoss, ZCDPEvent, compose, zcdp_for_epsilon

__all__ = ["Meter", "NoisyMarginal", "calibrate_rho", "marginal_counts", "synthesis_loss"]

# The meter forgives rounding in the shares it is asked for, never more.
_SLACK = 1e-9


def calibrate_rho(epsilon: float, delta: float) -> float:
    """Largest zCDP rho whose (epsilon, delta) conversion is at most ``epsilon``.

    Starts from the closed-form zCDP conversion (Canonne, Kamath and Steinke
    2020) and checks it against every accountant of :func:`veil.privacy.compose`,
    so the ledger, which composes the same way, records at most ``epsilon``.
    """
    rho = zcdp_for_epsilon(epsilon, delta)
    for _ in range(100):
        if compose([PrivacyLoss.zcdp(rho)], delta).epsilon <= epsilon:
            return rho
        rho *= 1.0 - 1e-9
    raise ParameterError(f"cannot fit a zCDP budget to epsilon={epsilon!r}")  # pragma: no cover


def synthesis_loss(epsilon: float, delta: float, rho: float, selection_delta: float) -> PrivacyLoss:
    """The loss a synthesizer records: rho-zCDP, or (epsilon, delta)-DP with a selection.

    Without private category selection the fit is rho-zCDP and is recorded as
    such (its epsilon at ``delta`` for people). Category selection keeps a value
    only when its noisy count clears a threshold, which a brand-new value crosses
    with probability ``selection_delta``: the fit is then approximate zCDP
    (Bun and Steinke 2016, section 8), stated as (epsilon, delta)-DP only.
    """
    if selection_delta > 0:
        return PrivacyLoss.approximate(epsilon, delta)
    spent = compose([PrivacyLoss.zcdp(rho)], delta).epsilon
    return PrivacyLoss.zcdp(rho, epsilon=spent, delta=delta, event=ZCDPEvent(rho=rho))


def marginal_counts(
    codes: Mapping[str, np.ndarray], clique: Sequence[str], sizes: Mapping[str, int]
) -> np.ndarray:
    """Exact counts of every cell of the marginal on ``clique`` (C order), as int64."""
    shape = tuple(int(sizes[c]) for c in clique)
    if len(clique) == 1:
        return np.bincount(codes[clique[0]], minlength=shape[0]).astype(np.int64)
    flat = np.ravel_multi_index(tuple(codes[c] for c in clique), shape)
    return np.bincount(flat, minlength=math.prod(shape)).astype(np.int64)


@dataclass(frozen=True)
class NoisyMarginal:
    """One released marginal: its columns, noisy counts (C order) and noise scale."""

    clique: tuple[str, ...]
    values: np.ndarray
    sigma: float
    rho: float

    def linear_measurement(self) -> Any:
        """The same measurement as private-pgm's ``LinearMeasurement``."""
        from mbi import LinearMeasurement

        return LinearMeasurement(self.values.astype(np.float64), self.clique, stddev=self.sigma)


@dataclass
class Meter:
    """A zCDP budget and the measurements paid from it.

    Parameters
    ----------
    rho
        The whole budget of the fit, in zCDP.
    """

    rho: float
    spent: float = 0.0
    marginals: list[NoisyMarginal] = field(default_factory=list)
    selections: int = 0

    @property
    def left(self) -> float:
        return max(0.0, self.rho - self.spent)

    def _charge(self, rho: float) -> None:
        if rho <= 0 or not math.isfinite(rho):
            raise ParameterError(f"a measurement needs a positive rho; got {rho!r}")
        if self.spent + rho > self.rho * (1.0 + _SLACK):
            raise ParameterError(
                f"measurement of rho={rho:.6g} exceeds what is left of the fit's budget "
                f"({self.left:.6g} of {self.rho:.6g}); this is a bug in the synthesizer"
            )
        self.spent += rho

    def measure(
        self,
        codes: Mapping[str, np.ndarray],
        clique: Sequence[str],
        sizes: Mapping[str, int],
        rho: float,
    ) -> NoisyMarginal:
        """Release the marginal on ``clique`` with discrete Gaussian noise of zCDP ``rho``."""
        from veil.dp.mechanisms import DiscreteGaussianMechanism

        mechanism = DiscreteGaussianMechanism(sensitivity=1, rho=rho)
        spent = float(mechanism.privacy_loss.rho or rho)
        self._charge(spent)
        noisy = mechanism(marginal_counts(codes, clique, sizes))
        out = NoisyMarginal(tuple(clique), noisy, float(mechanism.scale), spent)
        self.marginals.append(out)
        return out

    def noisy_counts(self, counts: np.ndarray, rho: float) -> tuple[np.ndarray, float]:
        """Counts released with discrete Gaussian noise of zCDP ``rho``, and its scale."""
        from veil.dp.mechanisms import DiscreteGaussianMechanism

        mechanism = DiscreteGaussianMechanism(sensitivity=1, rho=rho)
        self._charge(float(mechanism.privacy_loss.rho or rho))
        return mechanism(np.asarray(counts, dtype=np.int64)), float(mechanism.scale)

    def select(self, scores: np.ndarray, rho: float, sensitivity: float) -> int:
        """Index chosen by the exponential mechanism of zCDP ``rho`` (McSherry and Talwar 2007).

        Picks i with probability proportional to exp(epsilon * s_i / (2 * sensitivity)),
        epsilon = sqrt(8 rho), which is rho-zCDP (Cesar and Rogers 2021).
        """
        from veil.dp.mechanisms import ExponentialMechanism

        mechanism = ExponentialMechanism(epsilon=math.sqrt(8.0 * rho), sensitivity=sensitivity)
        self._charge(float(mechanism.privacy_loss.rho or rho))
        self.selections += 1
        return mechanism(np.asarray(scores, dtype=np.float64))
