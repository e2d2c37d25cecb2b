"""Train on synthetic, test on real (TSTR) against train on real, test on real (TRTR).

Esteban, Hyland and Rätsch 2017; Jordon et al. 2019. The same gradient-boosting
classifier (scikit-learn's HistGradientBoostingClassifier, categories as native
categorical features) is trained once on the synthetic rows and once on the
real training rows, and both are scored on the real holdout: ROC AUC for a
binary target, accuracy otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

__all__ = ["model_inputs", "tstr_scores"]


def model_inputs(
    frames: Sequence[pl.DataFrame], features: Sequence[str], reference: pl.DataFrame
) -> tuple[list[np.ndarray], list[bool]]:
    """Numbers as they are, categories as codes of the reference (flagged categorical)."""
    out: list[list[np.ndarray]] = [[] for _ in frames]
    categorical = []
    for name in features:
        ref = reference.get_column(name)
        if ref.dtype.is_numeric():
            categorical.append(False)
            for k, f in enumerate(frames):
                out[k].append(f.get_column(name).cast(pl.Float64, strict=False).to_numpy())
        else:
            cats = (
                ref.drop_nulls()
                .cast(pl.String)
                .value_counts(sort=True)
                .get_column(name)
                .to_list()[:250]
            )
            index = {c: i for i, c in enumerate(cats)}
            categorical.append(True)
            for k, f in enumerate(frames):
                values = f.get_column(name).cast(pl.String).to_list()
                out[k].append(
                    np.array(
                        [index.get(v, np.nan) if v is not None else np.nan for v in values],
                        dtype=float,
                    )
                )
    return [np.column_stack(o) for o in out], categorical


def tstr_scores(
    train: pl.DataFrame, synthetic: pl.DataFrame, holdout: pl.DataFrame, target: str, seed: int
) -> dict[str, Any]:
    """``{"target", "metric", "tstr", "trtr"}``; a score is None when its rows hold one class."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import accuracy_score, roc_auc_score
    from threadpoolctl import threadpool_limits

    features = [c for c in train.columns if c != target]
    (x_train, x_syn, x_hold), categorical = model_inputs(
        [train, synthetic, holdout], features, train
    )
    labels = train.get_column(target).cast(pl.String)
    classes = labels.drop_nulls().unique().sort().to_list()

    def y(frame: pl.DataFrame) -> np.ndarray:
        index = {c: i for i, c in enumerate(classes)}
        return np.array(
            [index.get(v, -1) for v in frame.get_column(target).cast(pl.String).to_list()]
        )

    y_train, y_syn, y_hold = y(train), y(synthetic), y(holdout)
    keep = y_hold >= 0
    binary = len(classes) == 2
    out: dict[str, Any] = {"target": target, "metric": "auc" if binary else "accuracy"}
    for name, x, labels_ in (("trtr", x_train, y_train), ("tstr", x_syn, y_syn)):
        ok = labels_ >= 0
        if len(np.unique(labels_[ok])) < 2:
            out[name] = None  # one class only: no model to train
            continue
        model = HistGradientBoostingClassifier(categorical_features=categorical, random_state=seed)
        # One thread: OpenMP threads spin and stall each other on a busy machine.
        with threadpool_limits(limits=1):
            model.fit(x[ok], labels_[ok])
        if binary:
            proba = model.predict_proba(x_hold[keep])
            positive = list(model.classes_).index(1) if 1 in model.classes_ else None
            score = proba[:, positive] if positive is not None else np.zeros(keep.sum())
            out[name] = float(roc_auc_score(y_hold[keep] == 1, score))
        else:
            out[name] = float(accuracy_score(y_hold[keep], model.predict(x_hold[keep])))
    return out
