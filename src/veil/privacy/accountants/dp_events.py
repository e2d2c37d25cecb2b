"""veil's events in the terms of Google's dp-accounting (``DpEvent``), for its accountants."""

from __future__ import annotations

from typing import Any

from veil.privacy.events import (
    ComposedEvent,
    DiscreteLaplaceEvent,
    Event,
    GaussianEvent,
    LaplaceEvent,
    PoissonSampledGaussianEvent,
    ZCDPEvent,
)

__all__ = ["PLD_MAX_SENSITIVITY", "to_dp_event"]

# Discrete Laplace events with a larger integer sensitivity are left to the other
# accountants: dp-accounting's PLD enumerates the support of their privacy loss.
PLD_MAX_SENSITIVITY = 10_000


def to_dp_event(event: Event, *, for_pld: bool) -> Any:
    """The dp-accounting event for ``event``, or None when that accountant lacks one.

    dp-accounting's RDP accountant has no discrete Laplace and its PLD
    accountant no zCDP; RDP curves are composed by veil's RDP accountant itself.
    """
    from dp_accounting import dp_event as ev

    if isinstance(event, ComposedEvent):
        parts = [to_dp_event(e, for_pld=for_pld) for e in event.events]
        return None if any(p is None for p in parts) else ev.ComposedDpEvent(parts)
    if isinstance(event, DiscreteLaplaceEvent):
        if not for_pld or event.sensitivity > PLD_MAX_SENSITIVITY:
            return None
        return ev.DiscreteLaplaceDpEvent(
            noise_parameter=event.noise_parameter, sensitivity=event.sensitivity
        )
    if isinstance(event, LaplaceEvent):
        return ev.LaplaceDpEvent(noise_multiplier=event.noise_multiplier)
    if isinstance(event, GaussianEvent):
        return ev.GaussianDpEvent(noise_multiplier=event.noise_multiplier)
    if isinstance(event, ZCDPEvent):
        return None if for_pld else ev.ZCDpEvent(rho=event.rho)
    if isinstance(event, PoissonSampledGaussianEvent):
        inner = ev.PoissonSampledDpEvent(
            sampling_probability=event.sampling_probability,
            event=ev.GaussianDpEvent(noise_multiplier=event.noise_multiplier),
        )
        return ev.SelfComposedDpEvent(inner, event.steps)
    return None
