"""Empirical epsilon lower bounds from the errors of a membership test.

If a training algorithm is (epsilon, delta)-differentially private, every test
that tells "trained with the record" from "trained without it" satisfies
(Kairouz, Oh and Viswanath 2015)

    TPR <= e^epsilon * FPR + delta   and   1 - FPR <= e^epsilon * (1 - TPR) + delta,

so a test observed to have a high true-positive rate at a low false-positive
rate proves that epsilon is at least

    max( log((TPR - delta) / FPR), log((1 - FPR - delta) / (1 - TPR)) ).

The rates are estimated from finitely many trials, so (as Jagielski, Ullman and
Oprea 2020 do) the bound uses a Clopper-Pearson lower confidence limit for TPR
and an upper one for FPR; each limit holds with probability 1 - alpha / 2, both
together with probability at least 1 - alpha = ``confidence`` (union bound).
The result is a statement "epsilon >= eps_lb" that is wrong with probability at
most 1 - ``confidence`` when the trials are independent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from veil.errors import DataError, ParameterError

__all__ = [
    "best_epsilon_lower_bound",
    "clopper_pearson",
    "epsilon_lower_bound",
    "threshold_epsilon_lower_bound",
]


def check_confidence(confidence: float) -> float:
    """``confidence`` as a float in (0, 1), or a :class:`ParameterError` naming the fix."""
    try:
        value = float(confidence)
    except (TypeError, ValueError):
        raise ParameterError(f"confidence must be a number in (0, 1); got {confidence!r}") from None
    if not 0.0 < value < 1.0:
        raise ParameterError(f"confidence must be in (0, 1), e.g. 0.95; got {confidence!r}")
    return value


def check_delta(delta: float) -> float:
    """``delta`` as a float in [0, 1), or a :class:`ParameterError` naming the fix."""
    try:
        value = float(delta)
    except (TypeError, ValueError):
        raise ParameterError(f"delta must be a number in [0, 1); got {delta!r}") from None
    if not 0.0 <= value < 1.0:
        raise ParameterError(f"delta must be in [0, 1), e.g. 1e-5 or 0 for pure DP; got {delta!r}")
    return value


def check_scores(name: str, scores: Any) -> np.ndarray:
    """A non-empty 1-D float array of finite attack scores, or a :class:`DataError`."""
    try:
        array = np.asarray(scores, dtype=float)
    except (TypeError, ValueError):
        raise DataError(f"{name} must be numbers; got {type(scores).__name__}") from None
    if array.ndim != 1:
        if array.ndim == 0 or array.size != max(array.shape):
            raise DataError(f"{name} must be one score per example (1-D); got shape {array.shape}")
        array = array.reshape(-1)  # a column or row vector
    if array.size == 0:
        raise DataError(f"{name} is empty; the attack needs at least one score per group")
    bad = ~np.isfinite(array)
    if bad.any():
        raise DataError(
            f"{name} holds {int(bad.sum())} NaN or infinite score(s) (first at index "
            f"{int(np.argmax(bad))}); drop those examples or clip the losses before auditing"
        )
    return array


def clopper_pearson(successes: Any, trials: Any, confidence: float) -> tuple[Any, Any]:
    """Two-sided Clopper-Pearson interval (Clopper and Pearson 1934) for a binomial rate.

    Each end leaves probability (1 - confidence) / 2 outside, from the beta
    quantiles: low = B^-1(a/2; k, n - k + 1), high = B^-1(1 - a/2; k + 1, n - k),
    with low = 0 when k = 0 and high = 1 when k = n. Vectorised over arrays.
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    tail = (1.0 - confidence) / 2.0
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(k > 0, stats.beta.ppf(tail, k, n - k + 1), 0.0)
        high = np.where(k < n, stats.beta.ppf(1.0 - tail, k + 1, n - k), 1.0)
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


def _bound_from_limits(tpr_low: Any, fpr_high: Any, delta: float) -> Any:
    """max(log((TPR_lo - delta) / FPR_hi), log((1 - FPR_hi - delta) / (1 - TPR_lo)), 0)."""
    tpr_low = np.asarray(tpr_low, dtype=float)
    fpr_high = np.asarray(fpr_high, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        direct = np.log(np.maximum(tpr_low - delta, 0.0) / fpr_high)
        mirrored = np.log(np.maximum(1.0 - fpr_high - delta, 0.0) / (1.0 - tpr_low))
    # FPR_hi > 0 and TPR_lo < 1 whenever a group is non-empty, so both ratios are
    # finite or log(0) = -inf (no evidence), which the floor at 0 removes.
    bound = np.maximum(np.maximum(direct, mirrored), 0.0)
    bound = np.where(np.isnan(bound), 0.0, bound)
    return float(bound) if bound.ndim == 0 else bound


def _check_count(name: str, value: Any) -> int:
    try:
        whole = not isinstance(value, bool) and float(value).is_integer() and value >= 0
    except (TypeError, ValueError):
        whole = False
    if not whole:
        raise ParameterError(f"{name} must be a whole number >= 0; got {value!r}")
    return int(value)


def epsilon_lower_bound(
    true_positives: int,
    false_positives: int,
    positives: int,
    negatives: int,
    *,
    delta: float = 0.0,
    confidence: float = 0.95,
) -> float:
    """The epsilon that a membership test's observed errors prove, at ``confidence``.

    Parameters
    ----------
    true_positives, false_positives
        Members and non-members the test called "member".
    positives, negatives
        Members and non-members tested (independent trials).
    delta
        The delta of the (epsilon, delta) guarantee being audited.
    confidence
        Probability that the returned bound is correct (not above the true
        epsilon) when the trials are independent; 0.95 in most papers.

    Returns
    -------
    float
        ``eps_lb >= 0``: the algorithm is not (epsilon, delta)-DP for any
        epsilon < eps_lb, except with probability 1 - confidence. 0 when the test
        does no better than chance (TPR <= FPR).

    Raises
    ------
    ParameterError
        Counts that are not whole numbers, more hits than trials, an empty group,
        delta outside [0, 1) or confidence outside (0, 1).

    References
    ----------
    Kairouz, Oh and Viswanath (2015), the hypothesis-testing view of DP;
    Jagielski, Ullman and Oprea (2020), Clopper-Pearson auditing of DP-SGD.
    """
    tp = _check_count("true_positives", true_positives)
    fp = _check_count("false_positives", false_positives)
    p = _check_count("positives", positives)
    n = _check_count("negatives", negatives)
    delta = check_delta(delta)
    confidence = check_confidence(confidence)
    if p == 0 or n == 0:
        raise ParameterError(
            f"need at least one member and one non-member; got positives={p}, negatives={n}"
        )
    if tp > p or fp > n:
        raise ParameterError(
            f"more hits than trials: true_positives={tp} of {p}, false_positives={fp} of {n}"
        )
    tpr_low, _ = clopper_pearson(tp, p, confidence)
    _, fpr_high = clopper_pearson(fp, n, confidence)
    return _bound_from_limits(tpr_low, fpr_high, delta)


def threshold_epsilon_lower_bound(
    member_scores: np.ndarray,
    nonmember_scores: np.ndarray,
    thresholds: np.ndarray,
    *,
    delta: float,
    confidence: float,
) -> np.ndarray:
    """:func:`epsilon_lower_bound` of the tests "score >= t", one per threshold t.

    Each entry is valid on its own; the maximum over thresholds is not (it
    chooses the threshold after seeing the data): see :func:`best_epsilon_lower_bound`.
    """
    members = np.sort(member_scores)
    nonmembers = np.sort(nonmember_scores)
    tp = members.size - np.searchsorted(members, thresholds, side="left")
    fp = nonmembers.size - np.searchsorted(nonmembers, thresholds, side="left")
    tpr_low, _ = clopper_pearson(tp, members.size, confidence)
    _, fpr_high = clopper_pearson(fp, nonmembers.size, confidence)
    return np.atleast_1d(_bound_from_limits(tpr_low, fpr_high, delta))


def best_epsilon_lower_bound(
    member_scores: Sequence[float] | np.ndarray,
    nonmember_scores: Sequence[float] | np.ndarray,
    *,
    delta: float = 0.0,
    confidence: float = 0.95,
    seed: int | None = 0,
) -> float:
    """The largest honest epsilon lower bound over the thresholds of an attack score.

    Taking the maximum of :func:`epsilon_lower_bound` over every threshold would
    pick the luckiest of many tests and overstate the bound. Instead the
    examples are split at random into two halves (each group halved): the
    threshold with the best bound on the first half is chosen, and the bound
    is computed on the second half alone, whose examples played no part in the
    choice. The result therefore has the stated ``confidence`` exactly as a
    single pre-registered test would, at the price of using half the data.

    Parameters
    ----------
    member_scores, nonmember_scores
        Attack scores (higher = more likely a member) of examples known to be in
        and out of the training set.
    delta, confidence
        As in :func:`epsilon_lower_bound`.
    seed
        Seed of the split (not privacy noise: an audit is reproducible).

    Returns
    -------
    float
        The bound, >= 0.
    """
    return _split_bound(member_scores, nonmember_scores, delta, confidence, seed)[0]


def _split_bound(
    member_scores: Any, nonmember_scores: Any, delta: float, confidence: float, seed: int | None
) -> tuple[float, float]:
    """(bound, chosen threshold) by choosing on one half and bounding on the other."""
    members = check_scores("member scores", member_scores)
    nonmembers = check_scores("non-member scores", nonmember_scores)
    delta = check_delta(delta)
    confidence = check_confidence(confidence)
    if members.size < 2 or nonmembers.size < 2:
        raise DataError(
            f"the threshold search needs at least 2 members and 2 non-members (half to choose "
            f"the threshold, half to bound); got {members.size} and {nonmembers.size}"
        )
    rng = np.random.default_rng(seed)
    members = rng.permutation(members)
    nonmembers = rng.permutation(nonmembers)
    m_half, n_half = members.size // 2, nonmembers.size // 2
    choose_in, bound_in = members[:m_half], members[m_half:]
    choose_out, bound_out = nonmembers[:n_half], nonmembers[n_half:]
    candidates = np.unique(np.concatenate([choose_in, choose_out]))
    bounds = threshold_epsilon_lower_bound(
        choose_in, choose_out, candidates, delta=delta, confidence=confidence
    )
    # Among equally good thresholds take the middle one: less sensitive to the split.
    best = np.flatnonzero(bounds == bounds.max())
    threshold = float(candidates[best[best.size // 2]])
    bound = threshold_epsilon_lower_bound(
        bound_in, bound_out, np.array([threshold]), delta=delta, confidence=confidence
    )[0]
    return float(bound), threshold
