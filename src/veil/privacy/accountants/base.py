"""The one interface of every accountant, and the registry that lists them.

An accountant answers one question: given the releases made so far (their
:class:`~veil.privacy.PrivacyLoss`), what epsilon do they spend together at a
given delta? Each accountant is a valid upper bound, so the ledger asks them
all and keeps the smallest. A new accountant is a new module with a subclass
decorated by :func:`register`; nothing else changes (the shape of Opacus'
``IAccountant`` and its registry).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, TypeVar

from veil.errors import ParameterError

if TYPE_CHECKING:
    from veil.privacy.loss import PrivacyLoss

__all__ = ["ACCOUNTANTS", "Accountant", "get_accountant", "register"]


class Accountant(ABC):
    """Composes privacy losses into the epsilon they spend at a delta.

    Subclasses set ``name`` (how users and the ledger refer to them),
    ``summary`` (one line: which theorem) and optionally ``rank`` (the order in
    which :func:`~veil.privacy.compose` tries them, which breaks ties), and
    implement :meth:`epsilon`.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    rank: ClassVar[int] = 100

    @abstractmethod
    def epsilon(self, losses: Sequence[PrivacyLoss], delta: float) -> float:
        """Epsilon spent at ``delta`` by ``losses`` run in sequence on the same data.

        Returns ``math.inf`` when this accountant cannot bound the sequence
        (an event it does not know, or deltas that already exceed ``delta``),
        and 0.0 for no losses.
        """

    def __repr__(self) -> str:
        return f"<accountant {self.name}: {self.summary}>"


#: Every registered accountant by name, by rank (the default order of use).
ACCOUNTANTS: dict[str, Accountant] = {}

_A = TypeVar("_A", bound=type[Accountant])


def register(cls: _A) -> _A:
    """Class decorator: add an instance of ``cls`` to :data:`ACCOUNTANTS` under its name."""
    name = getattr(cls, "name", "")
    if not name:
        raise TypeError(f"{cls.__name__} needs a class attribute 'name' to be registered")
    ACCOUNTANTS[name] = cls()
    ranked = sorted(ACCOUNTANTS.items(), key=lambda item: item[1].rank)
    ACCOUNTANTS.clear()
    ACCOUNTANTS.update(ranked)
    return cls


def get_accountant(name: str) -> Accountant:
    """The registered accountant called ``name``.

    Raises
    ------
    ParameterError
        No accountant has that name.
    """
    try:
        return ACCOUNTANTS[name]
    except KeyError:
        raise ParameterError(
            f"unknown accountant {name!r}; known accountants: {', '.join(ACCOUNTANTS)}"
        ) from None
