"""Randomized response: output distribution and unbiased estimators (Warner 1965).

Statistical tests reject at p < ALPHA = 1e-6 (one false failure in a million runs).
"""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from scipy import stats

from veil.dp.randomized_response import RandomizedResponse
from veil.errors import DataError, ParameterError

ALPHA = 1e-6
Z = statistics.NormalDist().inv_cdf(1 - ALPHA / 2)  # two-sided z at ALPHA, ~4.89


def test_coin_flip_example_has_epsilon_log_3() -> None:
    # Heads: answer truthfully; tails: flip again and answer "yes" on heads.
    # P(truth) = 1/2 + 1/4 = 3/4, so epsilon = log(3/4 / 1/4) = log 3.
    rr = RandomizedResponse.binary(epsilon=math.log(3))
    assert rr.p_keep == pytest.approx(0.75, abs=1e-15)
    assert rr.p_keep <= 0.75  # rounded down: never more loss than asked


def test_binary_response_rate_is_p_keep() -> None:
    rr = RandomizedResponse.binary(epsilon=math.log(3))
    n = 200_000
    out = rr.randomize_codes(np.ones(n, dtype=np.int64))
    kept = int(out.sum())
    assert stats.binomtest(kept, n, rr.p_keep).pvalue > ALPHA
    # Detects a keep rate off by 0.01 (about 7 standard deviations at this n).
    assert stats.binomtest(kept, n, rr.p_keep - 0.01).pvalue < ALPHA


def test_k_ary_output_distribution() -> None:
    cats = ["a", "b", "c", "d", "e"]
    rr = RandomizedResponse(cats, epsilon=1.0)
    assert rr.p_keep / rr.p_other == pytest.approx(math.e, rel=1e-12)
    n = 200_000
    out = rr.randomize_codes(np.full(n, 2, dtype=np.int64))
    observed = np.bincount(out, minlength=5)
    expected = np.full(5, rr.p_other) * n
    expected[2] = rr.p_keep * n
    assert stats.chisquare(observed, expected).pvalue > ALPHA
    uniform = np.full(5, n / 5)
    assert stats.chisquare(observed, uniform).pvalue < ALPHA


def test_estimator_is_unbiased() -> None:
    cats = ["a", "b", "c"]
    truth = np.array([0.3, 0.5, 0.2])
    rr = RandomizedResponse(cats, epsilon=0.7)
    n, repeats = 50_000, 20
    codes = np.repeat(np.arange(3), (truth * n).astype(int))
    estimates = np.array(
        [rr.estimate([cats[i] for i in rr.randomize_codes(codes)]).shares for _ in range(repeats)]
    )
    lam = rr.p_other + (rr.p_keep - rr.p_other) * truth
    se = np.sqrt(lam * (1 - lam) / n) / (rr.p_keep - rr.p_other) / math.sqrt(repeats)
    z = (estimates.mean(axis=0) - truth) / se
    assert np.all(np.abs(z) < Z)  # unbiased: mean of estimates within Z standard errors
    # A bias of 0.02 in a share (e.g. a slightly wrong correction) would be caught:
    assert np.all(0.02 / se > 2 * Z)
    assert estimates.sum(axis=1) == pytest.approx(np.ones(repeats))


def test_estimate_intervals_and_errors() -> None:
    rr = RandomizedResponse.binary(epsilon=1.0)
    responses = rr([True] * 1000 + [False] * 1000)
    est = rr.estimate(responses)
    assert est.responses == 2000
    assert all(h > 0 for h in est.half_widths)
    assert rr.accuracy(2000, 0.05) >= max(est.half_widths) - 1e-12
    assert "shares" in est.to_dict()
    with pytest.raises(DataError, match="not one of the categories"):
        rr.estimate(["maybe"])
    with pytest.raises(ParameterError, match="categories"):
        RandomizedResponse(["x"], epsilon=1.0)
    with pytest.raises(ParameterError, match="epsilon"):
        RandomizedResponse.binary(epsilon=0.0)
