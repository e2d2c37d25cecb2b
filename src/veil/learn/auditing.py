"""Membership-inference audits of veil's table models (what `veil audit` and `--audit` run).

The attack gets rows that were in the training set (members) and rows that
were not (held out), as many of each, and tries to tell them apart from the
model alone: by each row's loss (Yeom et al. 2018), or by a likelihood ratio
against shadow models retrained the same way (LiRA, Carlini et al. 2022).
:mod:`veil.audit` turns its success into an AUC, true-positive rates at low
false-positive rates and an empirical epsilon lower bound, which a correctly
trained DP model keeps below its proven epsilon.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from veil.errors import ParameterError
from veil.learn.estimators import as_features, as_target
from veil.learn.figures import num
from veil.report import Document, Paragraph, Result, RocChart, RocCurve, Section, Table

__all__ = ["ATTACKS", "ModelAudit", "audit_model", "audit_section"]

ATTACKS = ("loss", "lira")


def _balanced(n_members: int, n_holdout: int, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Equal numbers of member and non-member rows (a fair guess is then 50%)."""
    m = min(n_members, n_holdout)
    if m < 2:
        raise ParameterError(
            f"an audit needs at least 2 training and 2 held-out rows; got {n_members} and "
            f"{n_holdout}"
        )
    rng = np.random.default_rng(seed)
    members = np.sort(rng.choice(n_members, size=m, replace=False))
    others = np.sort(rng.choice(n_holdout, size=m, replace=False))
    return members, others


def audit_model(
    model: Any,
    X_train: Any,
    y_train: Any,
    X_holdout: Any,
    y_holdout: Any,
    *,
    attack: str = "loss",
    delta: float = 0.0,
    confidence: float = 0.95,
    shadows: int = 8,
    seed: int | None = 0,
) -> Any:
    """Attack ``model`` with its training rows against held-out rows.

    Parameters
    ----------
    model
        A fitted :class:`~veil.learn.DPMLPClassifier` or
        :class:`~veil.learn.DPLogisticRegression` (for "lira", retrainable:
        its parameters are reused for the shadow models, without a ledger).
    X_train, y_train
        Rows the model was trained on.
    X_holdout, y_holdout
        Rows from the same population it never saw.
    attack
        "loss" (threshold on each row's loss) or "lira" (shadow models).
    delta, confidence
        For the empirical epsilon lower bound (Clopper-Pearson intervals).
    shadows
        LiRA's number of shadow models, each trained on a random half.

    Returns
    -------
    veil.audit.MembershipAudit
    """
    from veil.audit import lira_attack, loss_threshold_attack

    if attack not in ATTACKS:
        raise ParameterError(f"unknown attack {attack!r}; choose one of: {', '.join(ATTACKS)}")
    train, holdout = as_features(X_train), as_features(X_holdout)
    y_in = as_target(y_train, train.height)
    y_out = as_target(y_holdout, holdout.height)
    members, others = _balanced(train.height, holdout.height, seed)
    if attack == "loss":
        return loss_threshold_attack(
            model.example_losses(train[members], y_in[members]),
            model.example_losses(holdout[others], y_out[others]),
            delta=delta,
            confidence=confidence,
        )
    rows = pl.concat([train[members], holdout[others]], how="vertical_relaxed")
    labels = np.concatenate([y_in[members], y_out[others]])
    is_member = np.r_[np.ones(len(members), bool), np.zeros(len(others), bool)]
    params = {k: v for k, v in model.get_params().items() if k not in ("ledger", "dataset")}
    params["progress"] = False

    # The attack sees row numbers; the functions below look the rows up, so the
    # attack needs to know nothing about tables.
    def train_fn(index: np.ndarray, y: Any) -> Any:
        return type(model)(**params).fit(rows[np.asarray(index)], y)

    def score_fn(fitted: Any, index: np.ndarray, y: Any) -> np.ndarray:
        # LiRA scores the logit-scaled confidence in the true class.
        loss = fitted.example_losses(rows[np.asarray(index)], y)
        p = np.clip(np.exp(-loss), 1e-12, 1 - 1e-12)
        return np.log(p) - np.log1p(-p)

    return lira_attack(
        train_fn,
        score_fn,
        np.arange(rows.height),
        labels,
        target_members=is_member,
        target_model=model,
        n_shadows=shadows,
        delta=delta,
        seed=seed,
    )


def audit_section(audit: Any, epsilon: float | None) -> Section:
    """The membership-inference audit next to the proven epsilon."""
    blocks: list[Any] = [
        Table(
            ["figure", "value"],
            [
                ["attack", audit.attack],
                ["AUC (0.5 = guessing)", num(audit.auc)],
                ["TPR at 0.1% FPR", num(audit.tpr_at_fpr.get(0.001))],
                ["TPR at 1% FPR", num(audit.tpr_at_fpr.get(0.01))],
                [
                    f"empirical epsilon lower bound ({audit.confidence:.0%})",
                    num(audit.epsilon_lower_bound),
                ],
                ["proven epsilon", num(epsilon) if epsilon is not None else "none (not DP)"],
            ],
            title="Membership inference",
        )
    ]
    fpr, tpr = audit.roc
    if len(fpr) > 1:
        blocks.append(
            RocChart(
                [RocCurve(audit.attack, list(fpr), list(tpr))],
                title="Attack ROC (log-log)",
                log_scale=True,
            )
        )
    lower = audit.epsilon_lower_bound
    if epsilon is not None and lower > epsilon:
        text = (
            f"The attack's lower bound ({lower:.3g}) exceeds the proven epsilon "
            f"({epsilon:.3g}): at {audit.confidence:.0%} confidence the training did not "
            "give the guarantee it claims. Investigate before release."
        )
        tone = "warn"
    else:
        text = (
            f"An attacker who knows which rows were candidates is measured to gain a "
            f"privacy loss of at least {lower:.3g}; the proof bounds it by "
            + (f"{epsilon:.3g}." if epsilon is not None else "nothing (not DP).")
            + " The gap is the attack's weakness or the proof's slack."
        )
        tone = "note" if epsilon is not None else "warn"
    blocks.append(Paragraph(text, tone))
    return Section("Audit: what an attacker measures", blocks)


@dataclass
class ModelAudit(Result):
    """`veil audit`'s result: the attack on a saved model, next to its proven epsilon."""

    audit: Any
    epsilon: float | None
    delta: float | None
    model: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "epsilon": self.epsilon,
            "delta": self.delta,
            "audit": self.audit.to_dict(),
        }

    def to_document(self) -> Document:
        return Document(
            title="Membership-inference audit",
            subtitle=self.model,
            sections=[audit_section(self.audit, self.epsilon)],
        )
