"""Privacy loss of a release, and composition of many releases into one spent budget.

A :class:`PrivacyLoss` describes what one release costs in every language the
ledger can compose: pure epsilon (Dwork et al. 2006), approximate (epsilon,
delta), zero-concentrated DP rho (Bun and Steinke 2016), and optionally an
``event`` naming the noise distribution precisely, which lets the accountants of
Google's dp-accounting (Rényi DP, Mironov 2017; privacy loss distributions,
Koskela et al. 2020, Doroshenko et al. 2022) compose more tightly.

:func:`compose` turns a sequence of losses into the epsilon spent at the
dataset's delta. Every accountant below gives a valid upper bound, so the
smallest one is the spent budget.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from veil.errors import ParameterError

__all__ = [
    "Composition",
    "PrivacyLoss",
    "check_delta",
    "check_epsilon",
    "compose",
    "zcdp_for_epsilon",
    "zcdp_to_epsilon",
]

# Discrete Laplace events with a larger integer sensitivity are left to the
# other accountants: dp-accounting enumerates the support of their loss.
_PLD_MAX_SENSITIVITY = 10_000


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
        An exact description of the noise, for the dp-accounting accountants:
        ``{"type": "discrete_laplace", "noise_parameter": a, "sensitivity": d}``,
        ``{"type": "laplace" | "gaussian", "noise_multiplier": s}``,
        ``{"type": "zcdp", "rho": r}``,
        ``{"type": "poisson_sampled_gaussian", "noise_multiplier": s,
        "sampling_probability": q, "count": steps}``, or
        ``{"type": "composed", "events": [...]}``.
    """

    epsilon: float | None = None
    delta: float = 0.0
    rho: float | None = None
    event: Mapping[str, Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.epsilon is None and self.rho is None:
            raise ParameterError("a privacy loss needs an epsilon or a zCDP rho; got neither")
        if self.epsilon is not None:
            check_epsilon(self.epsilon)
        check_delta(self.delta)
        if self.rho is not None:
            check_epsilon(self.rho, name="rho")

    @classmethod
    def pure(cls, epsilon: float, *, event: Mapping[str, Any] | None = None) -> PrivacyLoss:
        """An epsilon-DP release."""
        return cls(epsilon=epsilon, delta=0.0, event=event)

    @classmethod
    def approximate(
        cls, epsilon: float, delta: float, *, event: Mapping[str, Any] | None = None
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
        event: Mapping[str, Any] | None = None,
    ) -> PrivacyLoss:
        """A rho-zCDP release, optionally also stated as (epsilon, delta)-DP."""
        return cls(
            epsilon=epsilon, delta=delta, rho=rho, event=event or {"type": "zcdp", "rho": rho}
        )

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
            "event": dict(self.event) if self.event is not None else None,
        }


def then(*losses: PrivacyLoss) -> PrivacyLoss:
    """The loss of running ``losses`` one after the other on the same data (sequential)."""
    eps = None if any(x.epsilon is None for x in losses) else math.fsum(x.epsilon for x in losses)  # type: ignore[misc]
    rhos = [x.zcdp_rho() for x in losses]
    rho = None if any(r is None for r in rhos) else math.fsum(rhos)  # type: ignore[arg-type]
    events = [x.event for x in losses]
    event = None if any(e is None for e in events) else {"type": "composed", "events": events}
    delta = math.fsum(x.delta for x in losses)
    if eps is None and rho is None:
        raise ParameterError("cannot compose these losses: mix of (epsilon, delta) and zCDP")
    return PrivacyLoss(epsilon=eps, delta=min(delta, 0.999999), rho=rho, event=event)


def zcdp_to_epsilon(rho: float, delta: float) -> float:
    """Smallest epsilon such that rho-zCDP implies (epsilon, delta)-DP.

    The better of Bun and Steinke 2016 (Prop. 1.3: rho + 2 sqrt(rho log 1/delta))
    and Canonne, Kamath and Steinke 2020 (Prop. 12, minimised over the Rényi order).
    """
    if rho == 0.0:
        return 0.0
    if delta <= 0.0:
        return math.inf
    log_inv = math.log(1.0 / delta)
    best = rho + 2.0 * math.sqrt(rho * log_inv)

    def cks(alpha: float) -> float:
        return rho * alpha + (
            log_inv + (alpha - 1.0) * math.log1p(-1.0 / alpha) - math.log(alpha)
        ) / (alpha - 1.0)

    # The bound is unimodal in log(alpha - 1): golden-section search on it.
    lo, hi = math.log(1e-6), math.log(1e6)
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    for _ in range(100):
        a = hi - ratio * (hi - lo)
        b = lo + ratio * (hi - lo)
        if cks(1.0 + math.exp(a)) < cks(1.0 + math.exp(b)):
            hi = b
        else:
            lo = a
    return max(0.0, min(best, cks(1.0 + math.exp((lo + hi) / 2.0))))


def zcdp_for_epsilon(epsilon: float, delta: float) -> float:
    """Largest rho whose (epsilon, delta) conversion stays within ``epsilon`` (bisection)."""
    if delta <= 0.0:
        raise ParameterError(
            "the Gaussian mechanism needs delta > 0; use the Laplace mechanism for delta = 0"
        )
    lo, hi = 0.0, epsilon
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if zcdp_to_epsilon(mid, delta) <= epsilon:
            lo = mid
        else:
            hi = mid
    return lo


@dataclass(frozen=True)
class Composition:
    """The epsilon spent at ``delta`` by a sequence of releases, and by which accountant."""

    epsilon: float
    delta: float
    accountant: str
    by_accountant: dict[str, float]


def _basic(losses: Sequence[PrivacyLoss], delta: float) -> float:
    """Sequential composition (Dwork et al. 2006): epsilons and deltas add up."""
    if any(x.epsilon is None for x in losses):
        return math.inf
    if math.fsum(x.delta for x in losses) > delta:
        return math.inf
    return math.fsum(x.epsilon for x in losses)  # type: ignore[misc]


def _zcdp(losses: Sequence[PrivacyLoss], delta: float) -> float:
    """zCDP composition (rhos add up), then conversion; approximate-DP parts add on top."""
    rho_parts, approx = [], []
    for loss in losses:
        rho = loss.zcdp_rho()
        if rho is not None:
            rho_parts.append(rho)
        elif loss.epsilon is not None:
            approx.append(loss)
        else:  # pragma: no cover - excluded by PrivacyLoss validation
            return math.inf
    left = delta - math.fsum(x.delta for x in approx)
    if left < 0:
        return math.inf
    rho = math.fsum(rho_parts)
    eps_rho = zcdp_to_epsilon(rho, left) if rho > 0 else 0.0
    return eps_rho + math.fsum(x.epsilon for x in approx)  # type: ignore[misc]


def _dp_event(event: Mapping[str, Any], *, for_pld: bool) -> Any:
    """Translate a veil event dictionary into a dp-accounting DpEvent (None if unsupported)."""
    from dp_accounting import dp_event as ev

    kind = event.get("type")
    if kind == "composed":
        parts = [_dp_event(e, for_pld=for_pld) for e in event["events"]]
        return None if any(p is None for p in parts) else ev.ComposedDpEvent(parts)
    if kind == "discrete_laplace":
        # RDP falls back to the loss's zCDP rho; PLD needs a small integer sensitivity.
        if not for_pld or event["sensitivity"] > _PLD_MAX_SENSITIVITY:
            return None
        return ev.DiscreteLaplaceDpEvent(
            noise_parameter=float(event["noise_parameter"]), sensitivity=int(event["sensitivity"])
        )
    if kind == "laplace":
        return (
            ev.LaplaceDpEvent(noise_multiplier=float(event["noise_multiplier"]))
            if for_pld
            else None
        )
    if kind == "gaussian":
        return ev.GaussianDpEvent(noise_multiplier=float(event["noise_multiplier"]))
    if kind == "zcdp":
        return None if for_pld else ev.ZCDpEvent(rho=float(event["rho"]))
    if kind == "poisson_sampled_gaussian":
        inner = ev.PoissonSampledDpEvent(
            sampling_probability=float(event["sampling_probability"]),
            event=ev.GaussianDpEvent(noise_multiplier=float(event["noise_multiplier"])),
        )
        return ev.SelfComposedDpEvent(inner, int(event.get("count", 1)))
    return None


def _dp_accounting(losses: Sequence[PrivacyLoss], delta: float, kind: str) -> float:
    """Compose with dp-accounting's RDP or PLD accountant, when every event is supported."""
    events = []
    for loss in losses:
        event = _dp_event(loss.event, for_pld=kind == "pld") if loss.event is not None else None
        if event is None and kind == "rdp":
            rho = loss.zcdp_rho()
            if rho is not None:
                from dp_accounting import dp_event as ev

                event = ev.ZCDpEvent(rho=rho)
        if event is None:
            return math.inf
        events.append(event)
    if not events:
        return 0.0
    if kind == "pld":
        from dp_accounting.pld.pld_privacy_accountant import PLDAccountant

        accountant: Any = PLDAccountant()
    else:
        if delta <= 0.0:
            return math.inf
        from dp_accounting.rdp.rdp_privacy_accountant import RdpAccountant

        accountant = RdpAccountant()
    for event in events:
        if not accountant.supports(event):
            return math.inf
        accountant.compose(event)
    return float(accountant.get_epsilon(delta))


def compose(
    losses: Sequence[PrivacyLoss],
    delta: float,
    *,
    accountants: Sequence[str] = ("basic", "zcdp", "rdp", "pld"),
) -> Composition:
    """Epsilon spent at ``delta`` by ``losses`` run in sequence: the best valid accountant.

    Parameters
    ----------
    losses
        The releases, in any order (all accountants here are order-free).
    delta
        The dataset's delta budget.
    accountants
        Which of "basic", "zcdp", "rdp" (dp-accounting Rényi DP) and "pld"
        (dp-accounting privacy loss distributions) to try.

    Returns
    -------
    Composition
        ``epsilon`` is ``inf`` when no accountant covers the sequence within ``delta``.
    """
    funcs = {
        "basic": _basic,
        "zcdp": _zcdp,
        "rdp": lambda ls, d: _dp_accounting(ls, d, "rdp"),
        "pld": lambda ls, d: _dp_accounting(ls, d, "pld"),
    }
    results = {name: funcs[name](losses, delta) for name in accountants}
    name = min(results, key=results.__getitem__) if results else "basic"
    spent = results.get(name, 0.0) if losses else 0.0
    return Composition(epsilon=spent, delta=delta, accountant=name, by_accountant=results)
