"""Local differential privacy for a federated client: it noises its own update.

Central DP-FedAvg (:mod:`veil.federated.privacy`) trusts the server to clip
and to add the noise. Here each site protects itself, whatever the server
does: it clips its model update to L2 norm C and adds Gaussian noise before
the update leaves the site, in every round it trains, up to the number of
rounds its budget covers, and then refuses to train. Nothing the server sends
can lower that noise: the site's own settings fix it (in a deployment, the
options of ``veil federate client``).

The unit protected is the site's whole data set: replacing it by any other
moves the clipped update anywhere in the ball of radius C, so the L2
sensitivity of one round is 2C, and with noise of standard deviation
``z * 2C`` a round is the Gaussian mechanism of multiplier z. R rounds compose
to the Gaussian mechanism of multiplier z / sqrt(R) exactly (Dong, Roth and
Su 2019), whose epsilon at delta the spine's accountants give. No amplification
by sampling is claimed: the server knows when the site took part.

Nothing else computed from the rows leaves a site under local DP: it reports
a weight of 1 instead of its number of rows, no training loss, and no
evaluation on its own rows (the server evaluates on a test table it holds).

Local noise adds up in the aggregate (the mean of m updates carries noise of
standard deviation ``2 z C / sqrt(m)``), so it costs more accuracy than central
noise for the same epsilon; it is what a site can enforce alone, and it works
unchanged with secure aggregation and with any strategy (the noisy update is
all anyone receives).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from veil.errors import ParameterError
from veil.privacy import GaussianEvent, PrivacyLoss, check_delta

__all__ = ["LocalPrivacy", "LocalPrivacyPlan", "local_epsilon", "plan_local_dp"]


def _gaussian_delta(epsilon: float, mu: float) -> float:
    """delta(epsilon) of the Gaussian mechanism of multiplier ``mu`` (Balle and Wang 2018, Thm 8).

    Phi(1/(2 mu) - epsilon mu) - e^epsilon Phi(-1/(2 mu) - epsilon mu), in log space.
    """
    from scipy.special import log_ndtr

    a = 1.0 / (2.0 * mu)
    return float(
        math.exp(log_ndtr(a - epsilon * mu)) - math.exp(epsilon + log_ndtr(-a - epsilon * mu))
    )


def local_epsilon(noise_multiplier: float, *, rounds: int, delta: float) -> float:
    """Epsilon at ``delta`` of ``rounds`` locally noised updates of multiplier ``noise_multiplier``.

    Exact: ``rounds`` Gaussian mechanisms of multiplier z compose to one of
    multiplier z / sqrt(rounds), whose tight epsilon is the analytic Gaussian
    mechanism's (Balle and Wang 2018), found by bisection to 1e-12.
    """
    mu = noise_multiplier / math.sqrt(rounds)
    if _gaussian_delta(0.0, mu) <= delta:
        return 0.0
    low, high = 0.0, 1.0
    while _gaussian_delta(high, mu) > delta:
        low, high = high, high * 2.0
    while high - low > 1e-12 * max(1.0, high):
        mid = (low + high) / 2.0
        if _gaussian_delta(mid, mu) > delta:
            low = mid
        else:
            high = mid
    return high


@dataclass(frozen=True)
class LocalPrivacyPlan:
    """A site's own guarantee: its noise, clip norm and how many rounds it covers."""

    noise_multiplier: float
    clipping_norm: float
    rounds: int
    epsilon: float
    delta: float

    @property
    def noise_std(self) -> float:
        """Standard deviation of the noise on each coordinate of the update: z * 2C."""
        return self.noise_multiplier * 2.0 * self.clipping_norm

    @property
    def loss(self) -> PrivacyLoss:
        """The loss of the whole budget of rounds, for the ledger."""
        event = GaussianEvent(noise_multiplier=self.noise_multiplier / math.sqrt(self.rounds))
        return PrivacyLoss(epsilon=self.epsilon, delta=self.delta, event=event)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "local (each site noises its own update)",
            "noise_multiplier": self.noise_multiplier,
            "noise_std": self.noise_std,
            "clipping_norm": self.clipping_norm,
            "rounds": self.rounds,
            "epsilon": self.epsilon,
            "delta": self.delta,
        }


def plan_local_dp(
    *,
    rounds: int,
    delta: float,
    epsilon: float | None = None,
    noise_multiplier: float | None = None,
    clipping_norm: float = 1.0,
) -> LocalPrivacyPlan:
    """The noise a site adds so that ``rounds`` of its updates are (epsilon, delta)-DP.

    Give exactly one of ``epsilon`` (the smallest multiplier that reaches it is
    found, to 1e-4 relative) and ``noise_multiplier``.

    Raises
    ------
    ParameterError
        Both or neither of epsilon and noise_multiplier, or a value out of range.
    """
    if (epsilon is None) == (noise_multiplier is None):
        raise ParameterError("give exactly one of epsilon and noise_multiplier for local DP")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ParameterError(f"local DP needs a positive number of rounds; got {rounds!r}")
    if not (isinstance(clipping_norm, (int, float)) and math.isfinite(clipping_norm)) or (
        clipping_norm <= 0
    ):
        raise ParameterError(f"clipping_norm must be a positive number; got {clipping_norm!r}")
    delta = check_delta(delta)
    if not 0 < delta < 1:
        raise ParameterError(f"local DP needs 0 < delta < 1; got {delta!r}")
    if noise_multiplier is not None:
        if not (isinstance(noise_multiplier, (int, float)) and noise_multiplier > 0) or not (
            math.isfinite(noise_multiplier)
        ):
            raise ParameterError(f"noise_multiplier must be > 0; got {noise_multiplier!r}")
        z = float(noise_multiplier)
    else:
        if not (isinstance(epsilon, (int, float)) and math.isfinite(epsilon) and epsilon > 0):
            raise ParameterError(f"local epsilon must be a positive number; got {epsilon!r}")
        z = _calibrate(float(epsilon), rounds=rounds, delta=delta)
    return LocalPrivacyPlan(
        noise_multiplier=z,
        clipping_norm=float(clipping_norm),
        rounds=rounds,
        epsilon=local_epsilon(z, rounds=rounds, delta=delta),
        delta=delta,
    )


def _calibrate(epsilon: float, *, rounds: int, delta: float) -> float:
    """Smallest multiplier (to 1e-4 relative) whose ``rounds`` rounds spend at most ``epsilon``."""
    low, high = 1e-3, 1.0
    while local_epsilon(high, rounds=rounds, delta=delta) > epsilon:
        low, high = high, high * 2.0
        if high > 1e7:
            raise ParameterError(f"local epsilon {epsilon!r} is too small to reach")
    while high - low > 1e-4 * high:
        mid = (low + high) / 2.0
        if local_epsilon(mid, rounds=rounds, delta=delta) > epsilon:
            low = mid
        else:
            high = mid
    return high


class LocalPrivacy:
    """A site's enforcement of its plan: clip, noise, count the rounds, refuse past them."""

    def __init__(self, plan: LocalPrivacyPlan) -> None:
        self.plan = plan
        self.rounds_done = 0
        self._gen = torch.Generator()

    def privatize(self, new: list[np.ndarray], old: list[np.ndarray]) -> list[np.ndarray]:
        """``old + clip(new - old, C) + noise``: what leaves the site this round.

        Raises
        ------
        ParameterError
            The site has already sent every round its budget covers.
        """
        from veil.federated.privacy import clip_update, gaussian_noise

        if self.rounds_done >= self.plan.rounds:
            raise ParameterError(
                f"this site's local privacy budget covers {self.plan.rounds} round(s), all "
                "spent; it trains no more (give a larger --local-rounds to a new run)"
            )
        clipped = clip_update(new, old, self.plan.clipping_norm)
        out = []
        for array in clipped:
            noise = gaussian_noise(array.size, self.plan.noise_std, self._gen)
            noisy = np.asarray(array, np.float64) + noise.reshape(array.shape)
            out.append(noisy.astype(np.asarray(array).dtype))
        self.rounds_done += 1
        return out
