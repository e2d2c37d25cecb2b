"""Sequential composition: epsilons and deltas add up (Dwork et al. 2006)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from veil.privacy.accountants.base import Accountant, register

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
        if any(x.epsilon is None for x in losses):
            return math.inf
        if math.fsum(x.delta for x in losses) > delta:
            return math.inf
        return math.fsum(x.epsilon for x in losses)  # type: ignore[misc]
