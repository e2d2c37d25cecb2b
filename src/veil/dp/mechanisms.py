"""Noise-adding and selection mechanisms, each stating its privacy loss and error first.

Every mechanism here is a thin, checked front over an OpenDP 0.16 measurement:
OpenDP draws the noise with exact samplers (Canonne, Kamath and Steinke 2020)
and its privacy map gives the loss, so no noise comes from floating-point
``numpy.random`` draws, which leak (Mironov 2012). A mechanism is built from
its privacy parameter and the sensitivity of the query, and tells, before it
runs, its :attr:`~Mechanism.privacy_loss` and its :meth:`~Mechanism.accuracy`
(the half-width of a confidence interval for the noise).

Values may be a number or a numpy array; for an array the sensitivity is the
L1 (Laplace) or L2 (Gaussian) norm bound of the change of the whole vector.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from veil.errors import ParameterError
from veil.privacy import (
    DiscreteLaplaceEvent,
    Event,
    PrivacyLoss,
    check_delta,
    check_epsilon,
    zcdp_for_epsilon,
    zcdp_to_epsilon,
)

__all__ = [
    "DiscreteGaussianMechanism",
    "DiscreteLaplaceMechanism",
    "ExponentialMechanism",
    "GaussianMechanism",
    "LaplaceMechanism",
    "Mechanism",
    "ReportNoisyMax",
    "opendp",
]


def opendp() -> Any:
    """The OpenDP prelude with the "contrib" features (its vetted mechanisms) enabled."""
    import opendp.prelude as dp

    dp.enable_features("contrib")
    return dp


def _check_sensitivity(value: Any, *, integer: bool) -> float:
    try:
        s = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"sensitivity must be a positive number; got {value!r}") from None
    if not math.isfinite(s) or s <= 0:
        raise ParameterError(f"sensitivity must be positive and finite; got {value!r}")
    if integer and s != int(s):
        raise ParameterError(f"a discrete mechanism needs an integer sensitivity; got {value!r}")
    return s


def _calibrate(
    build: Any, sensitivity: Any, target: float, scale: float
) -> tuple[Any, float, float]:
    """Widen ``scale`` by ulps until OpenDP's privacy map is within ``target``."""
    for _ in range(64):
        measurement = build(scale)
        loss = float(measurement.map(sensitivity))
        if loss <= target:
            return measurement, loss, scale
        scale *= 1.0 + 1e-12
    raise ParameterError(f"cannot calibrate the noise to {target!r}")  # pragma: no cover


class Mechanism(ABC):
    """A differentially private mechanism with known loss and error before it runs."""

    name: str
    privacy_loss: PrivacyLoss

    @abstractmethod
    def accuracy(self, alpha: float) -> float:
        """Half-width ``a`` with P(|noise| >= a) = ``alpha`` for each released number."""

    def confidence_interval(self, value: float, alpha: float) -> tuple[float, float]:
        """The (1 - alpha) interval for the true value around a released ``value``."""
        a = self.accuracy(alpha)
        return (value - a, value + a)

    @abstractmethod
    def __call__(self, value: Any) -> Any:
        """Release ``value`` with noise."""

    def describe(self) -> dict[str, Any]:
        return {"mechanism": self.name, **self.privacy_loss.to_dict()}


def _check_alpha(alpha: float) -> float:
    if not 0.0 < float(alpha) < 1.0:
        raise ParameterError(f"alpha must be in (0, 1), e.g. 0.05 for 95%; got {alpha!r}")
    return float(alpha)


class _Additive(Mechanism):
    """Shared code of the four additive-noise mechanisms."""

    _integer: bool
    _gaussian: bool

    def __init__(self, sensitivity: float, scale: float) -> None:
        self.sensitivity = sensitivity
        self.scale = scale
        self._measurements: dict[bool, Any] = {}

    def _measurement(self, vector: bool) -> Any:
        if vector not in self._measurements:
            self._measurements[vector] = self._build(self.scale, vector=vector)
        return self._measurements[vector]

    def _build(self, scale: float, *, vector: bool) -> Any:
        dp = opendp()
        atom = dp.atom_domain(T="i64") if self._integer else dp.atom_domain(T=float, nan=False)
        kind = "i64" if self._integer else float
        if vector:
            domain = dp.vector_domain(atom)
            metric = dp.l2_distance(T=kind) if self._gaussian else dp.l1_distance(T=kind)
        else:
            domain, metric = atom, dp.absolute_distance(T=kind)
        make = dp.m.make_gaussian if self._gaussian else dp.m.make_laplace
        return make(domain, metric, scale=scale)

    def _d_in(self) -> Any:
        return int(self.sensitivity) if self._integer else float(self.sensitivity)

    def accuracy(self, alpha: float) -> float:
        dp = opendp()
        alpha = _check_alpha(alpha)
        if self._gaussian:
            if self._integer and self.scale > 1000.0:
                # OpenDP's exact discrete figure costs time linear in the scale. For
                # integer t >= 1, P(X >= t) <= P(N(0, scale^2) >= t - 1) (the pmf
                # decreases, and its normaliser is at least sqrt(2 pi) scale), so
                # the continuous half-width rounded up, plus one, is a valid one.
                cont = float(dp.gaussian_scale_to_accuracy(float(self.scale), alpha))
                return float(math.ceil(cont) + 1)
            f = dp.discrete_gaussian_scale_to_accuracy if self._integer else None
            f = f or dp.gaussian_scale_to_accuracy
        else:
            f = dp.discrete_laplacian_scale_to_accuracy if self._integer else None
            f = f or dp.laplacian_scale_to_accuracy
        tiny = self._integer and not self._gaussian and self.scale < 0.1
        a = math.inf if tiny else float(f(float(self.scale), alpha))
        if not math.isfinite(a) and self._integer and not self._gaussian:
            # OpenDP overflows for tiny scales. P(|X| >= t) = 2 e^(-t/s) / (1 + e^(-1/s))
            # for integer t >= 1: the smallest such t within alpha, less one.
            s = float(self.scale)
            t = max(1, math.ceil(-s * math.log(alpha * (1.0 + math.exp(-1.0 / s)) / 2.0)))
            return float(t - 1)
        return float(math.floor(a)) if self._integer else a

    def __call__(self, value: Any) -> Any:
        if isinstance(value, np.ndarray):
            dtype = np.int64 if self._integer else np.float64
            data = np.require(value, dtype=dtype, requirements=["C", "W"])
            if not self._integer and not np.all(np.isfinite(data)):
                raise ParameterError("the values to release contain NaN or infinity")
            return np.asarray(self._measurement(True)(data), dtype=dtype)
        if self._integer:
            if int(value) != value:
                raise ParameterError(f"{self.name} releases integers; got {value!r}")
            return int(self._measurement(False)(int(value)))
        value = float(value)
        if not math.isfinite(value):
            raise ParameterError(f"the value to release must be finite; got {value!r}")
        return float(self._measurement(False)(value))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "scale": self.scale, "sensitivity": self.sensitivity}


class LaplaceMechanism(_Additive):
    """Laplace mechanism: adds Laplace(sensitivity / epsilon) noise; epsilon-DP.

    Dwork, McSherry, Nissim and Smith 2006. OpenDP samples it exactly on a fine
    grid (``make_laplace``); its privacy map accounts for the rounding.

    Parameters
    ----------
    epsilon
        The privacy loss of one call.
    sensitivity
        How much one person can change the value (L1 norm for a vector).
    """

    name = "Laplace"
    _integer = False
    _gaussian = False

    def __init__(self, *, epsilon: float, sensitivity: float) -> None:
        eps = check_epsilon(epsilon)
        sens = _check_sensitivity(sensitivity, integer=self._integer)
        super().__init__(sens, sens / eps)
        scalar, loss, self.scale = _calibrate(
            lambda s: self._build(s, vector=False), self._d_in(), eps, self.scale
        )
        self._measurements[False] = scalar
        self.privacy_loss = PrivacyLoss.pure(loss, event=self._event())

    def _event(self) -> Event | None:
        return None  # a float grid has a huge integer sensitivity: no PLD event


class DiscreteLaplaceMechanism(LaplaceMechanism):
    """Discrete Laplace (two-sided geometric) mechanism on integers; epsilon-DP.

    Ghosh, Roughgarden and Sundararajan 2009; exact sampler of Canonne, Kamath
    and Steinke 2020. P(noise = x) is proportional to exp(-|x| / scale).
    """

    name = "discrete Laplace"
    _integer = True

    def _event(self) -> Event | None:
        return DiscreteLaplaceEvent(
            noise_parameter=1.0 / self.scale, sensitivity=int(self.sensitivity)
        )


class GaussianMechanism(_Additive):
    """Gaussian mechanism: adds N(0, sigma^2) noise; rho-zCDP with rho = (sens/sigma)^2 / 2.

    Bun and Steinke 2016 for the zCDP statement; OpenDP's exact sampler. Give
    ``rho``, or ``epsilon`` and ``delta`` (> 0), which are turned into the
    largest rho whose (epsilon, delta) conversion fits (Canonne et al. 2020).

    Parameters
    ----------
    sensitivity
        L2 norm bound of the change one person can make.
    rho, epsilon, delta
        The privacy parameter: ``rho`` alone, or ``epsilon`` with ``delta``.
    """

    name = "Gaussian"
    _integer = False
    _gaussian = True

    def __init__(
        self,
        *,
        sensitivity: float,
        rho: float | None = None,
        epsilon: float | None = None,
        delta: float | None = None,
    ) -> None:
        sens = _check_sensitivity(sensitivity, integer=self._integer)
        if rho is None:
            if epsilon is None or delta is None:
                raise ParameterError("the Gaussian mechanism needs rho, or epsilon and delta")
            eps, dlt = check_epsilon(epsilon), check_delta(delta)
            rho = zcdp_for_epsilon(eps, dlt)
        else:
            rho = check_epsilon(rho, name="rho")
            dlt = check_delta(delta) if delta is not None else 0.0
        super().__init__(sens, sens / math.sqrt(2.0 * rho))
        scalar, loss, self.scale = _calibrate(
            lambda s: self._build(s, vector=False), self._d_in(), rho, self.scale
        )
        self._measurements[False] = scalar
        eps_at = zcdp_to_epsilon(loss, dlt) if dlt > 0 else None
        self.privacy_loss = PrivacyLoss.zcdp(loss, epsilon=eps_at, delta=dlt)


class DiscreteGaussianMechanism(GaussianMechanism):
    """Discrete Gaussian mechanism on integers; rho-zCDP (Canonne, Kamath and Steinke 2020)."""

    name = "discrete Gaussian"
    _integer = True


class _Selection(Mechanism):
    """Private choice of the index of the best score (Dwork and Roth 2014, section 3.4)."""

    def __init__(self, *, epsilon: float, sensitivity: float, monotonic: bool) -> None:
        self.epsilon = check_epsilon(epsilon)
        self.sensitivity = _check_sensitivity(sensitivity, integer=False)
        self.monotonic = bool(monotonic)
        # One person moves every score by at most `sensitivity`; scores that all
        # move the same way (monotonic) halve the loss.
        self.scale = (1.0 if self.monotonic else 2.0) * self.sensitivity / self.epsilon

    def _space(self) -> tuple[Any, Any]:
        dp = opendp()
        domain = dp.vector_domain(dp.atom_domain(T=float, nan=False))
        return domain, dp.linf_distance(T=float, monotonic=self.monotonic)

    def accuracy(self, alpha: float) -> float:
        """Score gap: with probability 1 - alpha the chosen score is within it of the best.

        For k candidates the gap is scale * log(k / alpha) (McSherry and Talwar
        2007); :meth:`score_gap` takes k. This method assumes k = 2.
        """
        return self.score_gap(2, alpha)

    def score_gap(self, candidates: int, alpha: float) -> float:
        return self.scale * math.log(candidates / _check_alpha(alpha))

    def __call__(self, scores: Any) -> int:
        data = np.require(scores, dtype=np.float64, requirements=["C", "W"])
        if data.ndim != 1 or data.size == 0:
            raise ParameterError("scores must be a non-empty one-dimensional array")
        if not np.all(np.isfinite(data)):
            raise ParameterError("scores must be finite numbers")
        return int(self._measurement(data))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "scale": self.scale, "sensitivity": self.sensitivity}


class ExponentialMechanism(_Selection):
    """Exponential mechanism: picks index i with probability proportional to exp(s_i / scale).

    McSherry and Talwar 2007, sampled as report-noisy-max with Gumbel noise
    (OpenDP ``make_noisy_max`` under zCDP). With scale = 2 * sensitivity /
    epsilon (sensitivity / epsilon for monotonic scores) it is epsilon-DP, and
    also rho-zCDP with rho = epsilon**2 / 8 (Cesar and Rogers 2021).
    """

    name = "exponential"

    def __init__(self, *, epsilon: float, sensitivity: float, monotonic: bool = False) -> None:
        super().__init__(epsilon=epsilon, sensitivity=sensitivity, monotonic=monotonic)
        dp = opendp()
        self._measurement = dp.m.make_noisy_max(
            *self._space(), dp.zero_concentrated_divergence(), scale=self.scale
        )
        rho = float(self._measurement.map(self.sensitivity))
        self.privacy_loss = PrivacyLoss(epsilon=self.epsilon, rho=rho)


class ReportNoisyMax(_Selection):
    """Report-noisy-max with exponential noise (equivalently permute-and-flip); epsilon-DP.

    McKenna and Sheldon 2020; Ding et al. 2021. Never worse than the
    exponential mechanism in expected score (OpenDP ``make_noisy_max``).
    """

    name = "report noisy max"

    def __init__(self, *, epsilon: float, sensitivity: float, monotonic: bool = False) -> None:
        super().__init__(epsilon=epsilon, sensitivity=sensitivity, monotonic=monotonic)
        dp = opendp()
        self._measurement = dp.m.make_noisy_max(
            *self._space(), dp.max_divergence(), scale=self.scale
        )
        loss = float(self._measurement.map(self.sensitivity))
        self.privacy_loss = PrivacyLoss.pure(loss)
