"""One call that does what `veil train` promises: train privately, compare, curve, audit.

:func:`train_table` splits a table into training and held-out rows, trains a DP
model on the training rows (its loss reserved in the ledger first), trains the
same network without privacy on the same rows and encoding as the baseline,
measures both on the held-out rows, optionally retrains at other epsilons for a
privacy-utility curve, and optionally attacks its own model
(:func:`veil.learn.auditing.audit_model`) so the proven epsilon is shown next
to what an attacker measures.

What is and is not private: the **model** carries the DP guarantee. The
accuracies, the curve and the audit are computed on the data owner's rows and
are for the owner's eyes; the report says so. The curve's models are thrown
away, never released, and charge nothing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from veil.errors import ColumnError, DataError, ParameterError
from veil.learn.auditing import audit_model, audit_section
from veil.learn.estimators import DPLogisticRegression, DPMLPClassifier, as_target
from veil.learn.figures import num, pct
from veil.report import (
    Document,
    LineChart,
    LineSeries,
    Paragraph,
    Result,
    Section,
    Table,
)

__all__ = ["TrainingReport", "make_classifier", "train_table", "utility"]

MODELS = ("mlp", "logistic")
_NAMES = {"mlp": "multi-layer perceptron", "logistic": "logistic regression"}


def make_classifier(model: str, **params: Any) -> DPMLPClassifier | DPLogisticRegression:
    """The estimator for a model name: "mlp" or "logistic"."""
    if model == "mlp":
        return DPMLPClassifier(**params)
    if model == "logistic":
        params.pop("hidden_layer_sizes", None)
        return DPLogisticRegression(**params)
    raise ParameterError(f"unknown model {model!r}; choose one of: {', '.join(MODELS)}")


def utility(model: Any, X: Any, y: Any) -> dict[str, float]:
    """Accuracy, and ROC AUC (one-vs-rest, macro, for more than two classes)."""
    from sklearn.metrics import roc_auc_score

    proba = model.predict_proba(X)
    truth = np.asarray([str(v) for v in as_target(y, proba.shape[0])])
    classes = [str(c) for c in model.classes_]
    accuracy = float(np.mean(np.asarray(classes)[proba.argmax(axis=1)] == truth))
    present = set(truth)
    auc = math.nan
    if len(present) > 1:
        if len(classes) == 2:
            auc = float(roc_auc_score(truth == classes[1], proba[:, 1]))
        elif present == set(classes):
            auc = float(roc_auc_score(truth, proba, multi_class="ovr", labels=classes))
    return {"accuracy": accuracy, "auc": auc}


def _baseline(dp_model: Any, X: Any, y: Any, seed: int | None) -> Any:
    """The same network on the same encoding, trained without privacy (the reference)."""
    import copy

    import torch

    from veil.learn import train_non_private

    twin = copy.copy(dp_model)
    if seed is not None:
        torch.manual_seed(seed)
    network = dp_model._network(dp_model.encoder_.width, len(dp_model.classes_))
    features = dp_model.encoder_.transform(X)
    index = {str(c): i for i, c in enumerate(dp_model.classes_)}
    labels = np.array([index[str(v)] for v in as_target(y, X.height)], dtype=np.int64)
    twin.model_ = train_non_private(
        network,
        features,
        labels,
        epochs=dp_model.epochs,
        batch_size=dp_model.batch_size,
        learning_rate=dp_model.learning_rate,
        seed=seed,
    ).eval()
    twin.privacy_ = None
    return twin


def _split(frame: pl.DataFrame, test_size: float, seed: int | None) -> tuple[np.ndarray, ...]:
    if not 0.0 < test_size < 1.0:
        raise ParameterError(f"test_size must be in (0, 1), e.g. 0.2; got {test_size!r}")
    n = frame.height
    n_test = round(n * test_size)
    if n_test < 1 or n - n_test < 2:
        raise DataError(f"{n} rows are too few to hold out {test_size:.0%} for testing")
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_test:]), np.sort(order[:n_test])


@dataclass
class TrainingReport(Result):
    """What `veil train` measured: the DP model against its baseline, the curve, the audit."""

    model: Any
    target: str
    kind: str
    epsilon: float
    delta: float
    metrics: dict[str, float]
    baseline: dict[str, float]
    n_train: int
    n_test: int
    public: list[str]
    training: dict[str, Any]
    curve: list[dict[str, float]] = field(default_factory=list)
    audit: Any = None
    release_id: int | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.kind,
            "target": self.target,
            "epsilon": self.epsilon,
            "delta": self.delta,
            "accuracy": self.metrics["accuracy"],
            "auc": _finite(self.metrics["auc"]),
            "baseline_accuracy": self.baseline["accuracy"],
            "baseline_auc": _finite(self.baseline["auc"]),
            "n_train": self.n_train,
            "n_test": self.n_test,
            "treated_as_public": self.public,
            "training": self.training,
            "curve": self.curve,
            "release_id": self.release_id,
            "seconds": round(self.seconds, 2),
        }
        if self.audit is not None:
            out["audit"] = self.audit.to_dict()
        return out

    def _estimated(self) -> bool:
        return any(s.source == "dp" for s in self.model.encoder_.specs)

    def to_document(self) -> Document:
        rows = [
            ["DP model", pct(self.metrics["accuracy"]), num(self.metrics["auc"])],
            ["same network, no privacy", pct(self.baseline["accuracy"]), num(self.baseline["auc"])],
        ]
        summary = Section(
            "Model",
            [
                Paragraph(
                    f"A {_NAMES.get(self.kind, self.kind)} predicting {self.target!r}, trained "
                    f"with DP-SGD on {self.n_train:,} rows: ({self.epsilon:.3g}, {self.delta:g})-"
                    "differentially private"
                    + (", the bounds estimated with DP included" if self._estimated() else "")
                    + f". Measured on {self.n_test:,} held-out rows.",
                    "good",
                ),
                Table(["model", "accuracy", "ROC AUC"], rows, title="Utility on held-out rows"),
                Table(
                    ["setting", "value"],
                    [[k.replace("_", " "), num(v)] for k, v in self.training.items()],
                    title="Training",
                ),
            ],
        )
        sections = [summary]
        sections.append(
            Section(
                "What was treated as public",
                [Paragraph(p) for p in self.public]
                + [
                    Paragraph(
                        "The accuracies, the curve and the audit in this report are computed on "
                        "the private rows and are not differentially private: they are for the "
                        "data owner. Only the model carries the guarantee.",
                        "warn",
                    )
                ],
            )
        )
        if self.curve:
            xs = [p["epsilon"] for p in self.curve]
            # ROC AUC when it exists: on an imbalanced target a model that always
            # predicts the majority keeps the same accuracy at every epsilon.
            key = "auc" if all(math.isfinite(p["auc"]) for p in self.curve) else "accuracy"
            label = "ROC AUC" if key == "auc" else "accuracy"
            sections.append(
                Section(
                    "Privacy-utility curve",
                    [
                        LineChart(
                            [
                                LineSeries("DP model", xs, [p[key] for p in self.curve]),
                                LineSeries("no privacy", xs, [self.baseline[key]] * len(xs)),
                            ],
                            title=f"Held-out {label} against epsilon",
                            x_label="epsilon",
                            y_label=label,
                        ),
                        Table(
                            ["epsilon", "accuracy", "ROC AUC"],
                            [[p["epsilon"], pct(p["accuracy"]), num(p["auc"])] for p in self.curve],
                        ),
                        Paragraph(
                            "Each point is a model retrained at that epsilon and thrown away; "
                            "none of them was released or charged to the ledger."
                        ),
                    ],
                )
            )
        if self.audit is not None:
            sections.append(audit_section(self.audit, self.epsilon))
        return Document(
            title=f"Private model of {self.target!r}",
            subtitle=f"epsilon {self.epsilon:.3g}, delta {self.delta:g}",
            sections=sections,
        )


def _finite(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def train_table(
    data: Any,
    *,
    target: str,
    epsilon: float,
    delta: float = 1e-5,
    model: str = "mlp",
    drop: Sequence[str] = (),
    bounds: Mapping[str, Any] | None = None,
    categories: Mapping[str, Sequence[Any]] | None = None,
    hidden_layer_sizes: Sequence[int] = (256, 256),
    epochs: int = 10,
    batch_size: int = 256,
    learning_rate: float | None = None,
    max_grad_norm: float = 1.0,
    test_size: float = 0.2,
    curve: Sequence[float] = (),
    audit: bool = False,
    attack: str = "loss",
    ledger: Any = None,
    dataset: str | None = None,
    spender: str | None = None,
    seed: int | None = 0,
    progress: Any = False,
    strip: bool = False,
) -> TrainingReport:
    """Train a DP classifier of ``target`` on a table and measure it (what `veil train` runs).

    Parameters
    ----------
    data
        A path (CSV, Parquet...) or a pandas/polars/pyarrow table.
    target
        The column to predict; every other column not in ``drop`` is a feature.
    epsilon, delta
        The model's total privacy loss (bounds estimation included).
    curve
        Other epsilons to retrain at for the privacy-utility curve (not released).
    audit
        Attack the model (loss-threshold membership inference, training rows
        against held-out rows) and report the empirical epsilon lower bound.
    attack
        "loss" (threshold on each row's loss) or "lira" (shadow models, slower).
    seed
        The split and the weights' initialisation; never the privacy noise.
    strip
        Remove the spaces around text values first (UCI Adult's " <=50K").
    """
    from veil.io import read_table

    start = time.perf_counter()
    frame = read_table(data, strip=strip)
    if target not in frame.columns:
        raise ColumnError(
            f"target column {target!r} not found; columns are: {', '.join(frame.columns)}"
        )
    missing = [c for c in drop if c not in frame.columns]
    if missing:
        raise ColumnError(f"--drop column(s) not found: {', '.join(map(repr, missing))}")
    if frame.height == 0:
        raise DataError("the table is empty; nothing to train on")
    features = frame.drop([target, *drop])
    labels = frame[target]
    train_rows, test_rows = _split(frame, test_size, seed)
    X_train, X_test = features[train_rows], features[test_rows]
    y_train, y_test = labels[train_rows], labels[test_rows]
    params: dict[str, Any] = {
        "hidden_layer_sizes": tuple(hidden_layer_sizes),
        "epsilon": epsilon,
        "delta": delta,
        "epochs": epochs,
        "batch_size": batch_size,
        "max_grad_norm": max_grad_norm,
        "bounds": bounds,
        "categories": categories,
        "seed": seed,
    }
    if learning_rate is not None:
        params["learning_rate"] = learning_rate
    estimator = make_classifier(
        model, **params, ledger=ledger, dataset=dataset, spender=spender, progress=progress
    )
    estimator.fit(X_train, y_train)
    metrics = utility(estimator, X_test, y_test)
    baseline = utility(_baseline(estimator, X_train, y_train, seed), X_test, y_test)
    points = []
    for eps in curve:
        other = make_classifier(model, **{**params, "epsilon": float(eps)})
        other.fit(X_train, y_train)
        points.append({"epsilon": float(eps), **utility(other, X_test, y_test)})
    if curve and not any(math.isclose(p["epsilon"], epsilon) for p in points):
        points.append({"epsilon": float(epsilon), **metrics})
    points.sort(key=lambda p: p["epsilon"])
    result = None
    if audit:
        result = audit_model(estimator, X_train, y_train, X_test, y_test, delta=delta, seed=seed)
    loss = estimator.privacy_
    return TrainingReport(
        model=estimator,
        target=target,
        kind=model,
        epsilon=float(loss.epsilon),
        delta=float(loss.delta),
        metrics=metrics,
        baseline=baseline,
        n_train=len(train_rows),
        n_test=len(test_rows),
        public=estimator.public_,
        training={
            "noise_multiplier": estimator.noise_multiplier_,
            "max_grad_norm": max_grad_norm,
            "expected_batch_size": estimator.training_.batch_size,
            "epochs": epochs,
            "steps": estimator.training_.steps,
            "sampling_probability": estimator.training_.sampling_probability,
            "accountant": estimator.accountant,
        },
        curve=points,
        audit=result,
        release_id=estimator.release_id_,
        seconds=time.perf_counter() - start,
    )
