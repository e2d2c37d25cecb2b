"""The privacy ledger: every DP release of veil, per dataset (and spender), against its budget.

One SQLite file (``veil-ledger.db`` by default) holds each dataset's total
budget (epsilon, delta), optional budgets per spender, and every release made
from it: what, by which mechanism, with which parameters, at which privacy
loss, by whom, and when. A release is reserved (admitted against the budget
before any noise is drawn, counted from then on), computed holding no lock,
then finished or cancelled. The losses are composed by the accountants of
:mod:`veil.privacy`.
"""

from __future__ import annotations

from veil.ledger.database import DEFAULT_LEDGER, Ledger, PendingRelease, as_ledger
from veil.ledger.records import BudgetStatus, LedgerHistory, ReleaseRecord, Reservation
from veil.ledger.schema import SCHEMA_VERSION
from veil.privacy import PrivacyLoss

__all__ = [
    "DEFAULT_LEDGER",
    "SCHEMA_VERSION",
    "BudgetStatus",
    "Ledger",
    "LedgerHistory",
    "PendingRelease",
    "PrivacyLoss",
    "ReleaseRecord",
    "Reservation",
    "as_ledger",
]
