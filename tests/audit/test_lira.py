"""LiRA's pieces (Carlini et al. 2022): the Gaussian fits, the logit scaling, the shadow halves."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from veil.audit import lira_attack, lira_scores, logit_confidence
from veil.audit.lira import _membership_matrix
from veil.errors import DataError, ParameterError


def test_online_score_is_the_gaussian_log_likelihood_ratio() -> None:
    rng = np.random.default_rng(0)
    shadows, n = 16, 30
    inside = _membership_matrix(shadows, n, rng)
    scores = rng.normal(size=(shadows, n)) + 2.0 * inside
    target = rng.normal(size=n)
    got = lira_scores(scores, inside, target, online=True, global_variance=False)
    for j in range(n):
        s_in, s_out = scores[inside[:, j], j], scores[~inside[:, j], j]
        expected = stats.norm.logpdf(target[j], s_in.mean(), s_in.std(ddof=1)) - stats.norm.logpdf(
            target[j], s_out.mean(), s_out.std(ddof=1)
        )
        assert got[j] == pytest.approx(expected, rel=1e-9)


def test_offline_score_is_the_z_score_against_out_models() -> None:
    rng = np.random.default_rng(1)
    inside = _membership_matrix(8, 20, rng)
    scores = rng.normal(size=(8, 20))
    target = rng.normal(size=20)
    got = lira_scores(scores, inside, target, online=False, global_variance=False)
    out = np.where(~inside, scores, np.nan)
    expected = (target - np.nanmean(out, axis=0)) / np.nanstd(out, axis=0, ddof=1)
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    # a global variance pools the per-example variances: one scale for every example
    pooled = lira_scores(scores, inside, target, online=False, global_variance=True)
    scale = (target - np.nanmean(out, axis=0)) / pooled
    np.testing.assert_allclose(scale, scale[0], rtol=1e-9)
    assert scale[0] == pytest.approx(np.sqrt(np.nanvar(out, axis=0, ddof=1).mean()))


def test_each_example_is_in_exactly_half_the_shadows() -> None:
    inside = _membership_matrix(8, 1000, np.random.default_rng(2))
    assert (inside.sum(axis=0) == 4).all()
    # and the halves differ: each shadow trains on about half the rows
    assert 400 < inside.sum(axis=1).min() <= inside.sum(axis=1).max() < 600


def test_logit_confidence_is_log_odds_of_the_true_label() -> None:
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(50, 4))
    labels = rng.integers(0, 4, size=50)
    p = special.softmax(logits, axis=1)[np.arange(50), labels]
    np.testing.assert_allclose(logit_confidence(logits, labels), np.log(p / (1 - p)), rtol=1e-9)
    # exact where p rounds to 1 in floating point
    extreme = logit_confidence(np.array([[60.0, 0.0, 0.0]]), np.array([0]))
    assert extreme[0] == pytest.approx(60.0 - np.log(2.0))
    # one logit column: the binary model's logit of class 1
    np.testing.assert_allclose(logit_confidence([[1.5], [1.5]], [1, 0]), [1.5, -1.5])


def test_bad_input_is_refused() -> None:
    X, y = np.zeros((10, 2)), np.zeros(10, dtype=int)
    members = np.arange(10) < 5
    args = (lambda X, y: None, lambda m, X, y: np.zeros(len(y)), X, y)
    with pytest.raises(ParameterError, match="n_shadows must be"):
        lira_attack(*args, target_members=members, target_model=None, n_shadows=1)
    with pytest.raises(DataError, match="bool mask"):
        lira_attack(*args, target_members=members.astype(int), target_model=None)
    with pytest.raises(DataError, match="some rows as members"):
        lira_attack(*args, target_members=np.ones(10, bool), target_model=None)
    with pytest.raises(ParameterError, match="confidence"):
        lira_attack(*args, target_members=members, target_model=None, confidence=2)
    with pytest.raises(DataError, match="one per row"):
        lira_attack(
            lambda X, y: None,
            lambda m, X, y: np.zeros(3),
            X,
            y,
            target_members=members,
            target_model=None,
        )
    with pytest.raises(DataError, match="labels must be classes"):
        logit_confidence(np.zeros((2, 3)), [0, 3])
