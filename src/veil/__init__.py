"""veil: privacy-preserving data science.

Assess how identifiable a table is (:mod:`veil.anonymity`), and more as the
project grows. Every error veil raises for bad input is a :class:`VeilError`.
"""

from __future__ import annotations

from veil.errors import (
    BudgetExceededError,
    ColumnError,
    DataError,
    LedgerBusyError,
    ParameterError,
    ProtocolError,
    VeilError,
)
from veil.io import read_table
from veil.roles import Roles

__version__ = "0.1.0"

__all__ = [
    "BudgetExceededError",
    "ColumnError",
    "DataError",
    "LedgerBusyError",
    "ParameterError",
    "ProtocolError",
    "Roles",
    "VeilError",
    "__version__",
    "read_table",
]
