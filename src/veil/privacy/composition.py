"""Composition of many releases into one spent budget, by the best registered accountant."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from veil.privacy.accountants import ACCOUNTANTS, get_accountant

if TYPE_CHECKING:
    from veil.privacy.loss import PrivacyLoss

__all__ = ["Composition", "compose"]


@dataclass(frozen=True)
class Composition:
    """The epsilon spent at ``delta`` by a sequence of releases, and by which accountant."""

    epsilon: float
    delta: float
    accountant: str
    by_accountant: dict[str, float]


def compose(
    losses: Sequence[PrivacyLoss],
    delta: float,
    *,
    accountants: Sequence[str] | None = None,
) -> Composition:
    """Epsilon spent at ``delta`` by ``losses`` run in sequence: the best valid accountant.

    Every accountant gives a valid upper bound, so the smallest one is the spent
    budget (ties go to the first in ``accountants``).

    Parameters
    ----------
    losses
        The releases, in any order (every accountant here is order-free).
    delta
        The dataset's delta budget.
    accountants
        Names of registered accountants to try (:data:`~veil.privacy.ACCOUNTANTS`);
        all of them by default: "basic", "zcdp", "rdp" and "pld".

    Returns
    -------
    Composition
        ``epsilon`` is ``inf`` when no accountant covers the sequence within ``delta``.

    Raises
    ------
    ParameterError
        An unknown accountant name.
    """
    names = tuple(ACCOUNTANTS) if accountants is None else tuple(accountants)
    chosen = [get_accountant(name) for name in names]
    results = {a.name: a.epsilon(losses, delta) for a in chosen}
    name = min(results, key=results.__getitem__) if results else "basic"
    spent = results.get(name, 0.0) if losses else 0.0
    return Composition(epsilon=spent, delta=delta, accountant=name, by_accountant=results)
