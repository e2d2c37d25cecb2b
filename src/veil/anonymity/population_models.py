"""Estimators of how many people are unique in the population, from a sample's class sizes.

Each model reads only the sample's equivalence-class size histogram (how many
classes hold 1, 2, 3... records), the sample size ``n`` and the population
size ``N`` (``n / N`` is the sampling fraction), and returns its estimate of
the number of population uniques, or None when it has none. They follow ARX's
``RiskModelPopulationUniqueness`` (Prasser et al.; ARX 3.9.2) step for step, so
that their figures agree with ARX's:

- :func:`pitman_uniques`: Pitman's (1996) two-parameter Poisson-Dirichlet
  superpopulation, fitted by maximum likelihood; population uniques
  ``Γ(θ+1) / Γ(θ+α) · N^α`` (Hoshino 2001).
- :func:`zayatz_uniques`: Zayatz (1991): each sample unique is a population
  unique with a probability computed from hypergeometric sampling, taking the
  sample's class-size distribution for the population's.
- :func:`snb_uniques`: Chen and McNulty's (1998) slide negative binomial: a
  population class of size F has F - 1 ~ NB(α, β); α and β are fitted to the
  sample's classes of size 1 and 2; population uniques ``K β^α``, with the
  number of non-empty population classes K from Haas et al.'s (1995) third
  Shlosser estimator.

The maximum-likelihood and moment equations are solved by Newton-Raphson as in
ARX (accuracy 1e-6 on the equations, 1,000 iterations per try, 10,000 in all,
restarts from random fractions of the start) with two differences: the
restarts draw from a seeded generator, so results are reproducible, and there
are no time limits, so they do not depend on the machine's speed.

ARX 3.9.2's SNB differs from Chen and McNulty in two places: its equation for
the expected classes of size 2 multiplies by ``(1 - d)^(α+2)`` where the model
divides by it (its Jacobian is that of the divided form), and its Shlosser
estimator subtracts 1 per distinct class size where it should subtract
``(1-f)^i`` per class. With them the solver rarely converges and ARX reports
SNB as not available. ``variant="paper"`` (the default) solves the model's
own equations; ``variant="arx"`` reproduces ARX.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = [
    "ACCURACY",
    "digamma",
    "pitman_uniques",
    "snb_expected_classes",
    "snb_uniques",
    "trigamma",
    "zayatz_uniques",
]

#: Newton-Raphson stops when both equations are within this of zero (ARX's default).
ACCURACY = 1e-6
ITERATIONS_PER_TRY = 1000
ITERATIONS_TOTAL = 10_000

Score = Callable[[float, float], tuple[float, float, float, float, float, float]]


def _reduce(x: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reflect negative x to 1 - x, then raise it to >= 16 by the recurrence.

    Returns the mask of negative x, the raised argument z and the recurrence
    terms ``Σ 1/x^order`` taken off on the way, all of ``x``'s shape.
    """
    negative = x < 0
    z = np.atleast_1d(np.where(negative, 1 - x, x)).copy()
    taken = np.zeros_like(z)
    small = z < 16
    while small.any():
        taken[small] += 1 / z[small] ** order
        z[small] += 1
        small = z < 16
    return negative, z.reshape(x.shape), taken.reshape(x.shape)


def digamma(x: np.ndarray | float) -> np.ndarray:
    """The digamma function ψ(x) = Γ'(x)/Γ(x), elementwise, to about 1e-15 relative.

    Reflection ``ψ(x) = ψ(1 - x) - π / tan(πx)`` for negative x, the recurrence
    ``ψ(x) = ψ(x + 1) - 1/x`` up to x >= 16, then the asymptotic series.
    Poles (0, -1, -2...) give NaN or infinity.
    """
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        negative, z, taken = _reduce(x, 1)
        z2 = 1 / (z * z)
        series = z2 * (1 / 12 - z2 * (1 / 120 - z2 * (1 / 252 - z2 * (1 / 240 - z2 * (1 / 132)))))
        value = np.log(z) - 0.5 / z - series - taken
        return np.where(negative, value - np.pi / np.tan(np.pi * x), value)


def trigamma(x: np.ndarray | float) -> np.ndarray:
    """The trigamma function ψ'(x), elementwise, to about 1e-15 relative.

    Reflection ``ψ'(x) = π² / sin²(πx) - ψ'(1 - x)`` for negative x, the
    recurrence ``ψ'(x) = ψ'(x + 1) + 1/x²`` up to x >= 16, then the asymptotic series.
    """
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        negative, z, taken = _reduce(x, 2)
        z2 = 1 / (z * z)
        bernoulli = z2 / z * (1 / 6 - z2 * (1 / 30 - z2 * (1 / 42 - z2 * (1 / 30 - z2 * 5 / 66))))
        value = 1 / z + z2 / 2 + bernoulli + taken
        return np.where(negative, (np.pi / np.sin(np.pi * x)) ** 2 - value, value)


def _newton(
    score: Score,
    start: tuple[float, float],
    feasible: Callable[[float, float], bool] | None = None,
) -> tuple[float, float] | None:
    """Solve score(x, y) = (0, 0) by Newton-Raphson with ARX's restarts; None if no root.

    ``score`` returns the two equations and their Jacobian ``(g1, g2, j11, j12,
    j21, j22)``. A try ends when a step leaves ``feasible``, turns NaN or takes
    more than ITERATIONS_PER_TRY steps; the next starts from uniform random
    fractions of ``start``.
    """
    rng = np.random.default_rng(0)  # restarts only: not privacy noise
    total = 0
    x, y = start
    while total <= ITERATIONS_TOTAL:
        steps = 0
        while True:
            total += 1
            g1, g2, j11, j12, j21, j22 = score(x, y)
            if abs(g1) <= ACCURACY and abs(g2) <= ACCURACY:
                return x, y
            with np.errstate(all="ignore"):
                det = np.float64(j11) * j22 - np.float64(j12) * j21
                x = float(x - (j22 * g1 - j12 * g2) / det)
                y = float(y - (j11 * g2 - j21 * g1) / det)
            if feasible is not None and not feasible(x, y):
                break
            if math.isnan(x) or math.isnan(y) or steps > ITERATIONS_PER_TRY:
                break
            steps += 1
        u1, u2 = rng.random(2)
        x, y = u1 * start[0], u2 * start[1]
    return None


def _valid(uniques: float, population: float) -> float | None:
    """An estimate, or None when it is not a number of people in (0, N]."""
    if math.isnan(uniques) or not 0 < uniques <= population:
        return None
    return uniques


def pitman_uniques(
    size: np.ndarray, classes: np.ndarray, n: int, population: float
) -> float | None:
    """Population uniques under Pitman's model (Pitman 1996; Hoshino 2001), or None.

    Parameters
    ----------
    size, classes
        The sample's class sizes and how many classes have each size (sizes ascending).
    n
        Records in the sample.
    population
        Population size N.

    Notes
    -----
    The log-likelihood of the sample's partition under Pitman's sampling formula is
    ``Σ_{i=1}^{u-1} log(θ + iα) - Σ_{i=1}^{n-1} log(θ + i) + Σ_classes Σ_{j=1}^{f-1}
    log(j - α)`` for u classes of sizes f. Its two score equations are solved for
    (θ, α) by Newton-Raphson with θ >= 0, from ARX's moment-based start; the
    sums are written with ψ and ψ' so that each step costs O(distinct sizes).
    """
    c1 = float(classes[size == 1].sum())
    c2 = float(classes[size == 2].sum()) or 1.0  # ARX: one class of 2 when there is none
    u = float(classes.sum())
    shared = size > 1
    big, big_count = size[shared].astype(np.float64), classes[shared].astype(np.float64)

    c = c1 * (c1 - 1) / c2
    theta0 = (n * u * c - c1 * (n - 1) * (2 * u + c)) / (2 * c1 * u + c1 * c - n * c)
    alpha0 = (theta0 * (c1 - n) + (n - 1) * c1) / (n * u)

    def score(t: float, a: float) -> tuple[float, float, float, float, float, float]:
        with np.errstate(all="ignore"):
            r = np.float64(t) / a
            psi = digamma(np.array([u + r, 1 + r, n + t, t + 1, 1 - a]))
            tri = trigamma(np.array([1 + r, u + r, t + 1, n + t, 1 - a]))
            o1 = (psi[0] - psi[1]) / a  # Σ_{i=1}^{u-1} 1 / (θ + iα)
            d1 = (tri[0] - tri[1]) / (a * a)  # Σ 1 / (θ + iα)²
            if not (np.isfinite(o1) and np.isfinite(d1)):  # α near 0: sum directly
                i = np.arange(1, u, dtype=np.float64)
                o1 = float(np.sum(1 / (t + i * a)))
                d1 = float(np.sum(1 / (t + i * a) ** 2))
                o3, d5 = float(np.sum(i / (t + i * a))), float(np.sum(i / (t + i * a) ** 2))
                d3 = float(np.sum(i * i / (t + i * a) ** 2))
            else:
                o3 = ((u - 1) - t * o1) / a  # Σ i / (θ + iα)
                d5 = (o1 - t * d1) / a  # Σ i / (θ + iα)²
                d3 = (o3 - t * d5) / a  # Σ i² / (θ + iα)²
            o2 = psi[2] - psi[3]  # Σ_{i=1}^{n-1} 1 / (θ + i)
            d2 = tri[2] - tri[3]
            # Σ over classes of Σ_{j=1}^{f-1} 1 / (j - α), and of its square terms
            o4 = float(np.dot(big_count, digamma(big - a) - psi[4]))
            d4 = float(np.dot(big_count, tri[4] - trigamma(big - a)))
        return o1 - o2, o3 - o4, d2 - d1, -d5, -d5, -d3 - d4

    root = _newton(score, (theta0, alpha0), feasible=lambda t, _a: t >= 0)
    if root is None:
        return None
    theta, alpha = root
    if alpha == 0 or theta + alpha <= 0:
        return None
    log_uniques = math.lgamma(theta + 1) - math.lgamma(theta + alpha) + alpha * math.log(population)
    return _valid(math.exp(log_uniques) if log_uniques < 709 else math.inf, population)


def _hypergeometric_one(size: np.ndarray, n: int, population: int) -> np.ndarray:
    """P(exactly one of a class's ``size`` members is drawn) when n of N are drawn.

    ``s C(N-s, n-1) / C(N, n) = s (n/N) Π_{j=1}^{s-1} (N - n - j + 1) / (N - j)``,
    the product summed in logs up to the largest size.
    """
    longest = int(size.max())
    j = np.arange(1, longest, dtype=np.float64)
    with np.errstate(divide="ignore"):
        log_factor = np.log(np.maximum(population - n - j + 1, 0) / (population - j))
    cumulative = np.concatenate([[0.0], np.cumsum(log_factor)])
    return size * (n / population) * np.exp(cumulative[size - 1])


def zayatz_uniques(
    size: np.ndarray, classes: np.ndarray, n: int, population: float
) -> float | None:
    """Population uniques under Zayatz's (1991) model, or None.

    Each sample unique is a population unique with probability
    ``P(F=1 | f=1) = (c1/u) h(1) / Σ_s (c_s/u) h(s)``, where ``h(s)`` is the
    hypergeometric probability that a population class of size s leaves exactly
    one record in a sample of n from N, and the sample's class-size shares
    ``c_s/u`` stand for the population's (as in ARX). The estimate is
    ``c1 P(F=1 | f=1) / (n/N)``. As in ARX, N is truncated to an integer for h.
    """
    c1 = float(classes[size == 1].sum())
    h = _hypergeometric_one(size, n, int(population))
    h1 = n / int(population)
    conditional = c1 * h1 / float(np.dot(classes, h))
    return _valid(c1 * conditional / (n / population), population)


def _shlosser(size: np.ndarray, classes: np.ndarray, f: float, variant: str) -> float:
    """Non-empty population classes K, Haas et al.'s (1995) third Shlosser estimator.

    ``K = u + c1 · [Σ i f² (1-f²)^(i-1) c_i / Σ (1-f)^i ((1+f)^i - 1) c_i]
    · [Σ (1-f)^i c_i / Σ i f (1-f)^(i-1) c_i]²``, i over class sizes and c_i
    the classes of size i. ARX subtracts 1 per distinct size instead of
    ``(1-f)^i c_i`` in the second sum (``variant="arx"``).
    """
    i = size.astype(np.float64)
    c = classes.astype(np.float64)
    c1 = float(c[size == 1].sum())
    kept = (1 - f) ** i * c
    first = np.sum(i * f * f * (1 - f * f) ** (i - 1) * c)
    if variant == "arx":
        second = np.sum(kept * (1 + f) ** i - 1)
    else:
        second = np.sum(kept * ((1 + f) ** i - 1))
    third = np.sum(kept) / np.sum(i * f * (1 - f) ** (i - 1) * c)
    with np.errstate(all="ignore"):
        return float(c.sum() + c1 * (first / np.float64(second)) * third * third)


def _snb_moments(
    k: float, f: float, a: np.float64, b: np.float64
) -> tuple[float, float, float, float, float, float]:
    """E c1 and E c2 under the slide negative binomial, and their derivatives in α and β."""
    with np.errstate(all="ignore"):
        g = 1 - f
        d = g * (1 - b)
        rest = 1 - d  # ∂d/∂β = -g, ∂rest/∂β = g
        ratio = b / rest
        pa = ratio**a
        e1 = k * f * pa * (1 + a * d / rest)
        e1_a = e1 * np.log(ratio) + k * f * pa * d / rest
        e1_b = e1 * a * (1 / b - g / rest) - k * f * pa * a * g / rest**2
        front = k * f * f / 2
        power = b**a / rest ** (a + 2)
        h = 2 - (1 - a) * d
        e2 = front * a * power * (1 - b) * h
        power_a = power * (np.log(b) - np.log(rest))
        power_b = power * (a / b - (a + 2) * g / rest)
        e2_a = front * (1 - b) * (power * h + a * power_a * h + a * power * d)
        e2_b = front * a * (power_b * (1 - b) * h - power * h + power * (1 - b) * (1 - a) * g)
    return float(e1), float(e2), float(e1_a), float(e1_b), float(e2_a), float(e2_b)


def snb_expected_classes(k: float, alpha: float, beta: float, f: float) -> tuple[float, float]:
    """Expected sample classes of size 1 and 2 under the slide negative binomial.

    K population classes, F - 1 ~ NB(α, β) (``P(F - 1 = m) = C(α+m-1, m) β^α (1-β)^m``),
    each record sampled with probability f (Chen & McNulty 1998).
    """
    e1, e2, *_ = _snb_moments(k, f, np.float64(alpha), np.float64(beta))
    return e1, e2


def snb_uniques(
    size: np.ndarray,
    classes: np.ndarray,
    n: int,
    population: float,
    *,
    variant: str = "paper",
) -> float | None:
    """Population uniques under Chen and McNulty's (1998) slide negative binomial, or None.

    With K non-empty population classes, F - 1 ~ NB(α, β) for a class of size F,
    and each record sampled with probability f, the expected sample classes of
    size 1 and 2 are, with ``d = (1-f)(1-β)``::

        E c1 = K f (β/(1-d))^α (1 + α d/(1-d))
        E c2 = K α f² β^α (1-β) (2 - (1-α) d) / (2 (1-d)^(α+2))

    Both are set equal to the sample's and solved for (α, β) by Newton-Raphson
    from (1, 1); the estimate is ``K β^α``. ``variant="arx"`` uses ARX 3.9.2's
    equations (see the module notes).
    """
    f = n / population
    c1 = float(classes[size == 1].sum())
    c2 = float(classes[size == 2].sum())
    k = _shlosser(size, classes, f, variant)
    if not math.isfinite(k):  # e.g. f = 1, where the estimator divides by zero
        return None

    def score(a: float, b: float) -> tuple[float, float, float, float, float, float]:
        e1, e2, e1_a, e1_b, e2_a, e2_b = _snb_moments(k, f, np.float64(a), np.float64(b))
        if variant == "arx":  # ARX multiplies by (1-d)^(α+2) in E c2; its Jacobian is the model's
            with np.errstate(all="ignore"):
                rest = np.float64(1 - (1 - f) * (1 - b))
                e2 = e2 * rest ** (2 * (a + 2))
        return float(e1 - c1), float(e2 - c2), e1_a, e1_b, e2_a, e2_b

    root = _newton(score, (1.0, 1.0))
    if root is None:
        return None
    alpha, beta = root
    with np.errstate(all="ignore"):
        uniques = float(k * np.float64(beta) ** alpha)
    return _valid(uniques, population)
