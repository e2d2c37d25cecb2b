"""The one-run audit (Steinke, Nasr and Jagielski 2023): the theorem's numbers and its validity."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from veil.audit import (
    OneRunAudit,
    one_run_audit,
    one_run_audit_from_scores,
    one_run_epsilon_bound,
    one_run_p_value,
)
from veil.errors import DataError, ParameterError

RUNS = 200
MAX_EXCEEDANCES = int(stats.binom.isf(1e-6, RUNS, 0.05))  # see test_bounds.py


def test_reproduces_the_papers_worked_numbers() -> None:
    # arXiv:2305.08846v1, Appendix D (p. 46): m = 1000, r = 100, v = 75,
    # delta = 1e-4, 95% -> 0.673; section 7 (Fig. 11): m = 1e5, r = 1510, v = 1439,
    # delta = 1e-5 -> 2.675 (printed truncated).
    assert one_run_epsilon_bound(1000, 100, 0, 75, delta=1e-4) == pytest.approx(0.673, abs=5e-4)
    got = one_run_epsilon_bound(100_000, 1510, 0, 1439, delta=1e-5)
    assert 2.675 <= got < 2.676


def test_all_correct_pure_dp_has_a_closed_form() -> None:
    # delta = 0, v = r: P[Binomial(r, q) >= r] = q^r = beta  =>  q = beta^(1/r), eps = logit(q)
    for r in (10, 50, 100):
        q = 0.05 ** (1 / r)
        assert one_run_epsilon_bound(1000, r, 0, r) == pytest.approx(
            math.log(q / (1 - q)), abs=1e-7
        )


def _brute_p_value(m: int, r: int, v: int, eps: float, delta: float) -> float:
    """The theorem's bound summed term by term in exact rationals (q rounded once)."""
    q = Fraction(math.exp(eps) / (1 + math.exp(eps)))
    pmf = [math.comb(r, k) * q**k * (1 - q) ** (r - k) for k in range(r + 1)]
    tail = sum(pmf[v:], Fraction(0))
    alpha = max((sum(pmf[v - i : v], Fraction(0)) / i for i in range(1, v + 1)), default=0)
    return float(min(tail + 2 * m * Fraction(delta) * alpha, Fraction(1)))


def test_p_value_and_bound_equal_a_brute_force_computation() -> None:
    rng = np.random.default_rng(0)
    for _ in range(40):
        m = int(rng.integers(2, 16))
        r = int(rng.integers(1, m + 1))
        v = int(rng.integers(0, r + 1))
        delta = float(rng.choice([0.0, 1e-3, 1e-2]))
        eps = float(rng.uniform(0, 4))
        assert one_run_p_value(m, r, v, eps, delta) == pytest.approx(
            _brute_p_value(m, r, v, eps, delta), rel=1e-9, abs=1e-15
        )
        bound = one_run_epsilon_bound(m, r, 0, v, delta=delta, confidence=0.9)
        if bound == 0.0:
            assert _brute_p_value(m, r, v, 0.0, delta) >= 0.1 - 1e-12
        else:  # the largest epsilon rejected at level 0.1
            assert _brute_p_value(m, r, v, bound, delta) < 0.1
            assert _brute_p_value(m, r, v, bound + 1e-6, delta) >= 0.1


def test_monotone_in_correct_guesses_and_delta() -> None:
    bounds = [one_run_epsilon_bound(500, 60, 40, v, delta=1e-5) for v in range(101)]
    assert bounds == sorted(bounds)
    assert bounds[50] == 0.0 and bounds[100] > 3
    by_delta = [one_run_epsilon_bound(500, 60, 40, 90, delta=d) for d in (0, 1e-6, 1e-4, 1e-3)]
    assert by_delta == sorted(by_delta, reverse=True)


def test_never_exceeds_epsilon_of_per_canary_randomized_response() -> None:
    """Each canary's score is its own coin flip through eps-randomized response: the
    released vector is eps-DP in each canary, so the bound exceeds eps in <= 5% of runs."""
    rng = np.random.default_rng(1)
    eps, m = 1.0, 1000
    keep = math.exp(eps) / (1 + math.exp(eps))
    bounds = []
    for run in range(RUNS):
        included = rng.random(m) < 0.5
        reported = np.where(rng.random(m) < keep, included, ~included)
        scores = reported + 0.01 * rng.random(m)  # ties broken independently of the flips
        audit = one_run_audit_from_scores(scores, included, k_plus=100, k_minus=100, seed=run)
        bounds.append(audit.epsilon_lower_bound)
    bounds = np.array(bounds)
    assert (bounds > eps).sum() <= MAX_EXCEEDANCES
    assert bounds.mean() > 0.3  # power: about 0.5 expected with 200 guesses


def test_grid_search_is_bonferroni_corrected() -> None:
    rng = np.random.default_rng(2)
    included = rng.random(400) < 0.5
    scores = included + rng.normal(scale=0.6, size=400)
    audit = one_run_audit_from_scores(scores, included, seed=0)
    assert len(audit.candidates) == 4
    best = max(audit.candidates, key=lambda c: c["bound"])
    assert audit.epsilon_lower_bound == best["bound"]
    assert (audit.k_plus, audit.k_minus, audit.correct) == (
        best["k_plus"],
        best["k_minus"],
        best["correct"],
    )
    # each candidate was bounded at 1 - 0.05 / 4
    assert best["bound"] == pytest.approx(
        one_run_epsilon_bound(
            400, best["k_plus"], best["k_minus"], best["correct"], confidence=1 - 0.05 / 4
        )
    )
    assert (audit.guesses == 1).sum() == audit.k_plus
    assert (audit.guesses == -1).sum() == audit.k_minus


def test_one_run_audit_trains_once_with_half_the_canaries() -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 3))
    y = rng.integers(0, 2, size=300)
    seen: list[int] = []
    memory: dict[bytes, int] = {}

    def train_fn(Xt: np.ndarray, yt: np.ndarray) -> dict[bytes, int]:
        # a "model" that memorises its rows perfectly: maximal leakage
        seen.append(len(Xt))
        return {row.tobytes(): 1 for row in Xt} | memory

    def score_fn(model: dict[bytes, int], Xc: np.ndarray, yc: np.ndarray) -> np.ndarray:
        return np.array([model.get(row.tobytes(), 0) for row in Xc], dtype=float)

    audit = one_run_audit(train_fn, score_fn, X, y, canaries=np.arange(200), seed=0)
    assert isinstance(audit, OneRunAudit)
    assert len(seen) == 1
    assert seen[0] == 100 + audit.included.sum()  # 100 fixed rows + the included canaries
    assert audit.m == 200
    assert audit.correct == audit.n_guesses  # the memoriser is always right
    assert audit.epsilon_lower_bound > 2
    # canaries as extra rows
    extra = one_run_audit(
        train_fn, score_fn, X, y, canaries=(rng.normal(size=(50, 3)), np.zeros(50)), seed=1
    )
    assert extra.m == 50 and extra.correct == extra.n_guesses
    assert extra.to_dict()["correct"] == extra.correct


def test_bad_input_is_refused() -> None:
    with pytest.raises(ParameterError, match="correct <= k_plus"):
        one_run_epsilon_bound(10, 3, 3, 7)
    with pytest.raises(ParameterError, match="correct <= k_plus"):
        one_run_epsilon_bound(10, 8, 3, 2)
    with pytest.raises(ParameterError, match="confidence"):
        one_run_epsilon_bound(10, 3, 3, 4, confidence=0)
    with pytest.raises(ParameterError, match="delta"):
        one_run_epsilon_bound(10, 3, 3, 4, delta=-1e-5)
    with pytest.raises(ParameterError, match="whole number"):
        one_run_epsilon_bound(10, 3.5, 3, 4)
    with pytest.raises(DataError, match="canary scores is empty"):
        one_run_audit_from_scores([], np.array([], dtype=bool))
    with pytest.raises(DataError, match="NaN"):
        one_run_audit_from_scores([1.0, float("nan")], np.array([True, False]))
    with pytest.raises(DataError, match="one bool per canary"):
        one_run_audit_from_scores([1.0, 2.0], [1, 0])
    with pytest.raises(ParameterError, match="both k_plus and k_minus"):
        one_run_audit_from_scores([1.0, 2.0], np.array([True, False]), k_plus=1)
    with pytest.raises(ParameterError, match="distinct rows"):
        one_run_audit(None, None, np.zeros((5, 2)), np.zeros(5), canaries=[0, 0, 9])
