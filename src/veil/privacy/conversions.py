"""Conversions between the languages of privacy loss: zCDP, Rényi DP and (epsilon, delta)."""

from __future__ import annotations

import math

from veil.errors import ParameterError

__all__ = ["zcdp_for_epsilon", "zcdp_to_epsilon"]


def zcdp_to_epsilon(rho: float, delta: float) -> float:
    """Smallest epsilon such that rho-zCDP implies (epsilon, delta)-DP.

    The better of Bun and Steinke 2016 (Prop. 1.3: rho + 2 sqrt(rho log 1/delta))
    and Canonne, Kamath and Steinke 2020 (Prop. 12, minimised over the Rényi order).
    """
    if rho == 0.0:
        return 0.0
    if delta <= 0.0:
        return math.inf
    log_inv = math.log(1.0 / delta)
    best = rho + 2.0 * math.sqrt(rho * log_inv)

    def cks(alpha: float) -> float:
        return rho * alpha + (
            log_inv + (alpha - 1.0) * math.log1p(-1.0 / alpha) - math.log(alpha)
        ) / (alpha - 1.0)

    # The bound is unimodal in log(alpha - 1): golden-section search on it.
    lo, hi = math.log(1e-6), math.log(1e6)
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    for _ in range(100):
        a = hi - ratio * (hi - lo)
        b = lo + ratio * (hi - lo)
        if cks(1.0 + math.exp(a)) < cks(1.0 + math.exp(b)):
            hi = b
        else:
            lo = a
    return max(0.0, min(best, cks(1.0 + math.exp((lo + hi) / 2.0))))


def zcdp_for_epsilon(epsilon: float, delta: float) -> float:
    """Largest rho whose (epsilon, delta) conversion stays within ``epsilon`` (bisection)."""
    if delta <= 0.0:
        raise ParameterError(
            "the Gaussian mechanism needs delta > 0; use the Laplace mechanism for delta = 0"
        )
    lo, hi = 0.0, epsilon
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if zcdp_to_epsilon(mid, delta) <= epsilon:
            lo = mid
        else:
            hi = mid
    return lo
