"""What a latent code costs and keeps: a linkage attack on it, and a model's AUC on it.

The attack (a record-linkage attack in the sense of Fellegi and Sunter 1969,
run against released codes as in the "privacy-preserving framework for ML on
sensitive data" setting): the attacker knows the encoder (published with the
codes, or guessable), the quasi-identifiers of some people known to be in the
data (from a voter roll, a social profile) and a public sample of the same
population. For each target it fills the attributes it does not know with
those of the public rows that share the target's quasi-identifiers most
closely (their mean, in the encoded space), encodes that guess, and takes the
released code nearest to it. The re-identification rate is the share of
targets whose nearest code is their own; chance is 1 / (number of codes).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from veil.errors import ColumnError, DataError, ParameterError
from veil.io import to_polars
from veil.learn.latent import LatentEncoder, add_latent_noise
from veil.report import Document, Paragraph, Result, Section, Table

__all__ = ["LatentEvaluation", "evaluate_latent", "linkage_attack"]


def _feature_slices(encoder: LatentEncoder, columns: Sequence[str]) -> np.ndarray:
    """Indices of the encoded features that come from ``columns``."""
    idx, pos = [], 0
    for spec in encoder.encoder_.specs:
        if spec.name in columns:
            idx.extend(range(pos, pos + spec.width))
        pos += spec.width
    return np.asarray(idx, dtype=np.int64)


def linkage_attack(
    project: Callable[[np.ndarray], np.ndarray],
    released: np.ndarray,
    targets: np.ndarray,
    public: np.ndarray,
    quasi_idx: np.ndarray,
    *,
    neighbours: int = 10,
    top: int = 10,
) -> tuple[float, float]:
    """Re-identification rates (top 1, top ``top``) of ``targets`` among ``released`` codes.

    Parameters
    ----------
    project
        The encoder the attacker holds: encoded features to codes
        (``LatentEncoder.project``; the identity for raw rows).
    released
        The codes the attacker sees, one per private row (row i is person i).
    targets
        Encoded features of the attacked people, rows ``0..len(targets)-1``
        of the private table: only their ``quasi_idx`` features are used.
    public
        Encoded features of the public sample.
    """
    from sklearn.neighbors import NearestNeighbors

    known = targets[:, quasi_idx]
    near = NearestNeighbors(n_neighbors=min(neighbours, len(public))).fit(public[:, quasi_idx])
    _, which = near.kneighbors(known)
    guess = public[which].mean(axis=1)  # unknown attributes: those of look-alikes
    guess[:, quasi_idx] = known
    codes = project(guess)
    index = NearestNeighbors(n_neighbors=min(top, len(released))).fit(released)
    _, found = index.kneighbors(codes)
    truth = np.arange(len(targets))[:, None]
    first = float(np.mean(found[:, 0] == truth[:, 0]))
    return first, float(np.mean((found == truth).any(axis=1)))


def _auc(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    model = LogisticRegression(max_iter=2000).fit(x_train, y_train)
    return float(roc_auc_score(y_test, model.predict_proba(x_test)[:, 1]))


@dataclass(frozen=True)
class LatentEvaluation(Result):
    """Utility and re-identification risk of a latent representation."""

    method: str
    n_components: int
    target: str
    auc_raw: float
    auc_latent: float
    reidentification: float
    reidentification_top: float
    top: int
    reidentification_raw: float
    baseline: float
    n_released: int
    n_targets: int
    quasi: tuple[str, ...]
    noise: dict[str, float] | None = None

    @property
    def lift(self) -> float:
        """How many times chance the attack re-identifies (nearest code)."""
        return self.reidentification / self.baseline

    @property
    def lift_top(self) -> float:
        """How many times chance the target is among the ``top`` nearest codes."""
        return self.reidentification_top / min(1.0, self.top * self.baseline)

    @property
    def identifying(self) -> bool:
        """At least 10 times chance, on at least 5 targets, at top 1 or top ``top``."""
        first = self.lift >= 10 and self.reidentification * self.n_targets >= 5
        near = self.lift_top >= 10 and self.reidentification_top * self.n_targets >= 5
        return first or near

    @property
    def summary(self) -> str:
        noisy = (
            f"with Gaussian noise (epsilon {self.noise['epsilon']:g}, delta "
            f"{self.noise['delta']:g} per row, given the encoder)"
            if self.noise
            else "without noise"
        )
        verdict = (
            "The codes are NOT anonymous: the attack does far better than chance."
            if self.identifying
            else "The attack did not do clearly better than chance here."
        )
        return (
            f"A linkage attack knowing {len(self.quasi)} quasi-identifiers of {self.n_targets} "
            f"people, the encoder and a public sample found {self.reidentification:.1%} of them "
            f"as the nearest of {self.n_released:,} {self.method} codes {noisy} "
            f"({self.lift:,.0f} times chance) and {self.reidentification_top:.1%} among the "
            f"{self.top} nearest ({self.lift_top:,.0f} times chance). {verdict}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "n_components": self.n_components,
            "utility": {
                "target": self.target,
                "auc_raw": self.auc_raw,
                "auc_latent": self.auc_latent,
            },
            "linkage_attack": {
                "quasi": list(self.quasi),
                "targets": self.n_targets,
                "released": self.n_released,
                "reidentification": self.reidentification,
                f"reidentification_top{self.top}": self.reidentification_top,
                "reidentification_raw_rows": self.reidentification_raw,
                "random_baseline": self.baseline,
                "times_chance": self.lift,
                f"times_chance_top{self.top}": self.lift_top,
                "identifying": self.identifying,
            },
            "noise": self.noise,
            "summary": self.summary,
        }

    def to_document(self) -> Document:
        utility = Table(
            ["features", f"AUC for {self.target}"],
            [
                ["raw (encoded) rows", self.auc_raw],
                [f"{self.n_components} latents", self.auc_latent],
            ],
        )
        attack = Table(
            ["", "value"],
            [
                ["re-identified (nearest code)", self.reidentification],
                [f"re-identified within the {self.top} nearest", self.reidentification_top],
                ["same attack on raw rows", self.reidentification_raw],
                ["random baseline", self.baseline],
            ],
        )
        tone = "warn" if self.identifying else "good"
        return Document(
            title=f"Latent representation: {self.method}, k={self.n_components}",
            subtitle=f"{self.n_released:,} rows; quasi-identifiers {', '.join(self.quasi)}",
            sections=[
                Section("Utility", [utility]),
                Section("Linkage attack", [attack, Paragraph(self.summary, tone=tone)]),
            ],
        )


def _binary_target(series: pl.Series, name: str) -> np.ndarray:
    values = series.cast(pl.String).str.strip_chars()
    classes = values.drop_nulls().unique().sort().to_list()
    if len(classes) != 2 or values.null_count():
        raise DataError(
            f"target {name!r} must have exactly two classes and no missing values for the AUC; "
            f"it has {len(classes)} classes{' and missing values' if values.null_count() else ''}"
        )
    return (values == classes[1]).to_numpy().astype(np.int64)


def evaluate_latent(
    encoder: LatentEncoder,
    data: Any,
    *,
    target: str,
    quasi: Sequence[str],
    public_fraction: float = 0.3,
    n_targets: int = 1000,
    test_fraction: float = 0.3,
    noise: dict[str, float] | None = None,
    top: int = 10,
    seed: int = 0,
) -> LatentEvaluation:
    """Fit ``encoder`` on the private part of ``data`` and measure utility and linkage risk.

    The rows are split at random (``seed``) into a public sample
    (``public_fraction``, the attacker's) and the private rows, whose codes are
    released. Utility: logistic regression AUC for ``target`` on the codes vs
    on the encoded rows (train/test split of the private rows). Privacy:
    :func:`linkage_attack` on ``n_targets`` private rows using ``quasi``; the
    same attack on the raw encoded rows is reported beside it.

    Parameters
    ----------
    noise
        ``{"epsilon": e, "delta": d, "clip": c}``: release the codes through
        :func:`~veil.learn.latent.add_latent_noise` (the attack and the AUC
        then see the noisy codes).
    """
    frame, _ = to_polars(data)
    assert isinstance(frame, pl.DataFrame)
    missing = [c for c in [target, *quasi] if c not in frame.columns]
    if missing:
        raise ColumnError(
            f"column(s) {', '.join(map(repr, missing))} not found; columns are: "
            f"{', '.join(frame.columns)}"
        )
    if target in quasi or not quasi:
        raise ParameterError("give at least one quasi-identifier, other than the target")
    if not 0.0 < public_fraction < 1.0:
        raise ParameterError(f"public_fraction must be in (0, 1); got {public_fraction}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(frame.height)
    n_public = round(public_fraction * frame.height)
    public_rows, private_rows = order[:n_public], order[n_public:]
    if len(private_rows) < 20 or n_public < 10:
        raise DataError(f"{frame.height} rows are too few to evaluate (need some 50 or more)")
    private = frame[private_rows]
    y = _binary_target(private[target], target)  # checked before any fitting
    features = private.drop(target)
    encoder.fit(features)
    x_private = encoder.encode(features)
    x_public = encoder.encode(frame[public_rows].drop(target))
    codes = encoder.project(x_private)
    noise_info = None
    if noise is not None:
        codes, loss = add_latent_noise(
            codes, epsilon=noise["epsilon"], delta=noise["delta"], clip=noise["clip"]
        )
        noise_info = {**noise, "rho": float(loss.rho) if loss.rho is not None else math.nan}
    split = rng.permutation(len(private_rows))
    n_test = round(test_fraction * len(split))
    test, train = split[:n_test], split[n_test:]
    auc_raw = _auc(x_private[train], y[train], x_private[test], y[test])
    auc_latent = _auc(codes[train], y[train], codes[test], y[test])
    n_att = min(n_targets, len(private_rows))
    quasi_idx = _feature_slices(encoder, quasi)
    targets = x_private[:n_att]
    hit, hit_top = linkage_attack(encoder.project, codes, targets, x_public, quasi_idx, top=top)
    raw_hit, _ = linkage_attack(lambda x: x, x_private, targets, x_public, quasi_idx, top=1)
    return LatentEvaluation(
        method=encoder.method,
        n_components=encoder.n_components,
        target=target,
        auc_raw=auc_raw,
        auc_latent=auc_latent,
        reidentification=hit,
        reidentification_top=hit_top,
        top=top,
        reidentification_raw=raw_hit,
        baseline=1.0 / len(private_rows),
        n_released=len(private_rows),
        n_targets=n_att,
        quasi=tuple(quasi),
        noise=noise_info,
    )
