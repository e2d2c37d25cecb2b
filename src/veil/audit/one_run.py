"""Privacy auditing with one training run (Steinke, Nasr and Jagielski 2023).

The classic audit trains hundreds of models with and without a record. The
one-run audit trains one: m canaries are each put into the training set
independently with probability 1/2 (the coin flips S), the model is trained,
and the auditor, looking only at per-canary scores, guesses "in" for the k+
highest-scored canaries, "out" for the k- lowest, and abstains on the rest.
If training is (epsilon, delta)-DP, the number W of right guesses among the
r = k+ + k- made is stochastically dominated, up to a delta term, by a
Binomial(r, e^epsilon / (1 + e^epsilon)) (their main theorem; Corollary 5.4 and
Appendix D of arXiv:2305.08846v1)::

    P[W >= v] <= P[W' >= v] + 2 m delta * max_{i = 1..v} P[v - i <= W' < v] / i,

    W' ~ Binomial(r, q),  q = e^epsilon / (1 + e^epsilon).

The right-hand side is a p-value for "the training is (epsilon, delta)-DP";
the reported lower bound is the largest epsilon whose p-value is below
1 - confidence. Because the coin flips are independent of everything else,
no assumption about independent trials is needed: this is a valid bound from
a single model (it is usually looser than a many-model audit).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import special, stats

from veil.audit.bounds import check_confidence, check_delta, check_scores
from veil.audit.results import OneRunAudit
from veil.errors import DataError, ParameterError

__all__ = [
    "one_run_audit",
    "one_run_audit_from_scores",
    "one_run_epsilon_bound",
    "one_run_p_value",
]

_GUESS_FRACTIONS = (0.05, 0.1, 0.25, 0.5)


def _check_whole(name: str, value: Any) -> int:
    try:
        whole = not isinstance(value, bool) and float(value).is_integer() and value >= 0
    except (TypeError, ValueError):
        whole = False
    if not whole:
        raise ParameterError(f"{name} must be a whole number >= 0; got {value!r}")
    return int(value)


def one_run_p_value(m: int, guesses: int, correct: int, epsilon: float, delta: float) -> float:
    """P-value of ``correct`` right guesses out of ``guesses`` under (epsilon, delta)-DP.

    The bound of Steinke et al. (2023) stated in the module docstring; with
    delta = 0 it is the binomial tail P[Binomial(r, q) >= v] alone.
    """
    q = float(special.expit(epsilon))  # accuracy of epsilon-DP randomized response
    r, v = guesses, correct
    tail = float(stats.binom.sf(v - 1, r, q))  # P[W' >= v]
    if delta == 0.0 or v == 0:
        return min(tail, 1.0)
    i = np.arange(1, v + 1)
    # P[v - i <= W' < v] = P[W' >= v - i] - P[W' >= v]
    window = stats.binom.sf(v - i - 1, r, q) - tail
    alpha = float(np.max(window / i))
    return min(tail + 2.0 * m * delta * alpha, 1.0)


def one_run_epsilon_bound(
    m: int,
    k_plus: int,
    k_minus: int,
    correct: int,
    *,
    delta: float = 0.0,
    confidence: float = 0.95,
) -> float:
    """The epsilon lower bound of a one-run audit (Steinke, Nasr and Jagielski 2023).

    Parameters
    ----------
    m
        Canaries, each included independently with probability 1/2.
    k_plus, k_minus
        Guesses "in" and "out" (the auditor abstains on the other canaries).
    correct
        Right guesses among the k_plus + k_minus.
    delta
        The delta of the audited guarantee (it enters through 2 m delta).
    confidence
        The bound is wrong with probability at most 1 - confidence.

    Returns
    -------
    float
        The largest epsilon (to 1e-9) whose p-value is below 1 - confidence,
        rounded down; 0 when even epsilon = 0 is not rejected.

    Raises
    ------
    ParameterError
        Counts not whole or inconsistent (correct <= k_plus + k_minus <= m),
        delta outside [0, 1), confidence outside (0, 1).
    """
    m = _check_whole("m", m)
    k_plus = _check_whole("k_plus", k_plus)
    k_minus = _check_whole("k_minus", k_minus)
    correct = _check_whole("correct", correct)
    delta = check_delta(delta)
    confidence = check_confidence(confidence)
    r = k_plus + k_minus
    if not correct <= r <= m:
        raise ParameterError(
            f"need correct <= k_plus + k_minus <= m; got correct={correct}, "
            f"k_plus + k_minus={r}, m={m}"
        )
    level = 1.0 - confidence
    if r == 0 or one_run_p_value(m, r, correct, 0.0, delta) >= level:
        return 0.0
    low, high = 0.0, 1.0  # p(low) < level <= p(high)
    while one_run_p_value(m, r, correct, high, delta) < level:
        low, high = high, 2.0 * high
        if high > 1e4:  # every guess right with delta = 0 and r huge: no finite bound
            return low
    while high - low > 1e-9:
        mid = (low + high) / 2.0
        if one_run_p_value(m, r, correct, mid, delta) < level:
            low = mid
        else:
            high = mid
    return low


def _guess_pairs(m: int, k_plus: Any, k_minus: Any) -> list[tuple[int, int]]:
    if (k_plus is None) != (k_minus is None):
        raise ParameterError("give both k_plus and k_minus, or neither (to search a small grid)")
    if k_plus is not None:
        kp, km = _check_whole("k_plus", k_plus), _check_whole("k_minus", k_minus)
        if kp + km == 0 or kp + km > m:
            raise ParameterError(
                f"k_plus + k_minus must be between 1 and the {m} canaries; got {kp} + {km}"
            )
        return [(kp, km)]
    ks = sorted({k for k in (max(1, round(f * m)) for f in _GUESS_FRACTIONS) if 2 * k <= m})
    if not ks:
        raise DataError(f"the one-run audit needs at least 2 canaries; got {m}")
    return [(k, k) for k in ks]


def one_run_audit_from_scores(
    scores: Sequence[float] | np.ndarray,
    included: Sequence[bool] | np.ndarray,
    *,
    k_plus: int | None = None,
    k_minus: int | None = None,
    delta: float = 0.0,
    confidence: float = 0.95,
    epsilon: float | None = None,
    seed: int | None = 0,
) -> OneRunAudit:
    """The one-run audit from canary scores and the coin flips that placed the canaries.

    ``included`` must come from independent fair coins drawn before training
    (as :func:`one_run_audit` draws them); the guesses use the scores only.
    Without ``k_plus``/``k_minus`` a small grid of (k, k) with k = 5%, 10%, 25%
    and 50% of the canaries is tried and the confidence of each is raised by a
    Bonferroni correction (1 - confidence divided by the grid's size), so the
    best of them still holds at ``confidence``.
    """
    values = check_scores("canary scores", scores)
    flips = np.asarray(included)
    if flips.shape != values.shape or flips.dtype != bool:
        raise DataError(
            f"included must be one bool per canary ({values.size}); got {flips.dtype} "
            f"of shape {flips.shape}"
        )
    delta = check_delta(delta)
    confidence = check_confidence(confidence)
    m = values.size
    pairs = _guess_pairs(m, k_plus, k_minus)
    each = 1.0 - (1.0 - confidence) / len(pairs)
    # ties in the scores are broken at random, never by the coin flips
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(m)
    order = shuffled[np.argsort(-values[shuffled], kind="stable")]  # most likely "in" first
    candidates = []
    best: tuple[float, int, int, int, np.ndarray] | None = None
    for kp, km in pairs:
        guesses = np.zeros(m, dtype=np.int8)
        guesses[order[:kp]] = 1
        if km:
            guesses[order[m - km :]] = -1
        right = int(((guesses == 1) & flips).sum() + ((guesses == -1) & ~flips).sum())
        bound = one_run_epsilon_bound(m, kp, km, right, delta=delta, confidence=each)
        candidates.append({"k_plus": kp, "k_minus": km, "correct": right, "bound": bound})
        if best is None or bound > best[0]:
            best = (bound, kp, km, right, guesses)
    assert best is not None
    bound, kp, km, right, guesses = best
    return OneRunAudit(
        epsilon_lower_bound=bound,
        m=m,
        k_plus=kp,
        k_minus=km,
        correct=right,
        delta=delta,
        confidence=confidence,
        guesses=guesses,
        included=flips.copy(),
        scores=values,
        epsilon=epsilon,
        candidates=candidates,
    )


def _rows(data: Any, index: np.ndarray) -> Any:
    if hasattr(data, "iloc"):
        return data.iloc[index]
    return data[index]


def _stack(first: Any, second: Any) -> Any:
    if hasattr(first, "iloc"):
        import pandas as pd

        return pd.concat([first, second], ignore_index=True)
    if type(first).__module__.startswith("torch"):
        import torch

        return torch.cat([first, second])
    return np.concatenate([np.asarray(first), np.asarray(second)])


def one_run_audit(
    train_fn: Callable[[Any, Any], Any],
    score_fn: Callable[[Any, Any, Any], Any],
    X: Any,
    y: Any,
    *,
    canaries: Sequence[int] | np.ndarray | tuple[Any, Any],
    k_plus: int | None = None,
    k_minus: int | None = None,
    delta: float = 0.0,
    confidence: float = 0.95,
    epsilon: float | None = None,
    seed: int | None = None,
) -> OneRunAudit:
    """Audit a training algorithm with one run (Steinke, Nasr and Jagielski 2023).

    Parameters
    ----------
    train_fn
        ``train_fn(X, y) -> model``: the training algorithm under audit (DP-SGD
        with its privacy parameters, or anything else).
    score_fn
        ``score_fn(model, X, y) -> scores``, one per row, higher = more likely
        trained on (e.g. minus the loss).
    X, y
        The training data (numpy arrays, torch tensors or pandas objects).
    canaries
        Either indices of rows of ``X`` to use as canaries (the other rows are
        always trained on), or a pair ``(X_canary, y_canary)`` of extra rows.
        Each canary is trained on with probability 1/2, independently. More
        canaries give a tighter bound (the paper uses thousands).
    k_plus, k_minus
        Canaries to guess "in" and "out"; both None searches a small grid with
        a Bonferroni correction (see :func:`one_run_audit_from_scores`).
    delta, confidence
        Of the audited guarantee and of the bound.
    epsilon
        The proven epsilon of ``train_fn``, shown beside the bound.
    seed
        Seed of the coin flips and tie-breaking (audit randomness, not privacy noise).

    Returns
    -------
    OneRunAudit
    """
    delta = check_delta(delta)
    confidence = check_confidence(confidence)
    rng = np.random.default_rng(seed)
    n = len(X)
    if len(y) != n:
        raise DataError(f"X has {n} rows but y has {len(y)}; give one label per row")
    if isinstance(canaries, tuple):
        if len(canaries) != 2:
            raise ParameterError("canaries as rows must be a pair (X_canary, y_canary)")
        x_canary, y_canary = canaries
        if len(x_canary) != len(y_canary):
            raise DataError(f"canary rows: {len(x_canary)} inputs but {len(y_canary)} labels")
        x_base, y_base = X, y
    else:
        index = np.asarray(canaries)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        if index.ndim != 1 or not np.issubdtype(index.dtype, np.integer):
            raise ParameterError("canaries must be row indices, a bool mask, or (X, y) rows")
        outside = index.size and (index.min() < 0 or index.max() >= n)
        if outside or np.unique(index).size < index.size:
            raise ParameterError(f"canary indices must be distinct rows of X, in [0, {n})")
        rest = np.setdiff1d(np.arange(n), index)
        x_canary, y_canary = _rows(X, index), _rows(y, index)
        x_base, y_base = _rows(X, rest), _rows(y, rest)
    m = len(x_canary)
    if m < 2:
        raise DataError(f"the one-run audit needs at least 2 canaries; got {m}")
    included = rng.random(m) < 0.5
    chosen = np.flatnonzero(included)
    model = train_fn(
        _stack(x_base, _rows(x_canary, chosen)), _stack(y_base, _rows(y_canary, chosen))
    )
    scores = np.asarray(score_fn(model, x_canary, y_canary), dtype=float).reshape(-1)
    if scores.size != m:
        raise DataError(f"score_fn returned {scores.size} scores for {m} canaries")
    return one_run_audit_from_scores(
        scores,
        included,
        k_plus=k_plus,
        k_minus=k_minus,
        delta=delta,
        confidence=confidence,
        epsilon=epsilon,
        seed=int(rng.integers(2**31)),
    )
