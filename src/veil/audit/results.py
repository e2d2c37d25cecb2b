"""What an audit found: membership-inference results, the one-run audit, canary exposure.

Each is a frozen dataclass with ``to_dict()`` (plain Python, JSON-ready) and
``to_document()`` (terminal and HTML reports, see :mod:`veil.report`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from veil.report import Document, Paragraph, Result, RocChart, RocCurve, Section, Table

__all__ = ["CanaryExposure", "MembershipAudit", "OneRunAudit"]


def _rate_label(rate: float) -> str:
    return f"{rate * 100:g}%"


def _verdict(bound: float, delta: float, confidence: float, epsilon: float | None) -> Paragraph:
    """The lower bound in words, beside the proven epsilon when there is one."""
    if bound <= 0.0:
        text = "The attack proves nothing (lower bound 0); that does not show the model private."
    else:
        text = (
            f"With {confidence:.0%} confidence the training is not (epsilon, {delta:g})-DP "
            f"for any epsilon below {bound:.3g}."
        )
    if epsilon is None:
        return Paragraph(text, "note")
    if bound > epsilon:
        return Paragraph(
            text + f" That is ABOVE the proven epsilon {epsilon:.3g}: the training code or its "
            "accounting does not give the guarantee it claims (or the "
            f"{1 - confidence:.0%} chance of a wrong bound came up: repeat the audit).",
            "warn",
        )
    return Paragraph(
        text + f" The proven epsilon is {epsilon:.3g}: the gap is the attack's weakness or "
        "the proof's slack.",
        "good",
    )


@dataclass(frozen=True)
class MembershipAudit(Result):
    """A membership-inference attack's success against one model.

    Attributes
    ----------
    attack
        ``"loss_threshold"`` (Yeom et al. 2018), ``"lira_online"`` or
        ``"lira_offline"`` (Carlini et al. 2022).
    auc
        Area under the ROC curve: 0.5 is guessing, 1 is perfect.
    tpr_at_fpr
        True-positive rate at false-positive rates 0.1% and 1% (the largest TPR
        of a threshold whose FPR does not exceed the rate): what an attacker that
        must rarely be wrong achieves.
    epsilon_lower_bound
        The epsilon the attack proves at ``confidence`` (see
        :func:`veil.audit.best_epsilon_lower_bound`); 0 when it proves nothing.
    delta, confidence
        The delta of the audited guarantee and the bound's confidence.
    n_members, n_nonmembers
        Examples attacked in each group.
    fpr, tpr
        The ROC curve, by decreasing threshold.
    threshold
        Score threshold behind the lower bound.
    epsilon
        The proven epsilon of the model, when known, shown beside the bound.
    """

    attack: str
    auc: float
    tpr_at_fpr: dict[float, float]
    epsilon_lower_bound: float
    delta: float
    confidence: float
    n_members: int
    n_nonmembers: int
    fpr: np.ndarray = field(repr=False)
    tpr: np.ndarray = field(repr=False)
    threshold: float
    epsilon: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def roc(self) -> tuple[np.ndarray, np.ndarray]:
        """(fpr, tpr) of the ROC curve, by decreasing threshold."""
        return self.fpr, self.tpr

    def to_dict(self) -> dict[str, Any]:
        return {
            "attack": self.attack,
            "auc": self.auc,
            "tpr_at_fpr": {str(k): v for k, v in self.tpr_at_fpr.items()},
            "epsilon_lower_bound": self.epsilon_lower_bound,
            "epsilon": self.epsilon,
            "delta": self.delta,
            "confidence": self.confidence,
            "n_members": self.n_members,
            "n_nonmembers": self.n_nonmembers,
            "threshold": self.threshold,
            "roc": {"fpr": self.fpr.tolist(), "tpr": self.tpr.tolist()},
            **({"details": self.details} if self.details else {}),
        }

    def to_document(self) -> Document:
        rows: list[list[Any]] = [["AUC", self.auc]]
        rows += [[f"TPR at {_rate_label(k)} FPR", v] for k, v in self.tpr_at_fpr.items()]
        rows.append([f"epsilon lower bound ({self.confidence:.0%})", self.epsilon_lower_bound])
        if self.epsilon is not None:
            rows.append(["proven epsilon", self.epsilon])
        rows += [["members attacked", self.n_members], ["non-members attacked", self.n_nonmembers]]
        blocks: list[Any] = [
            Table(["", "value"], rows, title=f"Membership inference: {self.attack}"),
            RocChart([RocCurve(self.attack, self.fpr, self.tpr)], "ROC (log-log)", log_scale=True),
            _verdict(self.epsilon_lower_bound, self.delta, self.confidence, self.epsilon),
        ]
        return Document(
            title="Privacy audit: membership inference",
            subtitle=f"{self.attack} attack on {self.n_members} members and "
            f"{self.n_nonmembers} non-members",
            sections=[Section("Attack", blocks)],
        )


@dataclass(frozen=True)
class OneRunAudit(Result):
    """The one-run audit of Steinke, Nasr and Jagielski (2023).

    Attributes
    ----------
    epsilon_lower_bound
        The largest epsilon for which ``correct`` right guesses out of
        ``k_plus + k_minus`` would have probability below 1 - ``confidence``
        under (epsilon, delta)-DP; 0 when the guesses prove nothing.
    m
        Canaries, each included in training independently with probability 1/2.
    k_plus, k_minus
        Canaries guessed "in" (highest scores) and "out" (lowest scores).
    correct
        Right guesses.
    guesses
        Per canary: +1 guessed in, -1 guessed out, 0 abstained.
    included
        Per canary: whether it was in the training set.
    scores
        Per canary attack score (higher = more likely in).
    """

    epsilon_lower_bound: float
    m: int
    k_plus: int
    k_minus: int
    correct: int
    delta: float
    confidence: float
    guesses: np.ndarray = field(repr=False)
    included: np.ndarray = field(repr=False)
    scores: np.ndarray = field(repr=False)
    epsilon: float | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list, repr=False)

    @property
    def n_guesses(self) -> int:
        """Canaries not abstained on: k_plus + k_minus."""
        return self.k_plus + self.k_minus

    def to_dict(self) -> dict[str, Any]:
        return {
            "attack": "one_run",
            "epsilon_lower_bound": self.epsilon_lower_bound,
            "epsilon": self.epsilon,
            "delta": self.delta,
            "confidence": self.confidence,
            "m": self.m,
            "k_plus": self.k_plus,
            "k_minus": self.k_minus,
            "guesses": self.n_guesses,
            "correct": self.correct,
            "candidates": self.candidates,
        }

    def to_document(self) -> Document:
        rows = [
            ["canaries (m)", self.m],
            ["guessed in (k+)", self.k_plus],
            ["guessed out (k-)", self.k_minus],
            ["correct guesses", self.correct],
            [f"epsilon lower bound ({self.confidence:.0%})", self.epsilon_lower_bound],
        ]
        if self.epsilon is not None:
            rows.append(["proven epsilon", self.epsilon])
        verdict = _verdict(self.epsilon_lower_bound, self.delta, self.confidence, self.epsilon)
        return Document(
            title="Privacy audit: one training run",
            subtitle="Steinke, Nasr and Jagielski (2023)",
            sections=[Section("Audit", [Table(["", "value"], rows), verdict])],
        )


@dataclass(frozen=True)
class CanaryExposure(Result):
    """Exposure of secrets planted in a training corpus (Carlini et al. 2019).

    exposure = log2 |R| - log2 rank, where rank is the position of the planted
    secret among all |R| candidates of its randomness space, ordered by the
    model's log-perplexity. A secret the model did not learn has a uniformly
    random rank (exposure about log2(e) = 1.44 bits on average); a memorised
    one ranks first (exposure log2 |R|).

    Attributes
    ----------
    canaries
        The planted texts.
    ranks
        Rank of each secret (1 = the model's favourite); fractional when
        extrapolated.
    exposures
        Exposure of each canary, in bits.
    log2_space
        log2 |R|, the largest possible exposure.
    method
        ``"exact"`` (every candidate scored) or ``"extrapolated"`` (a
        skew-normal fit to sampled candidates, Carlini et al. 2019, section 4.3).
    repetitions
        Times each canary was inserted.
    """

    canaries: list[str]
    ranks: list[float]
    exposures: list[float]
    log2_space: float
    method: str
    repetitions: int
    perplexities: list[float] = field(default_factory=list)
    epsilon: float | None = None

    @property
    def mean_exposure(self) -> float:
        return float(np.mean(self.exposures))

    @property
    def max_exposure(self) -> float:
        return float(np.max(self.exposures))

    def to_dict(self) -> dict[str, Any]:
        return {
            "attack": "canary_exposure",
            "canaries": self.canaries,
            "ranks": self.ranks,
            "exposures": self.exposures,
            "mean_exposure": self.mean_exposure,
            "max_exposure": self.max_exposure,
            "log2_space": self.log2_space,
            "method": self.method,
            "repetitions": self.repetitions,
            "perplexities": self.perplexities,
            "epsilon": self.epsilon,
        }

    def to_document(self) -> Document:
        rows = [
            [c, r, e] for c, r, e in zip(self.canaries, self.ranks, self.exposures, strict=True)
        ]
        text = (
            f"The randomness space holds 2^{self.log2_space:.3g} candidates: exposure "
            f"{self.log2_space:.3g} bits means the model ranks the secret first, about 1.4 bits "
            f"is chance. Ranks are {self.method}; each canary was inserted "
            f"{self.repetitions} time(s)."
        )
        return Document(
            title="Privacy audit: canary exposure",
            subtitle="Carlini et al. (2019), The Secret Sharer",
            sections=[
                Section(
                    "Canaries",
                    [Table(["canary", "rank", "exposure (bits)"], rows), Paragraph(text)],
                )
            ],
        )
