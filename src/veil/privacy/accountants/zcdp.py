"""Zero-concentrated DP: rhos add up, then one conversion (Bun and Steinke 2016)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from veil.privacy.accountants.base import Accountant, register
from veil.privacy.conversions import zcdp_to_epsilon
from veil.privacy.tally import counted, repeated_sum

if TYPE_CHECKING:
    from veil.privacy.loss import PrivacyLoss

__all__ = ["ZCDPAccountant"]


@register
class ZCDPAccountant(Accountant):
    """Adds the zCDP rhos of the losses that have one (pure epsilon-DP counts as
    epsilon**2 / 2), converts the sum at what is left of ``delta``, and adds the
    epsilons of the (epsilon, delta) losses that have no rho on top.
    """

    name = "zcdp"
    rank = 1
    summary = "zCDP composition and conversion (Bun and Steinke 2016; Canonne et al. 2020)"

    def epsilon(self, losses: Sequence[PrivacyLoss], delta: float) -> float:
        rho_parts: list[tuple[float, int]] = []
        approx: list[tuple[PrivacyLoss, int]] = []
        for loss, n in counted(losses):  # a ledger's repeated losses: one term per kind
            rho = loss.zcdp_rho()
            if rho is not None:
                rho_parts.append((rho, n))
            elif loss.epsilon is not None:
                approx.append((loss, n))
            else:  # pragma: no cover - excluded by PrivacyLoss validation
                return math.inf
        left = delta - repeated_sum((x.delta, n) for x, n in approx)
        if left < 0:
            return math.inf
        rho = repeated_sum(rho_parts)
        eps_rho = zcdp_to_epsilon(rho, left) if rho > 0 else 0.0
        return eps_rho + repeated_sum((x.epsilon, n) for x, n in approx)  # type: ignore[misc]
