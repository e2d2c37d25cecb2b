"""What a federated run and the study report: JSON-ready dictionaries and documents."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from veil.report import (
    Document,
    LineChart,
    LineSeries,
    Paragraph,
    Result,
    RocChart,
    RocCurve,
    Section,
    Table,
)

__all__ = ["FederatedResult", "StudyResult", "roc_points"]


def roc_points(y: np.ndarray, scores: np.ndarray) -> tuple[list[float], list[float], float]:
    """ROC of class scores: the positive class when binary, else micro-averaged one-vs-rest."""
    from sklearn.metrics import roc_auc_score, roc_curve
    from sklearn.preprocessing import label_binarize

    y = np.asarray(y)
    if scores.shape[1] == 2:
        truth, score = (y == 1).astype(int), scores[:, 1]
    else:
        truth = label_binarize(y, classes=list(range(scores.shape[1]))).ravel()
        score = scores.ravel()
    if truth.min() == truth.max():
        return [0.0, 1.0], [0.0, 1.0], float("nan")
    fpr, tpr, _ = roc_curve(truth, score)
    return fpr.tolist(), tpr.tolist(), float(roc_auc_score(truth, score))


def _num(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


@dataclass
class FederatedResult(Result):
    """One federated run: settings, a record per round, the final model's accuracy and spend.

    ``rounds`` holds one dict per round: ``round``, ``clients`` (how many
    answered), ``sampled``, ``failures``, ``accuracy`` and ``loss`` on the
    server's test rows, ``seconds`` and ``overhead_seconds`` (everything but
    local training and evaluation).
    """

    rounds: list[dict[str, Any]]
    final_accuracy: float
    settings: dict[str, Any]
    parameters: list[np.ndarray] = field(default_factory=list, repr=False)
    roc: tuple[list[float], list[float], float] | None = None
    privacy: dict[str, Any] | None = None
    rejected: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "final_accuracy": self.final_accuracy,
            "rounds": [dict(r) for r in self.rounds],
            "settings": dict(self.settings),
            "privacy": self.privacy,
            "rejected_updates": list(self.rejected),
            "seconds": self.seconds,
            "auc": None if self.roc is None else _num(self.roc[2]),
            "notes": list(self.notes),
        }

    def to_document(self) -> Document:
        s = self.settings
        run = Table(
            columns=["setting", "value"],
            rows=[[k, str(v)] for k, v in s.items()],
        )
        rows = [
            [
                r["round"],
                r["clients"],
                r["sampled"],
                r["accuracy"],
                r["loss"],
                r["seconds"],
                r["overhead_seconds"],
            ]
            for r in self.rounds
        ]
        rounds = Table(
            columns=[
                "round",
                "clients answered",
                "sampled",
                "accuracy",
                "loss",
                "seconds",
                "overhead s",
            ],
            rows=rows,
        )
        blocks: list[Any] = [
            Paragraph(
                f"Final test accuracy {self.final_accuracy:.4f} after {len(self.rounds)} "
                f"rounds in {self.seconds:.2f} s."
            ),
            run,
        ]
        sections = [Section("Run", blocks), Section("Rounds", [rounds])]
        if len(self.rounds) > 1:
            sections[-1].blocks.append(
                LineChart(
                    [
                        LineSeries(
                            "test accuracy",
                            [r["round"] for r in self.rounds],
                            [r["accuracy"] for r in self.rounds],
                        )
                    ],
                    title="Test accuracy by round",
                    x_label="round",
                    y_label="accuracy",
                )
            )
        if self.roc is not None:
            sections.append(
                Section(
                    "ROC",
                    [
                        RocChart(
                            [RocCurve("federated model", self.roc[0], self.roc[1])],
                            title="ROC of the final model on the test rows",
                        )
                    ],
                )
            )
        if self.privacy is not None:
            sections.append(
                Section(
                    "Client-level privacy",
                    [
                        Table(
                            columns=["quantity", "value"],
                            rows=[[k, str(v)] for k, v in self.privacy.items()],
                        )
                    ],
                )
            )
        for note in self.notes:
            sections[0].blocks.append(Paragraph(note, tone="warn"))
        return Document("Federated learning run", sections, subtitle=str(s.get("data", "")))


@dataclass
class StudyResult(Result):
    """The study's table: centralized against federated runs, accuracy and time.

    ``rows`` holds one dict per setting: ``setting``, ``clients``, ``rounds``,
    ``intermittent``, ``accuracy``, ``auc``, ``seconds`` and
    ``time_reduction`` (1 - seconds / centralized seconds).
    """

    rows: list[dict[str, Any]]
    data: str
    rocs: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict, repr=False)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"data": self.data, "rows": [dict(r) for r in self.rows], "notes": list(self.notes)}

    def to_document(self) -> Document:
        table = Table(
            columns=[
                "setting",
                "clients",
                "rounds",
                "intermittent",
                "test accuracy",
                "AUC",
                "seconds",
                "time reduction",
            ],
            rows=[
                [
                    r["setting"],
                    r["clients"],
                    r["rounds"],
                    "yes" if r["intermittent"] else "no",
                    r["accuracy"],
                    r["auc"],
                    r["seconds"],
                    None if r["time_reduction"] is None else f"{100 * r['time_reduction']:.1f}%",
                ]
                for r in self.rows
            ],
        )
        blocks: list[Any] = [
            Paragraph(
                "Centralized training on the pooled data against federated training with 3 and 10 "
                "clients (Sáinz-Pardo Díaz and López García 2023). Data: " + self.data + "."
            ),
            table,
        ]
        blocks.extend(Paragraph(n) for n in self.notes)
        sections = [Section("Study", blocks)]
        if self.rocs:
            curves = [RocCurve(name, fpr, tpr) for name, (fpr, tpr) in self.rocs.items()]
            sections.append(Section("ROC curves", [RocChart(curves, title="ROC on the test set")]))
        return Document(
            "Federated learning with intermittent clients: the study", sections, subtitle=self.data
        )
