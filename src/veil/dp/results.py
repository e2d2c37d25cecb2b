"""The result of a DP release: the values, their confidence intervals, and what it cost."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from veil.privacy import PrivacyLoss
from veil.report import BarChart, Document, Paragraph, Result, Section, Table

__all__ = ["Release"]


@dataclass
class Release(Result):
    """A differentially private statistic as released and recorded in the ledger.

    Attributes
    ----------
    values
        The released numbers: one for a scalar statistic, one per label otherwise.
    labels
        Bin, category or group names; ``None`` for a scalar statistic.
    ci_low, ci_high
        The (1 - alpha) confidence interval of each value for the true statistic
        (None where no interval is stated, e.g. a quantile's).
    loss
        The privacy loss recorded in the ledger for this release.
    """

    dataset: str
    what: str
    statistic: str
    values: list[float]
    ci_low: list[float | None]
    ci_high: list[float | None]
    alpha: float
    loss: PrivacyLoss
    mechanism: str
    labels: list[str] | None = None
    column: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    noise: dict[str, Any] = field(default_factory=dict)
    release_id: int | None = None
    ledger: str = ""
    epsilon_remaining: float | None = None

    @property
    def value(self) -> Any:
        """The scalar value, or a {label: value} dict for a vector release."""
        if self.labels is None:
            return self.values[0]
        return dict(zip(self.labels, self.values, strict=False))

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "release_id": self.release_id,
            "ledger": self.ledger,
            "what": self.what,
            "statistic": self.statistic,
            "column": self.column,
            "value": self.value,
            "labels": self.labels,
            "values": self.values,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "confidence": 1.0 - self.alpha,
            "mechanism": self.mechanism,
            **self.loss.to_dict(),
            "parameters": self.parameters,
            "noise": self.noise,
            "epsilon_remaining": self.epsilon_remaining,
        }

    def _half_widths(self) -> list[float]:
        out = []
        for v, lo, hi in zip(self.values, self.ci_low, self.ci_high, strict=False):
            if lo is None or hi is None:
                out.append(0.0)
            else:
                out.append(max(v - lo, hi - v, 0.0))
        return out

    def to_document(self) -> Document:
        conf = f"{1 - self.alpha:.0%}"
        labels = self.labels if self.labels is not None else [self.what]
        rows = [
            [label, v, lo, hi]
            for label, v, lo, hi in zip(
                labels, self.values, self.ci_low, self.ci_high, strict=False
            )
        ]
        loss = self.loss
        cost = (
            f"epsilon = {loss.epsilon:.4g}, delta = {loss.delta:g}"
            if loss.epsilon is not None
            else f"rho = {loss.rho:.4g} (zCDP)"
        )
        if loss.rho is not None and loss.epsilon is not None:
            cost += f", rho = {loss.rho:.4g} (zCDP)"
        text = f"Released with the {self.mechanism} mechanism at {cost}."
        if self.epsilon_remaining is not None:
            text += f" The dataset has epsilon {self.epsilon_remaining:.4g} left."
        blocks: list[Any] = [
            Table(["", "value", f"{conf} low", f"{conf} high"], rows, title=self.what),
            BarChart(
                labels,
                self.values,
                f"{self.what} with {conf} error bars",
                errors=self._half_widths(),
            ),
            Paragraph(text),
        ]
        return Document(
            title=f"DP release: {self.what}",
            subtitle=f"dataset {self.dataset}, release #{self.release_id} in {self.ledger}",
            sections=[Section("Release", blocks)],
        )
