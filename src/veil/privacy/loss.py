"""What one release costs: :class:`PrivacyLoss`, its checks, and sequential composition.

A loss speaks every language the ledger composes: pure epsilon (Dwork et al.
2006), approximate (epsilon, delta), zero-concentrated DP rho (Bun and Steinke
2016), and optionally an exact :class:`~veil.privacy.events.Event` naming the
noise, which lets the RDP and PLD accountants compose more tightly. A loss can
be stated by its event alone: :meth:`PrivacyLoss.from_event` works out epsilon
with the tightest accountant that applies.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from veil.errors import ParameterError
from veil.privacy.composition import compose
from veil.privacy.events import (
    ComposedEvent,
    DiscreteLaplaceEvent,
    Event,
    GaussianEvent,
    LaplaceEvent,
    ZCDPEvent,
    as_event,
)

__all__ = ["PrivacyLoss", "check_delta", "check_epsilon", "then"]

# An accountant may round a negligible loss down to 0, which no loss may state: keep it tiny.
_SMALLEST = 1e-12


def check_epsilon(epsilon: Any, *, name: str = "epsilon") -> float:
    """Return ``epsilon`` as a float, or raise if it is not a positive finite number."""
    try:
        value = float(epsilon)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a positive number; got {epsilon!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ParameterError(
            f"{name} must be positive and finite; got {epsilon!r} "
            "(typical values are 0.1 to 1 per release)"
        )
    return value


def check_delta(delta: Any, *, name: str = "delta") -> float:
    """Return ``delta`` as a float in [0, 1), or raise."""
    try:
        value = float(delta)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a number in [0, 1); got {delta!r}") from None
    if not math.isfinite(value) or not 0.0 <= value < 1.0:
        raise ParameterError(
            f"{name} must be in [0, 1); got {delta!r} (use 0 for pure DP, or well below "
            "1/number of people, e.g. 1e-6)"
        )
    return value


def _pure_epsilon(event: Event) -> float | None:
    """The exact epsilon of an event that is pure epsilon-DP, else None."""
    if isinstance(event, LaplaceEvent):
        return 1.0 / event.noise_multiplier
    if isinstance(event, DiscreteLaplaceEvent):
        return event.noise_parameter * event.sensitivity
    if isinstance(event, ComposedEvent):
        parts = [_pure_epsilon(e) for e in event.events]
        return None if any(p is None for p in parts) else math.fsum(parts)  # type: ignore[arg-type]
    return None


def _event_rho(event: Event) -> float | None:
    """The zCDP rho an event satisfies in closed form, else None."""
    if isinstance(event, GaussianEvent):
        return 1.0 / (2.0 * event.noise_multiplier**2)
    if isinstance(event, ZCDPEvent):
        return event.rho
    pure = _pure_epsilon(event)
    if pure is not None:
        return pure**2 / 2.0  # Bun and Steinke 2016, Proposition 1.4
    if isinstance(event, ComposedEvent):
        parts = [_event_rho(e) for e in event.events]
        return None if any(p is None for p in parts) else math.fsum(parts)  # type: ignore[arg-type]
    return None


@dataclass(frozen=True)
class PrivacyLoss:
    """What one release costs: any of pure/approximate DP and zCDP, plus an exact event.

    Parameters
    ----------
    epsilon, delta
        The release is (epsilon, delta)-DP (pure when delta is 0). ``None`` when
        only a zCDP statement is known.
    rho
        The release is rho-zCDP, when known (Bun and Steinke 2016).
    event
        An exact description of the noise (:mod:`veil.privacy.events`; a
        dictionary in the events' JSON form is converted). Given alone (no
        epsilon, no rho), epsilon at ``delta`` is computed from it as by
        :meth:`from_event`.

    Raises
    ------
    ParameterError
        Nothing states the loss, a value is out of range, or the event is
        unknown or has no finite epsilon at ``delta``.

    Examples
    --------
    >>> from veil.privacy import PoissonSampledGaussianEvent
    >>> sgd = PoissonSampledGaussianEvent(noise_multiplier=1.1,
    ...                                   sampling_probability=256 / 60000, steps=14062)
    >>> round(PrivacyLoss.from_event(sgd, delta=1e-5).epsilon, 2)     # PLD accountant
    2.38
    """

    epsilon: float | None = None
    delta: float = 0.0
    rho: float | None = None
    event: Event | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        check_delta(self.delta)
        if self.event is not None:
            object.__setattr__(self, "event", as_event(self.event))
        if self.epsilon is None and self.rho is None:
            if self.event is None:
                raise ParameterError(
                    "a privacy loss needs an epsilon, a zCDP rho or an event; got none of them"
                )
            epsilon, rho = _state(self.event, float(self.delta))
            object.__setattr__(self, "epsilon", epsilon)
            object.__setattr__(self, "rho", rho)
        if self.epsilon is not None:
            check_epsilon(self.epsilon)
        if self.rho is not None:
            check_epsilon(self.rho, name="rho")

    @classmethod
    def from_event(cls, event: Event | Mapping[str, Any], *, delta: float = 0.0) -> PrivacyLoss:
        """The loss of ``event``, epsilon at ``delta`` by the tightest accountant that applies.

        Pure events (Laplace) at ``delta`` = 0 give their exact epsilon; a
        Gaussian at ``delta`` = 0 gives only its zCDP rho; a subsampled Gaussian
        or an RDP curve needs ``delta`` > 0.
        """
        return cls(delta=delta, event=event)

    @classmethod
    def pure(cls, epsilon: float, *, event: Event | Mapping[str, Any] | None = None) -> PrivacyLoss:
        """An epsilon-DP release."""
        return cls(epsilon=epsilon, delta=0.0, event=event)

    @classmethod
    def approximate(
        cls, epsilon: float, delta: float, *, event: Event | Mapping[str, Any] | None = None
    ) -> PrivacyLoss:
        """An (epsilon, delta)-DP release."""
        return cls(epsilon=epsilon, delta=delta, event=event)

    @classmethod
    def zcdp(
        cls,
        rho: float,
        *,
        epsilon: float | None = None,
        delta: float = 0.0,
        event: Event | Mapping[str, Any] | None = None,
    ) -> PrivacyLoss:
        """A rho-zCDP release, optionally also stated as (epsilon, delta)-DP."""
        return cls(epsilon=epsilon, delta=delta, rho=rho, event=event or ZCDPEvent(rho=rho))

    def zcdp_rho(self) -> float | None:
        """The rho of this loss in zCDP: its own, or epsilon**2 / 2 for pure DP."""
        if self.rho is not None:
            return self.rho
        if self.delta == 0.0 and self.epsilon is not None:
            return self.epsilon**2 / 2.0  # Bun and Steinke 2016, Proposition 1.4
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "epsilon": self.epsilon,
            "delta": self.delta,
            "rho": self.rho,
            "event": self.event.to_dict() if self.event is not None else None,
        }


def _state(event: Event, delta: float) -> tuple[float | None, float | None]:
    """(epsilon at ``delta``, zCDP rho) of ``event``, by the tightest accountant."""
    rho = _event_rho(event)
    pure = _pure_epsilon(event)
    if pure is not None and delta == 0.0:
        return pure, rho
    # A provisional loss that carries only the event, for the accountants to compose.
    bare = object.__new__(PrivacyLoss)
    for name, value in (("epsilon", pure), ("delta", 0.0), ("rho", rho), ("event", event)):
        object.__setattr__(bare, name, value)
    epsilon = compose([bare], delta).epsilon
    if math.isfinite(epsilon):
        return max(epsilon, _SMALLEST), rho
    if rho is not None:
        return None, rho
    raise ParameterError(
        f"privacy event {event.type!r} has no finite epsilon at delta = {delta:g}; "
        "give a delta > 0 (e.g. 1e-6)"
    )


def then(*losses: PrivacyLoss) -> PrivacyLoss:
    """The loss of running ``losses`` one after the other on the same data (sequential)."""
    eps = None if any(x.epsilon is None for x in losses) else math.fsum(x.epsilon for x in losses)  # type: ignore[misc]
    rhos = [x.zcdp_rho() for x in losses]
    rho = None if any(r is None for r in rhos) else math.fsum(rhos)  # type: ignore[arg-type]
    events = [x.event for x in losses]
    event = None if any(e is None for e in events) else ComposedEvent(tuple(events))  # type: ignore[arg-type]
    delta = math.fsum(x.delta for x in losses)
    if eps is None and rho is None:
        raise ParameterError("cannot compose these losses: mix of (epsilon, delta) and zCDP")
    return PrivacyLoss(epsilon=eps, delta=min(delta, 0.999999), rho=rho, event=event)
