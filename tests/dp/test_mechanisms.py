"""Each mechanism's output distribution against its theoretical one.

Every statistical test here rejects at p < ALPHA = 1e-6: a correct mechanism
fails a given test once in a million runs. With N_FLOAT = 50,000 draws (OpenDP's
exact float samplers cost ~50 us a draw) the KS test rejects a CDF off by more
than sqrt(log(2 / ALPHA) / (2 N)) ~= 0.012 anywhere; the chi-square tests of
the integer mechanisms use N = 200,000 draws. Each test also checks that it
does reject the same sample against a distribution whose scale is 10% off, so
the test is known to detect an error of that size.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from veil.dp.accountant import zcdp_to_epsilon
from veil.dp.mechanisms import (
    DiscreteGaussianMechanism,
    DiscreteLaplaceMechanism,
    ExponentialMechanism,
    GaussianMechanism,
    LaplaceMechanism,
    ReportNoisyMax,
)
from veil.errors import ParameterError

ALPHA = 1e-6  # false-failure rate of every statistical test in this file
N = 200_000
N_FLOAT = 50_000


def _chi2_pvalue(draws: np.ndarray, support: np.ndarray, pmf: np.ndarray) -> float:
    """Chi-square p-value of integer draws against pmf on support (tails pooled)."""
    observed = np.array([(draws == x).sum() for x in support], dtype=float)
    expected = pmf * draws.size
    below, above = (draws < support[0]).sum(), (draws > support[-1]).sum()
    tail = 1.0 - pmf.sum()
    observed = np.append(observed, below + above)
    expected = np.append(expected, tail * draws.size)
    keep = expected >= 5  # the chi-square approximation needs >= 5 expected per cell
    obs = np.append(observed[keep], observed[~keep].sum())
    exp = np.append(expected[keep], expected[~keep].sum())
    if exp[-1] == 0:
        obs, exp = obs[:-1], exp[:-1]
    exp *= obs.sum() / exp.sum()
    return float(stats.chisquare(obs, exp).pvalue)


def test_laplace_matches_laplace_distribution() -> None:
    m = LaplaceMechanism(epsilon=0.5, sensitivity=1.0)
    assert m.scale == pytest.approx(2.0)
    assert m.privacy_loss.epsilon == pytest.approx(0.5)
    draws = m(np.full(N_FLOAT, 10.0)) - 10.0
    assert stats.kstest(draws, stats.laplace(scale=m.scale).cdf).pvalue > ALPHA
    assert stats.kstest(draws, stats.laplace(scale=1.1 * m.scale).cdf).pvalue < ALPHA
    # The stated accuracy is the (1 - alpha) quantile of |noise|.
    assert np.mean(np.abs(draws) >= m.accuracy(0.05)) == pytest.approx(0.05, abs=0.006)


def test_gaussian_matches_normal_distribution() -> None:
    m = GaussianMechanism(sensitivity=1.0, rho=0.125)
    assert m.scale == pytest.approx(2.0)
    assert m.privacy_loss.rho == pytest.approx(0.125)
    draws = m(np.zeros(N_FLOAT))
    assert stats.kstest(draws, stats.norm(scale=m.scale).cdf).pvalue > ALPHA
    assert stats.kstest(draws, stats.norm(scale=1.1 * m.scale).cdf).pvalue < ALPHA


def test_discrete_laplace_matches_its_pmf() -> None:
    m = DiscreteLaplaceMechanism(epsilon=0.5, sensitivity=1)
    draws = m(np.zeros(N, dtype=np.int64))
    assert draws.dtype == np.int64
    support = np.arange(-30, 31)

    def pmf(scale: float) -> np.ndarray:
        return math.tanh(1.0 / (2.0 * scale)) * np.exp(-np.abs(support) / scale)

    assert _chi2_pvalue(draws, support, pmf(m.scale)) > ALPHA
    assert _chi2_pvalue(draws, support, pmf(1.1 * m.scale)) < ALPHA
    assert m.privacy_loss.event == {
        "type": "discrete_laplace",
        "noise_parameter": 0.5,
        "sensitivity": 1,
    }


def test_discrete_gaussian_matches_its_pmf() -> None:
    m = DiscreteGaussianMechanism(sensitivity=1, rho=0.125)  # sigma = 2
    draws = m(np.zeros(N, dtype=np.int64))
    support = np.arange(-20, 21)

    def pmf(sigma: float) -> np.ndarray:
        grid = np.arange(-400, 401)
        norm = np.exp(-(grid**2) / (2 * sigma**2)).sum()
        return np.exp(-(support**2) / (2 * sigma**2)) / norm

    assert _chi2_pvalue(draws, support, pmf(m.scale)) > ALPHA
    assert _chi2_pvalue(draws, support, pmf(1.1 * m.scale)) < ALPHA


def test_discrete_gaussian_large_scale_accuracy_covers() -> None:
    m = DiscreteGaussianMechanism(sensitivity=10_000, rho=0.5)  # scale 10,000: bound path
    a = m.accuracy(0.05)
    draws = m(np.zeros(N, dtype=np.int64))
    # The bound is conservative: coverage is at least 95% (binomial test at ALPHA).
    misses = int((np.abs(draws) >= a).sum())
    assert stats.binomtest(misses, N, 0.05, alternative="greater").pvalue > ALPHA


def test_exponential_mechanism_matches_softmax() -> None:
    scores = np.array([0.0, 1.0, 2.0, 4.0])
    m = ExponentialMechanism(epsilon=1.0, sensitivity=1.0)  # P(i) ~ exp(eps s_i / 2)
    assert m.privacy_loss.epsilon == 1.0
    assert m.privacy_loss.rho == pytest.approx(1.0 / 8.0)
    n = 20_000
    draws = np.array([m(scores) for _ in range(n)])
    support = np.arange(scores.size)
    p = np.exp(scores / m.scale) / np.exp(scores / m.scale).sum()
    assert _chi2_pvalue(draws, support, p) > ALPHA
    wrong = np.exp(scores / (1.3 * m.scale)) / np.exp(scores / (1.3 * m.scale)).sum()
    assert _chi2_pvalue(draws, support, wrong) < ALPHA


def test_report_noisy_max_matches_exponential_noise_argmax() -> None:
    scores = np.array([0.0, 1.0, 3.0])
    m = ReportNoisyMax(epsilon=1.0, sensitivity=1.0)  # exponential noise of scale 2
    assert m.privacy_loss.epsilon == pytest.approx(1.0)
    n = 20_000
    draws = np.array([m(scores) for _ in range(n)])
    s = m.scale

    def win(i: int) -> float:
        # P(argmax = i) = integral of f_i(x) * prod_{j != i} F_j(x), X_j = s_j + Exp(s).
        def integrand(x: float) -> float:
            value = stats.expon(loc=scores[i], scale=s).pdf(x)
            for j in range(scores.size):
                if j != i:
                    value *= stats.expon(loc=scores[j], scale=s).cdf(x)
            return value

        return integrate.quad(integrand, scores[i], np.inf)[0]

    p = np.array([win(i) for i in range(scores.size)])
    assert p.sum() == pytest.approx(1.0, abs=1e-6)
    assert _chi2_pvalue(draws, np.arange(scores.size), p) > ALPHA
    softmax = np.exp(scores / s) / np.exp(scores / s).sum()  # a different mechanism
    assert _chi2_pvalue(draws, np.arange(scores.size), softmax) < ALPHA


def test_gaussian_from_epsilon_delta_fits_the_request() -> None:
    m = GaussianMechanism(sensitivity=1.0, epsilon=1.0, delta=1e-6)
    loss = m.privacy_loss
    assert loss.rho is not None and loss.epsilon is not None
    assert loss.epsilon <= 1.0
    assert zcdp_to_epsilon(loss.rho, 1e-6) == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("eps", [0.0, -1.0, math.nan, math.inf, "x"])
def test_bad_epsilon_is_refused(eps: object) -> None:
    with pytest.raises(ParameterError, match="epsilon"):
        LaplaceMechanism(epsilon=eps, sensitivity=1.0)  # type: ignore[arg-type]


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ParameterError, match="sensitivity"):
        LaplaceMechanism(epsilon=1.0, sensitivity=0.0)
    with pytest.raises(ParameterError, match="integer sensitivity"):
        DiscreteLaplaceMechanism(epsilon=1.0, sensitivity=1.5)
    with pytest.raises(ParameterError, match="delta"):
        GaussianMechanism(sensitivity=1.0, epsilon=1.0, delta=0.0)
    m = LaplaceMechanism(epsilon=1.0, sensitivity=1.0)
    with pytest.raises(ParameterError, match="finite"):
        m(math.nan)
    with pytest.raises(ParameterError, match="alpha"):
        m.accuracy(1.5)
