"""Repeated privacy losses, held as (loss, count) pairs.

A ledger that answers many queries records the same few losses over and over
(a data site's scientists all ask for epsilon 0.01 counts). :class:`LossTally`
is a sequence of losses that stores each distinct loss once with how many times
it occurred: any accountant can read it as the plain sequence it stands for,
and the closed-form ones (basic composition, zCDP) compose it with Python work
in the number of distinct losses instead of the number of releases, and the very
same result (:func:`repeated_sum` is :func:`math.fsum` of the expanded values).
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, overload

if TYPE_CHECKING:
    from veil.privacy.loss import PrivacyLoss

__all__ = ["LossTally", "counted", "repeated_sum"]


class LossTally(Sequence["PrivacyLoss"]):
    """The sequence of losses in which each of ``groups``' losses appears ``count`` times.

    Order is not kept (each loss's copies come together): every accountant in
    veil is order-free.
    """

    __slots__ = ("_ends", "groups")

    def __init__(self, groups: Iterable[tuple[PrivacyLoss, int]]) -> None:
        kept = []
        for loss, count in groups:
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                raise ValueError(f"a loss's count must be an integer >= 0; got {count!r}")
            if count:
                kept.append((loss, count))
        #: The distinct losses and how many times each occurred.
        self.groups: tuple[tuple[PrivacyLoss, int], ...] = tuple(kept)
        self._ends = list(itertools.accumulate(n for _, n in kept))

    def __len__(self) -> int:
        return self._ends[-1] if self._ends else 0

    @overload
    def __getitem__(self, index: int) -> PrivacyLoss: ...

    @overload
    def __getitem__(self, index: slice) -> list[PrivacyLoss]: ...

    def __getitem__(self, index: int | slice) -> PrivacyLoss | list[PrivacyLoss]:
        if isinstance(index, slice):
            return list(self)[index]
        size = len(self)
        position = index + size if index < 0 else index
        if not 0 <= position < size:
            raise IndexError("LossTally index out of range")
        return self.groups[bisect.bisect_right(self._ends, position)][0]

    def __iter__(self) -> Iterator[PrivacyLoss]:
        for loss, count in self.groups:
            yield from itertools.repeat(loss, count)

    def plus(self, loss: PrivacyLoss, count: int = 1) -> LossTally:
        """A new tally with ``loss`` added ``count`` more times."""
        return LossTally([*self.groups, (loss, count)])

    def __repr__(self) -> str:
        return f"LossTally({len(self)} losses, {len(self.groups)} distinct)"


def counted(losses: Sequence[PrivacyLoss]) -> Sequence[tuple[PrivacyLoss, int]]:
    """``losses`` as (loss, count) pairs: a tally's groups, or each loss once."""
    if isinstance(losses, LossTally):
        return losses.groups
    return [(loss, 1) for loss in losses]


def repeated_sum(terms: Iterable[tuple[float, int]]) -> float:
    """``math.fsum`` of each value repeated its count of times (correctly rounded).

    The copies are streamed to ``fsum`` in C, a few nanoseconds each: the
    Python-level work is one step per distinct value.
    """
    return math.fsum(itertools.chain.from_iterable(itertools.repeat(v, n) for v, n in terms))
