"""ROC, AUC and TPR at low FPR against scikit-learn; the loss attack and its result object."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from veil.audit import (
    MembershipAudit,
    auc_score,
    loss_threshold_attack,
    membership_audit,
    roc_curve,
    tpr_at_fpr,
)
from veil.errors import DataError, ParameterError

scores = st.lists(st.integers(0, 6).map(float), min_size=1, max_size=40)


@settings(max_examples=100, deadline=None)
@given(scores, scores)
def test_roc_and_auc_equal_scikit_learn(members: list[float], nonmembers: list[float]) -> None:
    y = np.r_[np.ones(len(members)), np.zeros(len(nonmembers))]
    s = np.r_[members, nonmembers]
    fpr, tpr = roc_curve(members, nonmembers)
    sk_fpr, sk_tpr, _ = sk_roc_curve(y, s, drop_intermediate=False)
    # scikit-learn starts at (0, 0) too; same points in the same order
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    assert auc_score(members, nonmembers) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_tpr_at_fpr_takes_the_best_threshold_within_the_rate() -> None:
    # members 10..19, non-members 0..9 and one non-member at 15
    members = np.arange(10, 20, dtype=float)
    nonmembers = np.r_[np.arange(0, 9, dtype=float), 15.0]
    fpr, tpr = roc_curve(members, nonmembers)
    assert tpr_at_fpr(fpr, tpr, 0.0) == pytest.approx(0.4)  # 16..19 before the 15
    assert tpr_at_fpr(fpr, tpr, 0.1) == pytest.approx(1.0)  # one false positive allowed
    assert tpr_at_fpr(fpr, tpr, 0.099) == pytest.approx(0.4)


def test_loss_threshold_attack_reads_low_loss_as_member() -> None:
    rng = np.random.default_rng(0)
    member_losses = rng.exponential(0.1, size=1000)
    nonmember_losses = rng.exponential(1.0, size=1000)
    audit = loss_threshold_attack(member_losses, nonmember_losses)
    assert isinstance(audit, MembershipAudit)
    assert audit.attack == "loss_threshold"
    # P(X_member < X_non) for exponentials of means 0.1 and 1 is 1 / (1 + 0.1) = 0.909
    assert audit.auc == pytest.approx(1 / 1.1, abs=0.03)
    assert audit.epsilon_lower_bound > 0.5
    assert set(audit.tpr_at_fpr) == {0.001, 0.01}
    assert audit.n_members == audit.n_nonmembers == 1000
    swapped = loss_threshold_attack(nonmember_losses, member_losses)
    assert swapped.auc == pytest.approx(1 - audit.auc)


def test_result_serialises_and_renders() -> None:
    audit = membership_audit([3.0, 2.0, 2.5, 4.0], [1.0, 2.0, 0.5, 0.0], attack="toy", epsilon=1.0)
    d = json.loads(audit.to_json())
    assert d["attack"] == "toy"
    assert d["epsilon"] == 1.0
    assert {"auc", "epsilon_lower_bound", "tpr_at_fpr", "roc", "delta", "confidence"} <= set(d)
    assert d["roc"]["fpr"][0] == 0.0 and d["roc"]["tpr"][-1] == 1.0
    fpr, tpr = audit.roc
    assert fpr.shape == tpr.shape
    doc = audit.to_document()
    assert "proven epsilon is 1" in " ".join(
        b.text for s in doc.sections for b in s.blocks if hasattr(b, "text")
    )
    with pytest.raises(AttributeError):
        audit.auc = 0.0  # frozen


def test_bad_input_is_refused() -> None:
    with pytest.raises(DataError, match="member losses is empty"):
        loss_threshold_attack([], [1.0, 2.0])
    with pytest.raises(DataError, match="non-member losses holds 1 NaN"):
        loss_threshold_attack([1.0, 2.0], [float("nan"), 1.0])
    with pytest.raises(ParameterError, match="confidence"):
        loss_threshold_attack([1.0, 2.0], [1.0, 2.0], confidence=1.0)
    with pytest.raises(ParameterError, match="delta"):
        loss_threshold_attack([1.0, 2.0], [1.0, 2.0], delta=1.0)
    with pytest.raises(DataError, match="numbers"):
        loss_threshold_attack(["a", "b"], [1.0, 2.0])


def test_a_bound_above_the_proven_epsilon_is_flagged() -> None:
    rng = np.random.default_rng(5)
    audit = loss_threshold_attack(
        rng.exponential(0.01, size=500), rng.exponential(1.0, size=500), epsilon=0.1
    )
    assert audit.epsilon_lower_bound > 0.1
    verdict = [b for s in audit.to_document().sections for b in s.blocks if hasattr(b, "tone")]
    assert verdict[-1].tone == "warn" and "ABOVE the proven epsilon" in verdict[-1].text
    html = audit.to_html()
    assert "<svg" in html and "ABOVE the proven epsilon" in html
