"""Rényi DP of PATE's noisy votes: data-independent and data-dependent bounds.

PATE (Papernot et al. 2016, 2018) answers each public query with a noisy
arg-max of the teachers' vote histogram. Changing one private record changes
one teacher, which moves one vote from a class to another: two counts change
by one each. Every bound here is a Rényi DP curve (Mironov 2017) per query,
evaluated on a grid of orders; a run's curve is the sum over its queries, and
:class:`~veil.privacy.events.RDPCurveEvent` carries it to the spine, which
converts it to (epsilon, delta).

Data-independent bounds (true whatever the votes):

* GNMax, Gaussian noise of standard deviation sigma on every count: the noisy
  histogram has L2 sensitivity sqrt(2), so RDP(alpha) = alpha / sigma**2
  (Papernot et al. 2018, Proposition 8);
* the confident-GNMax threshold check, Gaussian noise sigma_1 on the largest
  count (sensitivity 1): alpha / (2 sigma_1**2);
* LNMax, Laplace noise of scale b = 1/gamma on every count: (2 gamma)-DP
  (Papernot et al. 2016), hence RDP(alpha) <= min(2 gamma, 2 gamma**2 alpha)
  (Bun and Steinke 2016, Proposition 1.4).

Data-dependent bounds use how likely the noisy vote is to differ from the
plurality: when the teachers agree, the answer is nearly fixed and its release
costs much less. For an upper bound q on Pr[answer != plurality]:

* Papernot et al. 2018, Theorem 6, with the higher orders mu_2 = sigma *
  sqrt(log(1/q)), mu_1 = mu_2 + 1 of their Proposition 10, applies at orders
  alpha < mu_1 when q is small enough (the theorem's condition, checked per
  query); q for GNMax is the union bound of Proposition 7, for the threshold
  check the exact probability of the less likely of its two outcomes;
* Papernot et al. 2016, Theorem 3 (a bound on the log-moment, which is
  (alpha - 1) times the RDP at order alpha) with q from their Lemma 4 for LNMax.

Every data-dependent value is the minimum of the data-dependent and the
data-independent bound at that order, so it never exceeds the latter, and it
falls back to it exactly when a condition fails.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import log_ndtr, logsumexp

__all__ = [
    "ORDERS",
    "gnmax_log_q",
    "gnmax_rdp",
    "gnmax_rdp_data_dependent",
    "lnmax_log_q",
    "lnmax_rdp",
    "lnmax_rdp_data_dependent",
    "pate_rdp_curves",
    "pate_worst_case_rdp",
    "threshold_log_p_answered",
    "threshold_log_q",
    "threshold_rdp",
    "threshold_rdp_data_dependent",
]

#: Rényi orders the curves are evaluated at: fine near 1, where loose budgets are
#: optimised, up to 2000, where strong consensus (tiny q) moves the optimum.
ORDERS: tuple[float, ...] = tuple(
    float(a)
    for a in np.unique(
        np.round(
            np.concatenate(
                [np.arange(1.1, 11.0, 0.1), np.arange(11.0, 100.0), np.geomspace(100, 2000, 40)]
            ),
            6,
        )
    )
)


def _orders(orders: np.ndarray | tuple[float, ...] | None) -> np.ndarray:
    a = np.asarray(ORDERS if orders is None else orders, dtype=np.float64)
    if a.ndim != 1 or a.size == 0 or np.any(a <= 1) or not np.all(np.isfinite(a)):
        raise ValueError(f"orders must be finite numbers > 1; got {a!r}")
    return a


def _log1mexp(x: np.ndarray) -> np.ndarray:
    """log(1 - exp(x)) for x < 0, accurate near 0 and far below it."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x < -math.log(2.0), np.log1p(-np.exp(x)), np.log(-np.expm1(x)))


def _plurality_gaps(histograms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's gaps n_max - n_j to the other classes (the plurality's own gap dropped)."""
    h = np.asarray(histograms, dtype=np.float64)
    if h.ndim != 2 or h.shape[1] < 2:
        raise ValueError(f"vote histograms must be (queries, classes >= 2); got {h.shape}")
    top = np.argmax(h, axis=1)
    gaps = h[np.arange(len(h)), top][:, None] - h
    others = np.ones_like(h, dtype=bool)
    others[np.arange(len(h)), top] = False
    return gaps[others].reshape(len(h), h.shape[1] - 1), top


def _cap(log_q: np.ndarray, classes: int) -> np.ndarray:
    # The plurality is the likeliest winner under exchangeable noise, so it wins
    # with probability >= 1/k: q <= 1 - 1/k holds whatever the union bound says.
    return np.minimum(log_q, math.log1p(-1.0 / classes))


def gnmax_log_q(histograms: np.ndarray, sigma: float) -> np.ndarray:
    """log of an upper bound on Pr[GNMax's answer != plurality], per query.

    Papernot et al. 2018, Proposition 7: a union bound over the other classes
    of Pr[N(0, 2 sigma**2) >= n_max - n_j] = erfc((n_max - n_j) / (2 sigma)) / 2.

    Parameters
    ----------
    histograms
        Vote counts, one row per query, one column per class.
    sigma
        Standard deviation of the Gaussian noise on each count.
    """
    gaps, _ = _plurality_gaps(histograms)
    log_tail = log_ndtr(-gaps / (math.sqrt(2.0) * sigma))
    return _cap(logsumexp(log_tail, axis=1), gaps.shape[1] + 1)


def lnmax_log_q(histograms: np.ndarray, scale: float) -> np.ndarray:
    """log of an upper bound on Pr[LNMax's answer != plurality], per query.

    Papernot et al. 2016, Lemma 4: with gamma = 1/scale and gap d_j = n_max - n_j,
    q <= sum_j (2 + gamma d_j) / (4 exp(gamma d_j)).
    """
    gaps, _ = _plurality_gaps(histograms)
    g = gaps / scale
    terms = np.log(2.0 + g) - math.log(4.0) - g
    return _cap(logsumexp(terms, axis=1), gaps.shape[1] + 1)


def threshold_log_p_answered(histograms: np.ndarray, threshold: float, sigma: float) -> np.ndarray:
    """log Pr[max count + N(0, sigma**2) >= threshold], per query (confident GNMax)."""
    h = np.asarray(histograms, dtype=np.float64)
    return log_ndtr((h.max(axis=1) - threshold) / sigma)


def threshold_log_q(histograms: np.ndarray, threshold: float, sigma: float) -> np.ndarray:
    """log of the probability of the threshold check's less likely outcome, per query.

    min(p, 1 - p) with p = Pr[max count + N(0, sigma**2) >= threshold]: exact,
    each side from its own Gaussian tail so that neither rounds to 0.
    """
    h = np.asarray(histograms, dtype=np.float64)
    z = (h.max(axis=1) - threshold) / sigma
    return np.minimum(log_ndtr(z), log_ndtr(-z))


def gnmax_rdp(sigma: float, orders: np.ndarray | None = None) -> np.ndarray:
    """Data-independent RDP of one GNMax answer: alpha / sigma**2 (Papernot et al. 2018)."""
    return _orders(orders) / sigma**2


def threshold_rdp(sigma: float, orders: np.ndarray | None = None) -> np.ndarray:
    """Data-independent RDP of one threshold check: alpha / (2 sigma**2) (sensitivity 1)."""
    return _orders(orders) / (2.0 * sigma**2)


def lnmax_rdp(scale: float, orders: np.ndarray | None = None) -> np.ndarray:
    """Data-independent RDP of one LNMax answer: min(eps, alpha eps**2 / 2), eps = 2 / scale."""
    a = _orders(orders)
    eps = 2.0 / scale
    return np.minimum(eps, a * eps**2 / 2.0)


def gnmax_rdp_data_dependent(
    log_q: np.ndarray, sigma: float, orders: np.ndarray | None = None
) -> np.ndarray:
    """Data-dependent RDP of GNMax answers given log q per query: (queries, orders).

    Papernot et al. 2018, Theorem 6: a mechanism that is (mu_1, eps_1)- and
    (mu_2, eps_2)-RDP and whose outcome differs from i* with probability at most
    q satisfies, at order alpha <= mu_1, provided
    q <= exp((mu_2 - 1) eps_2) / (mu_1 / (mu_1 - 1) * mu_2 / (mu_2 - 1)) ** mu_2,

        RDP(alpha) <= log((1 - q) A**(alpha - 1) + q B**(alpha - 1)) / (alpha - 1),
        A = (1 - q) / (1 - (q exp(eps_2)) ** ((mu_2 - 1) / mu_2)),
        B = exp(eps_1) / q ** (1 / (mu_1 - 1)).

    GNMax is (mu, mu / sigma**2)-RDP at every mu; mu_2 = sigma sqrt(log 1/q) and
    mu_1 = mu_2 + 1 (Proposition 10). Where the theorem does not apply (mu_2 <= 1,
    q exp(eps_2) >= 1, q above the condition, alpha >= mu_1) the value is the
    data-independent alpha / sigma**2; elsewhere the smaller of the two.
    """
    a = _orders(orders)
    log_q = np.atleast_1d(np.asarray(log_q, dtype=np.float64))
    base = np.tile(gnmax_rdp(sigma, a), (len(log_q), 1))
    if np.any(log_q > 0):
        raise ValueError("log q must be <= 0 (q is a probability)")
    return _theorem6(log_q, sigma, a, base)


def _theorem6(log_q: np.ndarray, sigma: float, a: np.ndarray, base: np.ndarray) -> np.ndarray:
    var = sigma**2
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        mu2 = sigma * np.sqrt(-log_q)
        mu1 = mu2 + 1.0
        eps1, eps2 = mu1 / var, mu2 / var
        bound = (mu2 - 1.0) * eps2 - mu2 * (np.log(mu1 / (mu1 - 1.0)) + np.log(mu2 / (mu2 - 1.0)))
        ok = (mu2 > 1.0) & (-log_q > eps2) & (log_q <= bound) & np.isfinite(log_q)
    out = base
    rows = np.flatnonzero(ok)
    if rows.size == 0:
        return out
    lq, m1, m2 = log_q[rows, None], mu1[rows, None], mu2[rows, None]
    e1, e2 = eps1[rows, None], eps2[rows, None]
    log_1mq = _log1mexp(lq)
    log_a = log_1mq - _log1mexp((lq + e2) * (m2 - 1.0) / m2)
    log_b = e1 - lq / (m1 - 1.0)
    k = a[None, :] - 1.0
    dependent = np.logaddexp(log_1mq + k * log_a, lq + k * log_b) / k
    applies = a[None, :] < m1
    out[rows] = np.where(applies, np.minimum(out[rows], dependent), out[rows])
    return out


def threshold_rdp_data_dependent(
    log_q: np.ndarray, sigma: float, orders: np.ndarray | None = None
) -> np.ndarray:
    """Data-dependent RDP of confident GNMax's threshold checks: (queries, orders).

    The check releases one bit, whose likelier outcome fails with probability
    q = min(p, 1 - p) (:func:`threshold_log_q`). Theorem 6 of Papernot et al.
    2018 applies with the check's own RDP alpha / (2 sigma**2): GNMax's formula
    at sigma * sqrt(2).
    """
    a = _orders(orders)
    log_q = np.atleast_1d(np.asarray(log_q, dtype=np.float64))
    base = np.tile(threshold_rdp(sigma, a), (len(log_q), 1))
    return _theorem6(log_q, math.sqrt(2.0) * sigma, a, base)


def lnmax_rdp_data_dependent(
    log_q: np.ndarray, scale: float, orders: np.ndarray | None = None
) -> np.ndarray:
    """Data-dependent RDP of LNMax answers given log q per query: (queries, orders).

    Papernot et al. 2016, Theorem 3: an eps-DP mechanism (eps = 2 gamma = 2 / scale)
    whose outcome differs from o* with probability at most q < 1 / (e**eps + 1)
    has log-moment at l = alpha - 1 at most
    log((1 - q) ((1 - q) / (1 - e**eps q)) ** l + q e**(eps l)); RDP is that over l.
    The result is the least of it and the data-independent min(eps, alpha eps**2 / 2).
    """
    a = _orders(orders)
    log_q = np.atleast_1d(np.asarray(log_q, dtype=np.float64))
    eps = 2.0 / scale
    out = np.tile(lnmax_rdp(scale, a), (len(log_q), 1))
    ok = log_q < -math.log1p(math.exp(eps))
    rows = np.flatnonzero(ok)
    if rows.size == 0:
        return out
    lq = log_q[rows, None]
    log_1mq = _log1mexp(lq)
    k = a[None, :] - 1.0
    log_ratio = log_1mq - _log1mexp(lq + eps)
    dependent = np.logaddexp(log_1mq + k * log_ratio, lq + k * eps) / k
    out[rows] = np.minimum(out[rows], dependent)
    return out


def pate_rdp_curves(
    histograms: np.ndarray,
    answered: np.ndarray,
    aggregator: str,
    params: dict[str, Any],
    orders: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(data-independent, data-dependent) RDP curves of a PATE run, summed over queries.

    Parameters
    ----------
    histograms
        The teachers' vote counts, one row per query.
    answered
        Which queries were answered (all but confident GNMax's declined ones).
    aggregator, params
        ``"laplace"``, ``"gnmax"`` or ``"confident_gnmax"``, and its ``noise``
        (and ``threshold``, ``threshold_noise``).

    Confident GNMax pays its threshold check on every query and GNMax on the
    answered ones only (Papernot et al. 2018, section 4.2).
    """
    a = _orders(orders)
    h = np.asarray(histograms, dtype=np.float64)
    s = params["noise"]
    if aggregator == "laplace":
        dependent = lnmax_rdp_data_dependent(lnmax_log_q(h, s), s, a)
        return _times(lnmax_rdp(s, a), len(h)), dependent.sum(axis=0)
    if aggregator == "gnmax":
        dependent = gnmax_rdp_data_dependent(gnmax_log_q(h, s), s, a)
        return _times(gnmax_rdp(s, a), len(h)), dependent.sum(axis=0)
    t, s1 = params["threshold"], params["threshold_noise"]
    mask = np.asarray(answered, dtype=bool)
    free = _times(threshold_rdp(s1, a), len(h)) + _times(gnmax_rdp(s, a), int(mask.sum()))
    dependent = threshold_rdp_data_dependent(threshold_log_q(h, t, s1), s1, a).sum(axis=0)
    if mask.any():
        chosen = h[mask]
        dependent = dependent + gnmax_rdp_data_dependent(gnmax_log_q(chosen, s), s, a).sum(axis=0)
    return free, dependent


def _times(curve: np.ndarray, n: int) -> np.ndarray:
    """``n`` copies of ``curve`` summed as the per-query bounds are (same rounding), so a
    data-dependent sum whose every query fell back equals it exactly."""
    return np.tile(curve, (n, 1)).sum(axis=0)


def pate_worst_case_rdp(
    aggregator: str, params: dict[str, Any], n_queries: int, orders: np.ndarray | None = None
) -> np.ndarray:
    """The data-independent RDP curve of ``n_queries`` queries, every one answered.

    What a ledger reserves before any vote: it depends on the parameters only.
    """
    a = _orders(orders)
    s = params["noise"]
    if aggregator == "laplace":
        return _times(lnmax_rdp(s, a), n_queries)
    if aggregator == "gnmax":
        return _times(gnmax_rdp(s, a), n_queries)
    checks = _times(threshold_rdp(params["threshold_noise"], a), n_queries)
    return checks + _times(gnmax_rdp(s, a), n_queries)
