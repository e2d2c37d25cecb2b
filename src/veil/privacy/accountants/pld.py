"""Privacy loss distributions (Koskela et al. 2020; Doroshenko et al. 2022), by dp-accounting."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from veil.privacy.accountants.base import Accountant, register
from veil.privacy.accountants.dp_events import to_dp_event

if TYPE_CHECKING:
    from veil.privacy.loss import PrivacyLoss

__all__ = ["PLDAccountant"]


@register
class PLDAccountant(Accountant):
    """Composes the exact privacy loss distributions of the events: the tightest
    accountant for many subsampled Gaussian steps (DP-SGD) or small Laplace releases.
    Applies only when every loss names an event dp-accounting's PLD supports.
    """

    name = "pld"
    rank = 3
    summary = "privacy loss distributions (Google's dp-accounting)"

    def __init__(self, value_discretization_interval: float = 1e-4) -> None:
        self.value_discretization_interval = value_discretization_interval

    def epsilon(self, losses: Sequence[PrivacyLoss], delta: float) -> float:
        if not losses:
            return 0.0
        events = []
        for loss in losses:
            event = to_dp_event(loss.event, for_pld=True) if loss.event is not None else None
            if event is None:
                return math.inf
            events.append(event)
        from dp_accounting.pld.pld_privacy_accountant import PLDAccountant as _PLD

        accountant = _PLD(value_discretization_interval=self.value_discretization_interval)
        for event in events:
            if not accountant.supports(event):
                return math.inf
            accountant.compose(event)
        return float(accountant.get_epsilon(delta))
