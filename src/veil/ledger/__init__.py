"""The privacy ledger: every DP release of veil, per dataset, against its budget.

One SQLite file (``veil-ledger.db`` by default) holds each dataset's total
budget (epsilon, delta) and every release made from it: what, by which
mechanism, with which parameters, at which privacy loss, and when. The ledger
composes the losses with real accountants and refuses a release that would
exceed the budget before any noise is drawn.
"""

from __future__ import annotations

from veil.dp.accountant import PrivacyLoss
from veil.ledger.database import DEFAULT_LEDGER, SCHEMA_VERSION, Ledger, PendingRelease
from veil.ledger.records import BudgetStatus, LedgerHistory, ReleaseRecord

__all__ = [
    "DEFAULT_LEDGER",
    "SCHEMA_VERSION",
    "BudgetStatus",
    "Ledger",
    "LedgerHistory",
    "PendingRelease",
    "PrivacyLoss",
    "ReleaseRecord",
]
