"""What the ledger returns: one release as recorded, a dataset's budget, its history."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from veil.dp.accountant import PrivacyLoss
from veil.report import Document, Paragraph, Result, Section, Table

__all__ = ["BudgetStatus", "LedgerHistory", "ReleaseRecord"]


@dataclass(frozen=True)
class ReleaseRecord:
    """One committed release: which dataset, what was released, how, and at what loss."""

    id: int
    dataset: str
    created: str
    what: str
    mechanism: str
    parameters: dict[str, Any]
    loss: PrivacyLoss
    result: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "dataset": self.dataset,
            "created": self.created,
            "what": self.what,
            "mechanism": self.mechanism,
            "parameters": self.parameters,
            **{k: v for k, v in self.loss.to_dict().items()},
            "result": self.result,
        }


@dataclass
class BudgetStatus(Result):
    """A dataset's budget, what the releases so far spent of it, and what is left.

    ``epsilon_spent`` is the smallest epsilon, at the dataset's ``delta``, that
    any of the ledger's accountants proves for all releases together
    (``accountant`` names which; ``by_accountant`` lists them all).
    """

    dataset: str
    epsilon: float
    delta: float
    epsilon_spent: float
    releases: int
    accountant: str
    by_accountant: dict[str, float] = field(default_factory=dict)
    ledger: str = ""
    description: str = ""

    @property
    def epsilon_remaining(self) -> float:
        return max(0.0, self.epsilon - self.epsilon_spent)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "ledger": self.ledger,
            "epsilon": self.epsilon,
            "delta": self.delta,
            "epsilon_spent": self.epsilon_spent,
            "epsilon_remaining": self.epsilon_remaining,
            "releases": self.releases,
            "accountant": self.accountant,
            "by_accountant": {
                k: (None if v == float("inf") else v) for k, v in self.by_accountant.items()
            },
            "description": self.description,
        }

    def _table(self) -> Table:
        return Table(
            columns=["dataset", "epsilon budget", "delta", "spent", "remaining", "releases"],
            rows=[
                [
                    self.dataset,
                    self.epsilon,
                    self.delta,
                    self.epsilon_spent,
                    self.epsilon_remaining,
                    self.releases,
                ]
            ],
        )

    def to_document(self) -> Document:
        used = self.epsilon_spent / self.epsilon if self.epsilon else 0.0
        tone = "warn" if used > 0.9 else "note"
        accountants = ", ".join(
            f"{k} {v:.4g}" for k, v in self.by_accountant.items() if v != float("inf")
        )
        text = (
            f"{used:.0%} of the epsilon budget is spent (at delta = {self.delta:g}), "
            f"by the tightest accountant: {self.accountant}."
        )
        if accountants:
            text += f" Every accountant's figure: {accountants}."
        return Document(
            title=f"Privacy budget of {self.dataset}",
            subtitle=self.ledger,
            sections=[Section("Budget", [self._table(), Paragraph(text, tone)])],
        )


@dataclass
class LedgerHistory(Result):
    """Every release made from one dataset, oldest first, with the budget now."""

    status: BudgetStatus
    records: list[ReleaseRecord]

    def to_dict(self) -> dict[str, Any]:
        return {**self.status.to_dict(), "history": [r.to_dict() for r in self.records]}

    def to_document(self) -> Document:
        rows = [
            [
                r.id,
                r.created[:19].replace("T", " "),
                r.what,
                r.mechanism,
                r.loss.epsilon,
                r.loss.delta,
                r.loss.rho,
            ]
            for r in self.records
        ]
        table = Table(
            columns=["id", "time (UTC)", "what", "mechanism", "epsilon", "delta", "rho"],
            rows=rows,
            title=f"{len(rows)} releases",
        )
        doc = self.status.to_document()
        doc.title = f"Release history of {self.status.dataset}"
        doc.sections.append(Section("Releases", [table]))
        return doc
