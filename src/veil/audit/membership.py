"""Membership inference from attack scores: ROC, AUC, TPR at low FPR, and the loss attack.

An attack gives each example a score (higher = more likely a training member).
How well the scores separate members from non-members is read three ways:
the ROC curve and its area (AUC, 0.5 = guessing), the true-positive rate at
a small false-positive rate (Carlini et al. 2022 argue this is what matters: an
attack that confidently identifies a few people is a privacy failure even at
an AUC near 0.5), and the epsilon lower bound the scores prove
(:mod:`veil.audit.bounds`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from veil.audit.bounds import _split_bound, check_confidence, check_delta, check_scores
from veil.audit.results import MembershipAudit

__all__ = [
    "DEFAULT_FPRS",
    "auc_score",
    "loss_threshold_attack",
    "membership_audit",
    "roc_curve",
    "tpr_at_fpr",
]

DEFAULT_FPRS: tuple[float, ...] = (0.001, 0.01)


def roc_curve(member_scores: Any, nonmember_scores: Any) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, tpr) of the tests "score >= t" for every distinct score t, by decreasing t.

    Starts at (0, 0) (a threshold above every score) and ends at (1, 1); tied
    scores move both rates in one step, as ``sklearn.metrics.roc_curve`` does.
    """
    members = check_scores("member scores", member_scores)
    nonmembers = check_scores("non-member scores", nonmember_scores)
    scores = np.concatenate([members, nonmembers])
    is_member = np.concatenate([np.ones(members.size), np.zeros(nonmembers.size)])
    order = np.argsort(-scores, kind="stable")
    scores, is_member = scores[order], is_member[order]
    # the last position of each run of equal scores closes one threshold
    ends = np.flatnonzero(np.diff(scores) != 0)
    ends = np.append(ends, scores.size - 1)
    tp = np.cumsum(is_member)[ends]
    fp = (ends + 1) - tp
    tpr = np.concatenate([[0.0], tp / members.size])
    fpr = np.concatenate([[0.0], fp / nonmembers.size])
    return fpr, tpr


def auc_score(member_scores: Any, nonmember_scores: Any) -> float:
    """Area under the ROC curve: P(member score > non-member score) + P(tie) / 2.

    The Mann-Whitney statistic over members x non-members, from average ranks.
    """
    members = check_scores("member scores", member_scores)
    nonmembers = check_scores("non-member scores", nonmember_scores)
    ranks = stats.rankdata(np.concatenate([members, nonmembers]))
    u = ranks[: members.size].sum() - members.size * (members.size + 1) / 2.0
    return float(u / (members.size * nonmembers.size))


def tpr_at_fpr(fpr: np.ndarray, tpr: np.ndarray, rate: float) -> float:
    """The largest TPR of a threshold whose FPR is at most ``rate`` (0 if none but (0, 0))."""
    allowed = fpr <= rate + 1e-12
    return float(tpr[allowed].max())


def membership_audit(
    member_scores: Sequence[float] | np.ndarray,
    nonmember_scores: Sequence[float] | np.ndarray,
    *,
    attack: str = "scores",
    delta: float = 0.0,
    confidence: float = 0.95,
    fprs: Sequence[float] = DEFAULT_FPRS,
    epsilon: float | None = None,
    seed: int | None = 0,
    details: dict[str, Any] | None = None,
) -> MembershipAudit:
    """A :class:`MembershipAudit` from any attack's scores (higher = more likely member).

    Parameters
    ----------
    member_scores, nonmember_scores
        Scores of examples in and out of the model's training set.
    attack
        Name of the attack, for the report.
    delta, confidence
        Of the epsilon lower bound (:func:`veil.audit.best_epsilon_lower_bound`).
    fprs
        False-positive rates at which the TPR is reported.
    epsilon
        The model's proven epsilon, when known, shown beside the bound.
    seed
        Seed of the split that chooses the threshold honestly.
    """
    members = check_scores("member scores", member_scores)
    nonmembers = check_scores("non-member scores", nonmember_scores)
    delta = check_delta(delta)
    confidence = check_confidence(confidence)
    fpr, tpr = roc_curve(members, nonmembers)
    bound, threshold = _split_bound(members, nonmembers, delta, confidence, seed)
    return MembershipAudit(
        attack=attack,
        auc=auc_score(members, nonmembers),
        tpr_at_fpr={float(rate): tpr_at_fpr(fpr, tpr, rate) for rate in fprs},
        epsilon_lower_bound=bound,
        delta=delta,
        confidence=confidence,
        n_members=int(members.size),
        n_nonmembers=int(nonmembers.size),
        fpr=fpr,
        tpr=tpr,
        threshold=threshold,
        epsilon=epsilon,
        details=dict(details or {}),
    )


def loss_threshold_attack(
    member_losses: Sequence[float] | np.ndarray,
    nonmember_losses: Sequence[float] | np.ndarray,
    *,
    delta: float = 0.0,
    confidence: float = 0.95,
    fprs: Sequence[float] = DEFAULT_FPRS,
    epsilon: float | None = None,
    seed: int | None = 0,
) -> MembershipAudit:
    """The loss-threshold membership attack (Yeom et al. 2018): low loss means member.

    The simplest attack there is: a model fits its training examples better
    than unseen ones, so "loss <= t" guesses membership. It needs nothing but
    the per-example losses of the model on records known to be in its training
    set and on held-out records.

    Parameters
    ----------
    member_losses, nonmember_losses
        Per-example losses (e.g. cross-entropy) on training and held-out rows.
    delta, confidence, fprs, epsilon, seed
        As in :func:`membership_audit`.

    Returns
    -------
    MembershipAudit

    Raises
    ------
    DataError
        Empty, non-1-D, NaN or infinite losses.
    ParameterError
        delta outside [0, 1) or confidence outside (0, 1).
    """
    members = check_scores("member losses", member_losses)
    nonmembers = check_scores("non-member losses", nonmember_losses)
    return membership_audit(
        -members,
        -nonmembers,
        attack="loss_threshold",
        delta=delta,
        confidence=confidence,
        fprs=fprs,
        epsilon=epsilon,
        seed=seed,
    )
