"""The noise multiplier of DP-SGD for a target epsilon: the smallest sigma that stays within it.

Epsilon falls as the noise multiplier sigma grows, so the answer is a root
search on ``log epsilon(log sigma) = log target``. Each evaluation of the PLD
accountant over thousands of steps costs up to a second, so the search is
bracketed first with the RDP accountant (tens of milliseconds, and never below
PLD: RDP's sigma is an upper end), then finished on the chosen accountant by
regula falsi with the Illinois modification (Dowell and Jarratt 1971), which
needs a handful of evaluations; every evaluation is cached.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
from collections.abc import Callable, Iterator
from typing import Any

from veil.errors import ParameterError
from veil.privacy import PoissonSampledGaussianEvent, PrivacyLoss, check_delta, get_accountant
from veil.privacy.accountants import PLDAccountant

__all__ = ["MAX_NOISE_MULTIPLIER", "calibrate_noise_multiplier", "dp_sgd_epsilon"]

#: The largest noise multiplier calibration considers; beyond it the gradient is all noise.
MAX_NOISE_MULTIPLIER = 100.0
_MIN_NOISE_MULTIPLIER = 0.05
# Land in [target * (1 - _TOLERANCE), target]: at or just under the target.
_TOLERANCE = 0.008


@functools.lru_cache(maxsize=4096)
def dp_sgd_epsilon(
    noise_multiplier: float,
    *,
    delta: float,
    sampling_probability: float,
    steps: int,
    accountant: str = "pld",
) -> float:
    """Epsilon at ``delta`` of ``steps`` Poisson-sampled Gaussian steps, by ``accountant``.

    Returns ``math.inf`` when the accountant cannot bound the event.
    """
    event = PoissonSampledGaussianEvent(
        noise_multiplier=noise_multiplier, sampling_probability=sampling_probability, steps=steps
    )
    # A loss that carries only the event (its placeholder epsilon is never read:
    # the RDP and PLD accountants compose the event itself).
    carrier = PrivacyLoss(epsilon=1.0, delta=0.0, event=event)
    return get_accountant(accountant).epsilon([carrier], delta)


def _search(
    eps: Callable[[float], float],
    lo: float,
    hi: float,
    target: float,
    f_lo: float,
    f_hi: float,
    tol: float,
) -> float:
    """Illinois regula falsi on log-log between lo (eps > target) and hi (eps <= target)."""
    g_lo, g_hi = math.log(f_lo / target), math.log(f_hi / target)
    side = 0
    for _ in range(60):
        if f_hi >= target * (1 - tol) or hi / lo - 1 < 1e-6:
            break
        x_lo, x_hi = math.log(lo), math.log(hi)
        x = x_hi - g_hi * (x_hi - x_lo) / (g_hi - g_lo)
        if not x_lo < x < x_hi:
            x = (x_lo + x_hi) / 2
        mid = math.exp(x)
        f_mid = eps(mid)
        g_mid = math.log(f_mid / target) if math.isfinite(f_mid) else math.inf
        if g_mid > 0:
            lo, g_lo = mid, g_mid
            if side == -1:
                g_hi /= 2
            side = -1
        else:
            hi, f_hi, g_hi = mid, f_mid, g_mid
            if side == 1:
                g_lo /= 2
            side = 1
    return hi


def calibrate_noise_multiplier(
    target_epsilon: float,
    *,
    delta: float,
    sampling_probability: float,
    steps: int,
    accountant: str = "pld",
) -> float:
    """The smallest noise multiplier whose DP-SGD epsilon is at most ``target_epsilon``.

    The answer's epsilon lands at or just under the target (within 0.8%).

    Parameters
    ----------
    target_epsilon
        The epsilon to reach at ``delta``.
    delta
        In (0, 1).
    sampling_probability
        Poisson sampling rate q = expected batch size / number of rows.
    steps
        Number of noisy steps (epochs * round(1/q)).
    accountant
        A name in :data:`veil.privacy.ACCOUNTANTS` that bounds subsampled
        Gaussians: "pld" (tightest) or "rdp".

    Raises
    ------
    ParameterError
        A parameter is out of range, the accountant cannot bound DP-SGD, or
        the target needs more noise than ``MAX_NOISE_MULTIPLIER`` (the message
        says what to change: fewer epochs, a smaller batch, a larger epsilon
        or delta).
    """
    if (
        not isinstance(target_epsilon, (int, float))
        or not target_epsilon > 0
        or not math.isfinite(target_epsilon)
    ):
        raise ParameterError(f"target epsilon must be a positive number; got {target_epsilon!r}")
    delta = check_delta(delta)
    if delta == 0.0:
        raise ParameterError("DP-SGD needs delta > 0 (e.g. 1e-5, below 1 / number of rows)")
    if not 0.0 < sampling_probability <= 1.0:
        raise ParameterError(
            f"sampling_probability must be in (0, 1]; got {sampling_probability!r}"
        )
    if int(steps) != steps or steps < 1:
        raise ParameterError(f"steps must be a positive integer; got {steps!r}")
    get_accountant(accountant)
    setting = dict(delta=delta, sampling_probability=float(sampling_probability), steps=int(steps))
    with _quiet_absl():
        return _calibrate(float(target_epsilon), accountant, setting)


@contextlib.contextmanager
def _quiet_absl() -> Iterator[None]:
    """Silence dp-accounting's warnings about RDP orders it skips at small sigma."""
    log = logging.getLogger("absl")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


@functools.lru_cache(maxsize=4096)
def _coarse_pld(
    noise_multiplier: float, delta: float, sampling_probability: float, steps: int
) -> float:
    """PLD epsilon on a 10x coarser grid: ten times faster, an upper bound within ~0.5%."""
    event = PoissonSampledGaussianEvent(
        noise_multiplier=noise_multiplier, sampling_probability=sampling_probability, steps=steps
    )
    carrier = PrivacyLoss(epsilon=1.0, delta=0.0, event=event)
    return PLDAccountant(value_discretization_interval=1e-3).epsilon([carrier], delta)


def _bisect(eps: Callable[[float], float], target: float, ratio: float) -> tuple[float, float]:
    """(lo, hi) with eps(lo) > target >= eps(hi) and hi / lo <= ratio, searching from sigma 1."""
    lo = hi = 1.0
    if eps(1.0) <= target:
        while lo > _MIN_NOISE_MULTIPLIER and eps(lo) <= target:
            hi, lo = lo, max(_MIN_NOISE_MULTIPLIER, lo / 2)
        if eps(lo) <= target:
            return lo, lo
    else:
        while eps(hi) > target:
            lo, hi = hi, min(MAX_NOISE_MULTIPLIER, hi * 2)
    while hi / lo > ratio:
        mid = math.sqrt(lo * hi)
        lo, hi = (lo, mid) if eps(mid) <= target else (mid, hi)
    return lo, hi


def _refine(
    eps: Callable[[float], float], lo: float, hi: float, target: float, tol: float
) -> float:
    """From a bracket guess, the sigma whose eps lands in [target (1 - tol), target]."""
    f_hi = eps(hi)
    while f_hi > target:  # the guess was too low for this accountant: walk up
        lo, hi = hi, min(MAX_NOISE_MULTIPLIER, hi * 1.05)
        f_hi = eps(hi)
    if f_hi >= target * (1 - tol):
        return hi
    f_lo = eps(lo)
    while f_lo <= target:
        if lo <= _MIN_NOISE_MULTIPLIER:
            return lo  # even the least noise considered stays within the target
        hi, f_hi = lo, f_lo
        if f_hi >= target * (1 - tol):
            return hi
        lo = max(_MIN_NOISE_MULTIPLIER, lo * 0.95)
        f_lo = eps(lo)
    return _search(eps, lo, hi, target, f_lo, f_hi, tol)


def _calibrate(target: float, accountant: str, setting: dict[str, Any]) -> float:
    def eps(s: float) -> float:
        return dp_sgd_epsilon(s, accountant=accountant, **setting)

    def rdp(s: float) -> float:
        return dp_sgd_epsilon(s, accountant="rdp", **setting)

    def unreachable() -> ParameterError:
        at_max = eps(MAX_NOISE_MULTIPLIER)
        if not math.isfinite(at_max):
            return ParameterError(
                f"accountant {accountant!r} cannot bound a Poisson-sampled Gaussian; "
                "use 'pld' or 'rdp'"
            )
        return ParameterError(
            f"target epsilon {target:g} is unreachable: even noise_multiplier "
            f"{MAX_NOISE_MULTIPLIER:g} gives epsilon {at_max:.3g} at delta "
            f"{setting['delta']:g} over {setting['steps']} steps with sampling probability "
            f"{setting['sampling_probability']:.3g}; train fewer epochs, use a smaller "
            "batch_size, or allow a larger epsilon or delta"
        )

    if rdp(1.0) > target and rdp(MAX_NOISE_MULTIPLIER) > target:
        if accountant == "rdp" or eps(MAX_NOISE_MULTIPLIER) > target:
            raise unreachable()
        return _refine(eps, MAX_NOISE_MULTIPLIER / 1.05, MAX_NOISE_MULTIPLIER, target, _TOLERANCE)
    if accountant == "rdp":
        lo, hi = _bisect(rdp, target, 1.01)
        return _refine(rdp, lo, hi, target, _TOLERANCE)
    # RDP's epsilon is never below PLD's, so its sigma is an upper end of the search;
    # the coarse PLD narrows it cheaply and the accountant itself finishes.
    lo, hi = _bisect(rdp, target, 1.05)
    if accountant == "pld":
        coarse = functools.partial(_coarse_pld, **setting)
        hi = _refine(coarse, hi / 1.3, hi, target, _TOLERANCE / 2)
        lo = hi / 1.01
    return _refine(eps, lo, hi, target, _TOLERANCE)
