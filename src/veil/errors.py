"""The one error hierarchy of veil.

Library code raises a subclass of :class:`VeilError` for every mistake a user
can make (a missing column, a bad parameter, an unreadable file, a spent
budget). The command line catches ``VeilError``, prints its message on one line
and exits with status 2. Any other exception is a bug in veil and is left to
show its traceback.
"""

from __future__ import annotations

__all__ = [
    "BudgetExceededError",
    "ColumnError",
    "DataError",
    "LedgerBusyError",
    "ParameterError",
    "ProtocolError",
    "VeilError",
]


class VeilError(Exception):
    """Root of every error veil raises for bad input or a refused request."""


class ColumnError(VeilError, KeyError):
    """A column is missing, has the wrong type, or is given two roles."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class ParameterError(VeilError, ValueError):
    """A parameter is out of its domain (epsilon <= 0, k < 1, reversed bounds...)."""


class DataError(VeilError, ValueError):
    """The data cannot be used as given: empty, unreadable, malformed, all missing."""


class BudgetExceededError(VeilError):
    """A differentially private release would exceed the dataset's privacy budget."""


class LedgerBusyError(VeilError):
    """The privacy ledger stayed locked by another writer past the timeout: retry later.

    Nothing was recorded and no noise was drawn, so trying again is always safe.
    """

    retryable = True


class ProtocolError(VeilError):
    """A message from another party is malformed or out of sequence."""
