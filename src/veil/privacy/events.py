"""Typed descriptions of what a release did to the data: the events accountants compose.

An event names the noise (and sampling) of a release exactly, so that an
accountant can compute a tighter privacy loss than the epsilon stated for it:
composing a thousand Gaussian releases by their Rényi curves costs far less
than adding their epsilons (Mironov 2017). Each event is a frozen dataclass
with a ``type`` tag; :meth:`Event.to_dict` and :func:`event_from_dict` turn it
into plain JSON and back, which is how the ledger stores it.

The catalogue follows the events of Google's dp-accounting (``DpEvent``), so
that its RDP and PLD accountants can be used on them, plus an explicit Rényi
curve for analyses (such as PATE's data-dependent one) that only produce a
curve.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from veil.errors import ParameterError

__all__ = [
    "ComposedEvent",
    "DiscreteLaplaceEvent",
    "Event",
    "GaussianEvent",
    "LaplaceEvent",
    "PoissonSampledGaussianEvent",
    "RDPCurveEvent",
    "ZCDPEvent",
    "as_event",
    "event_from_dict",
]

_TYPES: dict[str, type[Event]] = {}


def _positive(value: Any, name: str, *, integer: bool = False) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a positive number; got {value!r}") from None
    if not math.isfinite(x) or x <= 0:
        raise ParameterError(f"{name} must be positive and finite; got {value!r}")
    if integer and x != int(x):
        raise ParameterError(f"{name} must be a positive integer; got {value!r}")
    return x


@dataclass(frozen=True, eq=False)
class Event:
    """Base of every event: a ``type`` tag, JSON form, and equality with that form.

    Equality also holds with the event's dictionary (``event == {"type": ...}``),
    so an event read back from a ledger file compares equal to the one recorded.
    """

    type: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.type:
            _TYPES[cls.type] = cls

    def to_dict(self) -> dict[str, Any]:
        """The event as plain JSON-ready values, tagged with its ``type``."""
        return {"type": self.type, **{f.name: getattr(self, f.name) for f in fields(self)}}

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Event):
            return self.to_dict() == other.to_dict()
        if isinstance(other, Mapping):
            return self.to_dict() == dict(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(repr(self.to_dict()))


@dataclass(frozen=True, eq=False)
class LaplaceEvent(Event):
    """Laplace noise of scale ``noise_multiplier`` times the L1 sensitivity: (1/m)-DP."""

    type: ClassVar[str] = "laplace"
    noise_multiplier: float

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "noise_multiplier", _positive(self.noise_multiplier, "noise_multiplier")
        )


@dataclass(frozen=True, eq=False)
class DiscreteLaplaceEvent(Event):
    """Discrete Laplace noise, P(x) proportional to exp(-noise_parameter * |x|).

    With an integer ``sensitivity`` it is (noise_parameter * sensitivity)-DP
    (Ghosh, Roughgarden and Sundararajan 2009); dp-accounting's parameterisation.
    """

    type: ClassVar[str] = "discrete_laplace"
    noise_parameter: float
    sensitivity: int

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "noise_parameter", _positive(self.noise_parameter, "noise_parameter")
        )
        sens = _positive(self.sensitivity, "sensitivity", integer=True)
        object.__setattr__(self, "sensitivity", int(sens))


@dataclass(frozen=True, eq=False)
class GaussianEvent(Event):
    """Gaussian noise of standard deviation ``noise_multiplier`` times the L2 sensitivity.

    rho-zCDP with rho = 1 / (2 m**2) (Bun and Steinke 2016).
    """

    type: ClassVar[str] = "gaussian"
    noise_multiplier: float

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "noise_multiplier", _positive(self.noise_multiplier, "noise_multiplier")
        )


@dataclass(frozen=True, eq=False)
class PoissonSampledGaussianEvent(Event):
    """``steps`` rounds of a Gaussian mechanism on a Poisson sample of the data (DP-SGD).

    Each record joins each round's batch independently with probability
    ``sampling_probability`` (Abadi et al. 2016; Mironov, Talwar and Zhang 2019).
    """

    type: ClassVar[str] = "poisson_sampled_gaussian"
    noise_multiplier: float
    sampling_probability: float
    steps: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "noise_multiplier", _positive(self.noise_multiplier, "noise_multiplier")
        )
        q = _positive(self.sampling_probability, "sampling_probability")
        if q > 1:
            raise ParameterError(f"sampling_probability must be in (0, 1]; got {q!r}")
        object.__setattr__(self, "sampling_probability", q)
        object.__setattr__(self, "steps", int(_positive(self.steps, "steps", integer=True)))


@dataclass(frozen=True, eq=False)
class ZCDPEvent(Event):
    """A release known only to be rho-zCDP (Bun and Steinke 2016)."""

    type: ClassVar[str] = "zcdp"
    rho: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "rho", _positive(self.rho, "rho"))


@dataclass(frozen=True, eq=False)
class RDPCurveEvent(Event):
    """A release known by its Rényi DP curve: epsilon(alpha) at each order alpha > 1.

    What a data-dependent analysis produces (PATE, Papernot et al. 2018). An
    accountant that needs an order between those given uses the value at the
    next larger one, an upper bound because Rényi divergence grows with its
    order (van Erven and Harremoës 2014).
    """

    type: ClassVar[str] = "rdp_curve"
    orders: tuple[float, ...]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        orders = tuple(float(a) for a in self.orders)
        values = tuple(float(v) for v in self.values)
        if not orders:
            raise ParameterError("an RDP curve needs at least one order; got none")
        if len(orders) != len(values):
            raise ParameterError(
                f"an RDP curve needs one value per order; got {len(orders)} orders and "
                f"{len(values)} values"
            )
        if any(not math.isfinite(a) or a <= 1 for a in orders):
            raise ParameterError(f"RDP orders must be finite and > 1; got {list(orders)}")
        if any(math.isnan(v) or v < 0 for v in values):
            raise ParameterError(
                f"RDP values must be >= 0 (a divergence is never negative); got {list(values)}"
            )
        pairs = sorted(zip(orders, values, strict=True))
        object.__setattr__(self, "orders", tuple(a for a, _ in pairs))
        object.__setattr__(self, "values", tuple(v for _, v in pairs))

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "orders": list(self.orders), "values": list(self.values)}

    def at(self, orders: Sequence[float]) -> list[float]:
        """The curve's upper bound at each of ``orders`` (inf above the largest given)."""
        out = []
        for alpha in orders:
            above = [v for a, v in zip(self.orders, self.values, strict=True) if a >= alpha]
            out.append(above[0] if above else math.inf)
        return out


@dataclass(frozen=True, eq=False)
class ComposedEvent(Event):
    """Several events run one after the other on the same data."""

    type: ClassVar[str] = "composed"
    events: tuple[Event, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "events", tuple(as_event(e) for e in self.events))

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "events": [e.to_dict() for e in self.events]}


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """Rebuild an event from :meth:`Event.to_dict` (or a ledger written by veil 0.1).

    Raises
    ------
    ParameterError
        The type is unknown or a field is missing or out of range.
    """
    if not isinstance(data, Mapping):
        raise ParameterError(f"an event must be a mapping with a 'type'; got {data!r}")
    kind = data.get("type")
    cls = _TYPES.get(kind)  # type: ignore[arg-type]
    if cls is None:
        raise ParameterError(
            f"unknown privacy event type {kind!r}; known types: {', '.join(sorted(_TYPES))}"
        )
    values = {k: v for k, v in data.items() if k != "type"}
    if cls is PoissonSampledGaussianEvent and "count" in values:  # veil 0.1 spelling
        values["steps"] = values.pop("count")
    if cls is ComposedEvent:
        values["events"] = [event_from_dict(e) for e in values.get("events", ())]
    names = {f.name for f in fields(cls)}
    unknown = set(values) - names
    if unknown:
        raise ParameterError(
            f"privacy event {kind!r} has unknown fields {sorted(unknown)}; expected {sorted(names)}"
        )
    try:
        return cls(**values)
    except TypeError as err:
        raise ParameterError(f"privacy event {kind!r} is incomplete: {err}") from None


def as_event(event: Event | Mapping[str, Any]) -> Event:
    """``event`` as a typed :class:`Event` (dictionaries are converted)."""
    if isinstance(event, Event):
        return event
    return event_from_dict(event)
