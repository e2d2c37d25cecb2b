"""Epsilon lower bounds from a test's errors: formulas, Clopper-Pearson, and validity.

Validity is checked against mechanisms whose true epsilon is known: the bound
must exceed it in at most 1 - confidence = 5% of independent runs. Each such
test counts the exceedances over 200 runs and fails only when the count is
improbable for a 5% rate (binomial tail p < 1e-6), so a correct bound fails
with probability below 1e-6; a bound that exceeded epsilon in 20% of runs (40
expected) would be caught with probability > 0.99.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from veil.audit import best_epsilon_lower_bound, clopper_pearson, epsilon_lower_bound
from veil.errors import DataError, ParameterError

RUNS = 200
# largest exceedance count compatible with a 5% rate at p >= 1e-6
MAX_EXCEEDANCES = int(stats.binom.isf(1e-6, RUNS, 0.05))


def test_perfect_test_matches_the_closed_form() -> None:
    # All n members caught, no non-member: Clopper-Pearson gives TPR_lo = (a/2)^(1/n)
    # and FPR_hi = 1 - (a/2)^(1/n), so eps_lb = log(c / (1 - c)) with c = (a/2)^(1/n).
    for n in (10, 100, 1000):
        c = 0.025 ** (1 / n)
        expected = math.log(c / (1 - c))
        assert epsilon_lower_bound(n, 0, n, n) == pytest.approx(expected, rel=1e-9)
    assert epsilon_lower_bound(100, 0, 100, 100) == pytest.approx(3.2813, abs=1e-4)


def test_delta_is_subtracted_from_the_true_positive_rate() -> None:
    # tp = n, fp = 0, n = 100: both forms are log((c - delta) / (1 - c)) and log(c - delta) / ...
    c = 0.025 ** (1 / 100)
    delta = 0.1
    direct = math.log((c - delta) / (1 - c))
    mirrored = math.log((1 - (1 - c) - delta) / (1 - c))
    assert epsilon_lower_bound(100, 0, 100, 100, delta=delta) == pytest.approx(
        max(direct, mirrored), rel=1e-9
    )
    # delta above every TPR the data allow: nothing is proven
    assert epsilon_lower_bound(3, 0, 10, 10, delta=0.9) == 0.0


def test_confidence_interval_equals_scipy_exact_binomial_interval() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        n = int(rng.integers(1, 500))
        k = int(rng.integers(0, n + 1))
        conf = float(rng.uniform(0.5, 0.999))
        low, high = clopper_pearson(k, n, conf)
        ci = stats.binomtest(k, n).proportion_ci(confidence_level=conf, method="exact")
        assert low == pytest.approx(ci.low, abs=1e-10)
        assert high == pytest.approx(ci.high, abs=1e-10)


def test_bound_is_the_log_ratio_of_the_interval_ends() -> None:
    rng = np.random.default_rng(1)
    for _ in range(50):
        p, n = (int(v) for v in rng.integers(5, 300, size=2))
        tp, fp = int(rng.integers(0, p + 1)), int(rng.integers(0, n + 1))
        delta = float(rng.choice([0.0, 1e-5, 0.01]))
        tpr_lo = stats.binomtest(tp, p).proportion_ci(0.95, method="exact").low
        fpr_hi = stats.binomtest(fp, n).proportion_ci(0.95, method="exact").high
        candidates = [0.0]
        if tpr_lo - delta > 0:
            candidates.append(math.log((tpr_lo - delta) / fpr_hi))
        if 1 - fpr_hi - delta > 0:
            candidates.append(math.log((1 - fpr_hi - delta) / (1 - tpr_lo)))
        got = epsilon_lower_bound(tp, fp, p, n, delta=delta)
        assert got == pytest.approx(max(candidates), abs=1e-9)


def test_monotone_in_hits_and_false_alarms() -> None:
    p = n = 40
    grid = np.array(
        [[epsilon_lower_bound(tp, fp, p, n) for fp in range(n + 1)] for tp in range(p + 1)]
    )
    assert (np.diff(grid, axis=0) >= -1e-12).all()  # more true positives never lower it
    assert (np.diff(grid, axis=1) <= 1e-12).all()  # more false positives never raise it
    assert grid[p, 0] > grid[3 * p // 4, n // 10] > 0  # and it does move
    # stricter confidence never raises it
    for tp, fp in [(30, 3), (40, 0), (25, 6)]:
        bounds = [epsilon_lower_bound(tp, fp, p, n, confidence=c) for c in (0.5, 0.9, 0.95, 0.999)]
        assert bounds == sorted(bounds, reverse=True)


def test_zero_when_the_test_is_no_better_than_chance() -> None:
    p, n = 40, 50
    for tp in range(p + 1):
        for fp in range(n + 1):
            if tp / p <= fp / n:
                assert epsilon_lower_bound(tp, fp, p, n) == 0.0
    assert epsilon_lower_bound(0, 0, 10, 10) == 0.0


def test_never_exceeds_epsilon_of_randomized_response() -> None:
    """The tightest mechanism: RR's 'said yes' test has TPR / FPR = e^epsilon exactly."""
    rng = np.random.default_rng(2)
    eps, n = 1.0, 2000
    q = math.exp(eps) / (1 + math.exp(eps))
    tp = rng.binomial(n, q, size=RUNS)  # members' released bit is 1 with prob q
    fp = rng.binomial(n, 1 - q, size=RUNS)
    bounds = np.array(
        [epsilon_lower_bound(int(a), int(b), n, n) for a, b in zip(tp, fp, strict=True)]
    )
    assert (bounds > eps).sum() <= MAX_EXCEEDANCES
    # power: the bound is not trivially small (expected about 0.8 for this n)
    assert bounds.mean() > 0.7


def test_threshold_search_never_exceeds_epsilon_of_laplace_mechanism() -> None:
    """Scores are Laplace(1/eps) releases of 1 (members) or 0 (non-members)."""
    rng = np.random.default_rng(3)
    eps, n = 2.0, 500
    bounds = np.array(
        [
            best_epsilon_lower_bound(
                1.0 + rng.laplace(scale=1 / eps, size=n),
                rng.laplace(scale=1 / eps, size=n),
                seed=run,
            )
            for run in range(RUNS)
        ]
    )
    assert (bounds > eps).sum() <= MAX_EXCEEDANCES
    assert bounds.mean() > 0.5  # power: the attack does prove something


def test_threshold_search_is_honest_where_the_naive_maximum_is_not() -> None:
    """No leakage at all (eps = 0): the max over thresholds on all data often
    'proves' epsilon > 0, the split never more often than 5%."""
    rng = np.random.default_rng(4)
    n = 100
    honest = naive = 0
    for run in range(RUNS):
        a, b = rng.normal(size=n), rng.normal(size=n)
        honest += best_epsilon_lower_bound(a, b, seed=run) > 0
        ts = np.unique(np.concatenate([a, b]))
        naive += (
            max(
                epsilon_lower_bound(int((a >= t).sum()), int((b >= t).sum()), n, n)
                for t in ts[::10]
            )
            > 0
        )
    assert honest <= MAX_EXCEEDANCES
    assert naive > honest


@pytest.mark.parametrize("confidence", [0.0, 1.0, -0.5, 1.5, float("nan"), "high"])
def test_confidence_outside_the_open_unit_interval_is_refused(confidence) -> None:
    with pytest.raises(ParameterError, match="confidence must be"):
        epsilon_lower_bound(5, 1, 10, 10, confidence=confidence)
    with pytest.raises(ParameterError, match="confidence must be"):
        best_epsilon_lower_bound([1.0, 2.0], [0.0, 1.0], confidence=confidence)


@pytest.mark.parametrize("delta", [-0.1, 1.0, 2.0, float("nan")])
def test_delta_outside_zero_one_is_refused(delta) -> None:
    with pytest.raises(ParameterError, match="delta must be in"):
        epsilon_lower_bound(5, 1, 10, 10, delta=delta)
    with pytest.raises(ParameterError, match="delta must be in"):
        best_epsilon_lower_bound([1.0, 2.0], [0.0, 1.0], delta=delta)


def test_bad_counts_are_refused() -> None:
    with pytest.raises(ParameterError, match="more hits than trials"):
        epsilon_lower_bound(11, 0, 10, 10)
    with pytest.raises(ParameterError, match="at least one member"):
        epsilon_lower_bound(0, 0, 0, 10)
    with pytest.raises(ParameterError, match="whole number"):
        epsilon_lower_bound(2.5, 0, 10, 10)
    with pytest.raises(ParameterError, match="whole number"):
        epsilon_lower_bound("many", 0, 10, 10)


def test_bad_scores_are_refused() -> None:
    with pytest.raises(DataError, match="member scores is empty"):
        best_epsilon_lower_bound([], [1.0, 2.0])
    with pytest.raises(DataError, match="NaN or infinite"):
        best_epsilon_lower_bound([1.0, float("nan")], [1.0, 2.0])
    with pytest.raises(DataError, match="at least 2 members"):
        best_epsilon_lower_bound([1.0], [1.0, 2.0])
    with pytest.raises(DataError, match="1-D"):
        best_epsilon_lower_bound(np.ones((3, 3)), [1.0, 2.0])
