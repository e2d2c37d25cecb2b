"""What the ledger returns: a reservation, one release as recorded, a budget, its history."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from veil.privacy import PrivacyLoss
from veil.report import Document, Paragraph, Result, Section, Table

__all__ = ["BudgetStatus", "LedgerHistory", "ReleaseRecord", "Reservation"]

#: The states of a ledger entry. Reserved and finished entries count as spent.
STATES = ("reserved", "finished", "cancelled")


@dataclass
class Reservation:
    """A release the ledger admitted and recorded as reserved: it counts as spent already.

    Returned by :meth:`~veil.ledger.Ledger.reserve`; hand it to
    :meth:`~veil.ledger.Ledger.finish` with the result once computed, or to
    :meth:`~veil.ledger.Ledger.cancel` if nothing was published. Inside
    :meth:`~veil.ledger.Ledger.release` set ``result`` before the block ends.
    """

    id: int
    dataset: str
    loss: PrivacyLoss
    what: str
    mechanism: str
    epsilon_spent_after: float
    epsilon_remaining_after: float
    spender: str | None = None
    result: dict[str, Any] | None = None
    state: str = "reserved"


@dataclass(frozen=True)
class ReleaseRecord:
    """One ledger entry: which dataset, what was released, how, at what loss, and its state.

    ``state`` is "finished" (released), "reserved" (admitted and counted, not
    finished: running, or its process died) or "cancelled" (nothing was
    published; ``note`` says why; it does not count).
    """

    id: int
    dataset: str
    created: str
    what: str
    mechanism: str
    parameters: dict[str, Any]
    loss: PrivacyLoss
    result: dict[str, Any] | None = None
    state: str = "finished"
    spender: str | None = None
    finished: str | None = None
    note: str | None = None

    @property
    def counts(self) -> bool:
        """Whether this entry counts against the budget (reserved or finished)."""
        return self.state != "cancelled"

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
            "state": self.state,
            "spender": self.spender,
            "finished": self.finished,
            "note": self.note,
        }


@dataclass
class BudgetStatus(Result):
    """A dataset's budget, what the releases so far spent of it, and what is left.

    ``epsilon_spent`` is the smallest epsilon, at the dataset's ``delta``, that
    any of the ledger's accountants proves for all releases together
    (``accountant`` names which; ``by_accountant`` lists them all). Reserved
    entries count as spent; ``reserved`` says how many of the ``releases`` are
    not finished yet. With ``spender`` set, the budget and spend are that
    spender's own (its releases from the dataset, against its budget).
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
    reserved: int = 0
    spender: str | None = None

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
            "reserved": self.reserved,
            "spender": self.spender,
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
        blocks: list[Any] = [self._table(), Paragraph(text, tone)]
        if self.reserved:
            blocks.append(
                Paragraph(
                    f"{self.reserved} of the {self.releases} releases are reserved and not "
                    "finished (running, or their process stopped): they count as spent.",
                    "warn",
                )
            )
        who = f" (spender {self.spender})" if self.spender else ""
        return Document(
            title=f"Privacy budget of {self.dataset}{who}",
            subtitle=self.ledger,
            sections=[Section("Budget", blocks)],
        )


@dataclass
class LedgerHistory(Result):
    """Every release made from one dataset, oldest first, with the budget now."""

    status: BudgetStatus
    records: list[ReleaseRecord]

    def to_dict(self) -> dict[str, Any]:
        return {**self.status.to_dict(), "history": [r.to_dict() for r in self.records]}

    def to_document(self) -> Document:
        # Columns that would be empty for every entry are left out, so the table
        # stays readable on a terminal.
        # (rho and the event stay in the JSON.)
        spenders = any(r.spender for r in self.records)
        deltas = any(r.loss.delta for r in self.records)
        columns = ["id", "time (UTC)", "what", "mechanism"]
        columns += ["spender"] * spenders + ["state", "epsilon"] + ["delta"] * deltas
        rows = []
        for r in self.records:
            row = [r.id, r.created[:16].replace("T", " "), r.what, r.mechanism]
            row += [r.spender or ""] * spenders + [r.state, r.loss.epsilon]
            rows.append(row + [r.loss.delta] * deltas)
        blocks: list[Any] = [Table(columns=columns, rows=rows, title=f"{len(rows)} entries")]
        unfinished = [str(r.id) for r in self.records if r.state == "reserved"]
        if unfinished:
            blocks.append(
                Paragraph(
                    f"Reserved and unfinished (running, or their process stopped): entries "
                    f"{', '.join(unfinished)}. They count as spent.",
                    "warn",
                )
            )
        blocks += [
            Paragraph(f"Entry {r.id} was cancelled and does not count: {r.note}.")
            for r in self.records
            if r.state == "cancelled"
        ]
        doc = self.status.to_document()
        doc.title = f"Release history of {self.status.dataset}"
        doc.sections.append(Section("Releases", blocks))
        return doc
