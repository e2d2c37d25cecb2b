"""Client-level differential privacy for federated averaging (DP-FedAvg).

McMahan et al. (2018), "Learning differentially private recurrent language
models": each round every client joins with probability q (Poisson sampling
of clients), each participant's model update is clipped to L2 norm at most C,
the clipped updates are summed, Gaussian noise of standard deviation z C is
added, and the sum is divided by the expected number of participants q N.
One client's whole data set is the unit protected, and a run of T rounds is
exactly DP-SGD over clients: T Poisson-sampled Gaussian mechanisms, whose
epsilon the spine's accountants compute (:mod:`veil.privacy`), and which the
ledger reserves before round 1.

Adaptive clipping (Andrew et al. 2021, "Differentially private learning with
adaptive clipping"): each participant also reports whether its update fitted
under C; the noisy fraction b moves C geometrically toward the
``target_quantile`` of the update norms, C <- C exp(-eta (b - gamma)). The
count noise (std sigma_b) costs privacy too; the update noise is raised to
z_delta = (z^-2 - (2 sigma_b)^-2)^(-1/2) so that both together are accounted
as one Gaussian of multiplier z (their Theorem 1).

The noise comes from the operating system's cryptographic source (a torch
generator reseeded with fresh OS bits before each draw), never a seeded one.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from flwr.common import FitIns, Parameters, parameters_to_ndarrays

from veil.errors import ParameterError
from veil.federated.strategies import StrategyWrapper, fit_result
from veil.privacy import PoissonSampledGaussianEvent, PrivacyLoss, check_delta, get_accountant
from veil.randomness import bernoulli

__all__ = ["DPFedAvg", "DPPlan", "dp_fedavg_epsilon", "plan_dp"]

log = logging.getLogger("veil.federated")

#: Strategies whose aggregate DP-FedAvg can feed (a mean update, then a server step).
DP_STRATEGIES = ("fedavg", "fedprox", "fedadam", "fedyogi")


def dp_fedavg_epsilon(
    noise_multiplier: float,
    *,
    sampling_probability: float,
    rounds: int,
    delta: float,
    accountant: str = "pld",
) -> float:
    """Epsilon at ``delta`` of ``rounds`` DP-FedAvg rounds (Poisson-sampled Gaussian)."""
    from veil.learn.calibration import dp_sgd_epsilon

    return dp_sgd_epsilon(
        float(noise_multiplier),
        delta=delta,
        sampling_probability=float(sampling_probability),
        steps=int(rounds),
        accountant=accountant,
    )


@dataclass(frozen=True)
class DPPlan:
    """The noise and the privacy loss of a DP-FedAvg run, fixed before round 1."""

    noise_multiplier: float
    clipping_norm: float
    sampling_probability: float
    expected_clients: float
    rounds: int
    epsilon: float
    delta: float
    accountant: str
    adaptive: bool
    clipped_count_stddev: float | None

    @property
    def event(self) -> PoissonSampledGaussianEvent:
        return PoissonSampledGaussianEvent(
            noise_multiplier=self.noise_multiplier,
            sampling_probability=self.sampling_probability,
            steps=self.rounds,
        )

    @property
    def loss(self) -> PrivacyLoss:
        return PrivacyLoss(epsilon=self.epsilon, delta=self.delta, event=self.event)

    @property
    def update_noise_multiplier(self) -> float:
        """z_delta: the update's own noise (raised when the clipped count takes a share)."""
        if not self.adaptive:
            return self.noise_multiplier
        sb = self.clipped_count_stddev
        return (self.noise_multiplier**-2 - (2 * sb) ** -2) ** -0.5  # type: ignore[operator]

    def to_dict(self) -> dict[str, Any]:
        return {
            "noise_multiplier": self.noise_multiplier,
            "update_noise_multiplier": self.update_noise_multiplier,
            "clipping_norm": self.clipping_norm,
            "sampling_probability": self.sampling_probability,
            "expected_clients": self.expected_clients,
            "rounds": self.rounds,
            "epsilon": self.epsilon,
            "delta": self.delta,
            "accountant": self.accountant,
            "adaptive_clipping": self.adaptive,
            "clipped_count_stddev": self.clipped_count_stddev,
        }


def plan_dp(
    *,
    total_clients: int,
    clients_per_round: int,
    rounds: int,
    delta: float,
    epsilon: float | None = None,
    noise_multiplier: float | None = None,
    clipping_norm: float = 1.0,
    adaptive: bool = False,
    clipped_count_stddev: float | None = None,
    accountant: str = "pld",
) -> DPPlan:
    """Calibrate (or check) the noise of a DP-FedAvg run and state its epsilon.

    Parameters
    ----------
    total_clients, clients_per_round, rounds
        N, the expected participants m (q = m / N) and T.
    delta
        The delta of the client-level guarantee; below 1 / N.
    epsilon, noise_multiplier
        Exactly one: a target epsilon (the smallest z that reaches it is
        found) or the noise multiplier z itself.
    clipping_norm
        C (the initial C with adaptive clipping).
    adaptive, clipped_count_stddev
        Adaptive clipping and the std of the noise on the count of clipped
        updates (default m / 20, Andrew et al.'s choice).
    accountant
        "pld" or "rdp".

    Raises
    ------
    ParameterError
        A parameter out of range, or the count noise too small for the target.
    """
    if (epsilon is None) == (noise_multiplier is None):
        raise ParameterError("give exactly one of epsilon and noise_multiplier for DP-FedAvg")
    if not 1 <= clients_per_round <= total_clients:
        raise ParameterError(
            f"clients per round must be in 1..{total_clients} (the clients); "
            f"got {clients_per_round}"
        )
    if not (isinstance(rounds, int) and rounds >= 1):
        raise ParameterError(f"rounds must be a positive integer; got {rounds!r}")
    if not clipping_norm > 0:
        raise ParameterError(f"clipping_norm must be > 0; got {clipping_norm!r}")
    delta = check_delta(delta)
    if not 0 < delta < 1:
        raise ParameterError(f"DP-FedAvg needs 0 < delta < 1, below 1 / clients; got {delta!r}")
    get_accountant(accountant)
    q = clients_per_round / total_clients
    if noise_multiplier is None:
        from veil.learn.calibration import calibrate_noise_multiplier

        if not (isinstance(epsilon, (int, float)) and epsilon > 0):
            raise ParameterError(f"epsilon must be a positive number; got {epsilon!r}")
        z = calibrate_noise_multiplier(
            float(epsilon), delta=delta, sampling_probability=q, steps=rounds, accountant=accountant
        )
    else:
        if not noise_multiplier > 0:
            raise ParameterError(f"noise_multiplier must be > 0; got {noise_multiplier!r}")
        z = float(noise_multiplier)
    sb = None
    if adaptive:
        sb = (
            float(clipped_count_stddev)
            if clipped_count_stddev is not None
            else clients_per_round / 20
        )
        if not 2 * sb > z:
            raise ParameterError(
                f"adaptive clipping needs a count noise std above z / 2 = {z / 2:.3g} "
                f"(got {sb:g}); "
                "raise clipped_count_stddev or sample more clients per round"
            )
    eps = dp_fedavg_epsilon(
        z, sampling_probability=q, rounds=rounds, delta=delta, accountant=accountant
    )
    return DPPlan(
        noise_multiplier=z,
        clipping_norm=float(clipping_norm),
        sampling_probability=q,
        expected_clients=float(clients_per_round),
        rounds=rounds,
        epsilon=eps,
        delta=delta,
        accountant=accountant,
        adaptive=adaptive,
        clipped_count_stddev=sb,
    )


def gaussian_noise(size: int, std: float, gen: torch.Generator) -> np.ndarray:
    """``size`` draws of N(0, std^2), ``gen`` reseeded from the OS first (never a seed)."""
    from veil.learn.sampling import reseed

    reseed(gen)
    return (torch.randn(size, generator=gen, dtype=torch.float64) * std).numpy()


class DPFedAvg(StrategyWrapper):
    """Client-level DP around a strategy: Poisson-sampled clients, clipped updates, noisy mean.

    Parameters
    ----------
    strategy
        Receives the noisy mean model as one result and takes its server step
        (FedAvg keeps it; FedAdam/FedYogi apply their optimizer to it).
    plan
        The noise and clipping of the run (:func:`plan_dp`).
    target_quantile, clip_learning_rate
        gamma and eta of adaptive clipping.

    Notes
    -----
    Each round is released whatever the number of participants, even none
    (then the update is pure noise): skipping an empty round would reveal the
    sample's size, which the accounting assumes hidden.
    """

    def __init__(
        self,
        strategy: Any,
        plan: DPPlan,
        *,
        target_quantile: float = 0.5,
        clip_learning_rate: float = 0.2,
    ) -> None:
        super().__init__(strategy)
        self.plan = plan
        self.clipping_norm = plan.clipping_norm
        self.target_quantile = float(target_quantile)
        self.clip_learning_rate = float(clip_learning_rate)
        self.current: list[np.ndarray] | None = None
        self.norms: dict[int, list[float]] = {}
        self._gen = torch.Generator()

    def configure_fit(self, server_round: int, parameters: Parameters, client_manager: Any) -> Any:
        self.current = [np.asarray(a, dtype=np.float64) for a in parameters_to_ndarrays(parameters)]
        template = self.strategy.configure_fit(server_round, parameters, client_manager)
        config = dict(template[0][1].config) if template else {}
        config["clip_norm"] = float(self.clipping_norm)
        proxies = sorted(client_manager.all().values(), key=lambda p: str(p.cid))
        chosen = bernoulli(self.plan.sampling_probability, len(proxies))
        ins = FitIns(parameters, config)
        return [(p, ins) for p, take in zip(proxies, chosen, strict=True) if take]

    def aggregate_fit(self, server_round: int, results: Any, failures: Any) -> Any:
        if self.current is None:
            raise ParameterError("DPFedAvg.aggregate_fit before configure_fit")
        flat_current = np.concatenate([a.ravel() for a in self.current])
        total = np.zeros_like(flat_current)
        fitted, norms = 0, []
        for _, res in results:
            new = np.concatenate(
                [np.asarray(a, np.float64).ravel() for a in parameters_to_ndarrays(res.parameters)]
            )
            delta = new - flat_current
            norm = float(np.linalg.norm(delta))
            norms.append(norm)
            fitted += norm <= self.clipping_norm
            total += delta * min(1.0, self.clipping_norm / norm) if norm > 0 else 0.0
        self.norms[server_round] = norms
        z = self.plan.update_noise_multiplier
        total += gaussian_noise(total.size, z * self.clipping_norm, self._gen)
        mean = total / self.plan.expected_clients
        arrays, start = [], 0
        for a in self.current:
            arrays.append(
                (a.ravel() + mean[start : start + a.size]).reshape(a.shape).astype(np.float32)
            )
            start += a.size
        if self.plan.adaptive:
            sb = self.plan.clipped_count_stddev
            count_noise = float(gaussian_noise(1, sb, self._gen)[0])  # type: ignore[arg-type]
            noisy = (fitted + count_noise) / self.plan.expected_clients
            self.clipping_norm *= math.exp(
                -self.clip_learning_rate * (noisy - self.target_quantile)
            )
        proxy = results[0][0] if results else None
        return self.strategy.aggregate_fit(server_round, [(proxy, fit_result(arrays, 1, {}))], [])


def clip_update(new: list[np.ndarray], old: list[np.ndarray], norm: float) -> list[np.ndarray]:
    """``old + clip(new - old, norm)``: a client's own clipping before it sends."""
    deltas = [
        np.asarray(n, np.float64) - np.asarray(o, np.float64) for n, o in zip(new, old, strict=True)
    ]
    size = math.sqrt(sum(float((d**2).sum()) for d in deltas))
    scale = min(1.0, norm / size) if size > 0 else 1.0
    return [
        (np.asarray(o, np.float64) + d * scale).astype(np.asarray(n).dtype)
        for n, o, d in zip(new, old, deltas, strict=True)
    ]
