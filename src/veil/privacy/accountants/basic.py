"""Sequential composition: epsilons and deltas add up (Dwork et al. 2006)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from veil.privacy.accountants.base import Accountant, register
from veil.privacy.tally import counted, repeated_sum

if TYPE_CHECKING:
    from veil.privacy.loss import PrivacyLoss

__all__ = ["BasicAccountant"]


@register
class BasicAccountant(Accountant):
    """Adds the stated epsilons; applies when the stated deltas add up to at most ``delta``.

    Tight for pure epsilon-DP releases of a few large steps; loose for many small ones.
    """

    name = "basic"
    rank = 0
    summary = "sequential composition (Dwork et al. 2006)"

    def epsilon(self, losses: Sequence[PrivacyLoss], delta: float) -> float:
        groups = counted(losses)  # a ledger's repeated losses: one term per distinct loss
        if any(x.epsilon is None for x, _ in groups):
            return math.inf
        if repeated_sum((x.delta, n) for x, n in groups) > delta:
            return math.inf
        return repeated_sum((x.epsilon, n) for x, n in groups)  # type: ignore[misc]
