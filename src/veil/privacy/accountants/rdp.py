"""Rényi differential privacy (Mironov 2017), with dp-accounting's curves per event."""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from veil.privacy.accountants.base import Accountant, register
from veil.privacy.accountants.dp_events import to_dp_event
from veil.privacy.events import ComposedEvent, Event, RDPCurveEvent

if TYPE_CHECKING:
    from veil.privacy.loss import PrivacyLoss

__all__ = ["RDPAccountant"]

# dp-accounting's default orders (Opacus uses the same up to 63).
DEFAULT_ORDERS: tuple[float, ...] = (
    *(1 + x / 10.0 for x in range(1, 100)),
    *range(11, 64),
    128,
    256,
    512,
    1024,
)


def _split(event: Event) -> tuple[list[Event], list[RDPCurveEvent]]:
    """The event's parts that dp-accounting composes, and its explicit RDP curves."""
    if isinstance(event, RDPCurveEvent):
        return [], [event]
    if isinstance(event, ComposedEvent):
        plain: list[Event] = []
        curves: list[RDPCurveEvent] = []
        for part in event.events:
            p, c = _split(part)
            plain += p
            curves += c
        return plain, curves
    return [event], []


@contextlib.contextmanager
def _quiet_absl() -> Iterator[None]:
    """Hide dp-accounting's warnings about fractional orders it could not evaluate.

    For large sampling rates its series for some orders below 2 do not converge;
    it then drops those orders (their value becomes infinite), which only makes
    the bound looser, never wrong. The warning means nothing to a veil user and
    would break the CLI's one-line output, so it is silenced for the call.
    """
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@register
class RDPAccountant(Accountant):
    """Adds the Rényi DP curves of the releases order by order, then converts the
    sum to (epsilon, delta) (Canonne, Kamath and Steinke 2020, Prop. 12). Events
    without a Rényi curve here count by their zCDP rho (a line in the order).
    """

    name = "rdp"
    rank = 2
    summary = "Rényi DP composition (Mironov 2017; dp-accounting's curves)"

    def __init__(self, orders: Sequence[float] = DEFAULT_ORDERS) -> None:
        self.orders = tuple(float(a) for a in orders)

    def curve(self, losses: Sequence[PrivacyLoss]) -> tuple[np.ndarray, np.ndarray] | None:
        """The composed RDP curve (orders, values) of ``losses``, or None if one has none."""
        from dp_accounting import dp_event as ev
        from dp_accounting.rdp.rdp_privacy_accountant import RdpAccountant

        plain: list[Any] = []
        curves: list[RDPCurveEvent] = []
        for loss in losses:
            dp_events = None
            if loss.event is not None:
                parts, own = _split(loss.event)
                converted = [to_dp_event(p, for_pld=False) for p in parts]
                if all(c is not None for c in converted):
                    dp_events, curves = converted, curves + own
            if dp_events is None:
                rho = loss.zcdp_rho()
                if rho is None:
                    return None
                dp_events = [ev.ZCDpEvent(rho=rho)]
            plain += dp_events
        orders = sorted({*self.orders, *(a for c in curves for a in c.orders)})
        accountant = RdpAccountant(orders)
        for event in plain:
            if not accountant.supports(event):
                return None
            with _quiet_absl():
                accountant.compose(event)
        values = accountant.rdp
        for c in curves:
            values = values + np.asarray(c.at(orders))
        return np.asarray(orders), values

    def epsilon(self, losses: Sequence[PrivacyLoss], delta: float) -> float:
        if not losses:
            return 0.0
        if delta <= 0.0:
            return math.inf
        curve = self.curve(losses)
        if curve is None:
            return math.inf
        from dp_accounting.rdp.rdp_privacy_accountant import compute_epsilon

        orders, values = curve
        finite = np.isfinite(values)
        if not finite.any():
            return math.inf
        return float(compute_epsilon(orders[finite], values[finite], delta)[0])
