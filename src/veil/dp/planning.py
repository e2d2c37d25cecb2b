"""Plans of DP releases: which mechanisms, at what loss and error, before anything runs.

:func:`plan_release` turns a checked query and its table into a :class:`Plan`:
the exact aggregates, the calibrated mechanisms, their losses (``losses``) and
the noise scale and accuracy of each part (``noise``), all known before a
single noise value is drawn. ``Plan.run`` draws the noise, only inside the
ledger's transaction.

Confidence intervals of ratios (mean, variance) are exact under a union bound:
each noisy part lies within its accuracy at alpha / parts, and the interval
covers every ratio those parts allow.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from veil.dp import queries as qs
from veil.dp.mechanisms import DiscreteGaussianMechanism, DiscreteLaplaceMechanism, opendp
from veil.dp.queries import Query
from veil.privacy import PrivacyLoss

__all__ = ["Budget", "Plan", "plan_release"]

_CANDIDATES = 1001  # quantile candidates: an even grid over the bounds

Outcome = tuple[list[float], list[float | None], list[float | None], list[str] | None]


@dataclass
class Budget:
    """The privacy parameter of one release, to be split into shares."""

    mechanism: str
    epsilon: float
    delta: float
    rho: float | None

    def additive(self, sensitivity: int, share: float) -> Any:
        """Discrete Laplace (pure DP) or discrete Gaussian (zCDP) for one share."""
        if self.mechanism == "laplace":
            return DiscreteLaplaceMechanism(epsilon=self.epsilon * share, sensitivity=sensitivity)
        assert self.rho is not None
        return DiscreteGaussianMechanism(sensitivity=sensitivity, rho=self.rho * share)


@dataclass
class Plan:
    """Mechanisms of one release with their losses and stated noise, and how to run them."""

    mechanism: str
    losses: list[PrivacyLoss]
    run: Callable[[], Outcome]
    noise: dict[str, Any] = field(default_factory=dict)


def _state(name: str, m: Any, alpha: float) -> dict[str, Any]:
    return {"part": name, "scale": m.scale, "accuracy": m.accuracy(alpha), "alpha": alpha}


def _ratio(s: float, ts: float, c: float, tc: float, lo: float, hi: float) -> tuple[float, float]:
    """Interval of S / C for S in [s - ts, s + ts] and C in [c - tc, c + tc], within [lo, hi]."""
    if c - tc <= 0:
        return lo, hi
    corners = [(s + a) / (c + b) for a in (-ts, ts) for b in (-tc, tc)]
    return max(lo, min(corners)), min(hi, max(corners))


def _count(table: pl.DataFrame, budget: Budget, k: int, alpha: float) -> Plan:
    m = budget.additive(k, 1.0)
    n = table.height

    def run() -> Outcome:
        v = m(n)
        a = m.accuracy(alpha)
        return [float(max(v, 0))], [float(max(v - a, 0))], [float(v + a)], None

    return Plan(m.name, [m.privacy_loss], run, {"parts": [_state("count", m, alpha)]})


def _sum(table: pl.DataFrame, query: Query, budget: Budget, k: int, alpha: float) -> Plan:
    exact, grid = qs.fixed_sum(table, query.column, query.bounds)  # type: ignore[arg-type]
    m = budget.additive(k * grid.sensitivity, 1.0)
    state = _state("sum", m, alpha)
    state.update(scale=m.scale * grid.step, accuracy=m.accuracy(alpha) * grid.step)

    def run() -> Outcome:
        v = m(exact) * grid.step
        a = m.accuracy(alpha) * grid.step
        return [v], [v - a], [v + a], None

    return Plan(m.name, [m.privacy_loss], run, {"parts": [state], "grid": grid.step})


def _mean(table: pl.DataFrame, query: Query, budget: Budget, k: int, alpha: float) -> Plan:
    low, high = query.bounds  # type: ignore[misc]
    exact, grid = qs.fixed_sum(table, query.column, query.bounds)  # type: ignore[arg-type]
    n = table.height
    ms = budget.additive(k * grid.sensitivity, 0.5)
    mc = budget.additive(k, 0.5)
    a2 = alpha / 2.0
    ts, tc = ms.accuracy(a2) * grid.step, float(mc.accuracy(a2))

    def run() -> Outcome:
        s = ms(exact) * grid.step
        c = float(mc(n))
        value = min(high, max(low, s / max(c, 1.0)))
        lo, hi = _ratio(s, ts, c, tc, low, high)
        return [value], [lo], [hi], None

    sum_state = _state("sum", ms, a2)
    sum_state.update(scale=ms.scale * grid.step, accuracy=ts)
    parts = [sum_state, _state("count", mc, a2)]
    return Plan(ms.name, [ms.privacy_loss, mc.privacy_loss], run, {"parts": parts})


def _variance(table: pl.DataFrame, query: Query, budget: Budget, k: int, alpha: float) -> Plan:
    low, high = query.bounds  # type: ignore[misc]
    half = (high - low) / 2.0
    top = half * half  # the largest variance of values within the bounds
    s1, s2, g1, g2 = qs.centered_sums(table, query.column, query.bounds)  # type: ignore[arg-type]
    n = table.height
    m1 = budget.additive(k * g1.sensitivity, 1 / 3)
    m2 = budget.additive(k * g2.sensitivity, 1 / 3)
    mc = budget.additive(k, 1 / 3)
    a3 = alpha / 3.0
    t1, t2, tc = m1.accuracy(a3) * g1.step, m2.accuracy(a3) * g2.step, float(mc.accuracy(a3))

    def run() -> Outcome:
        y1, y2, c = m1(s1) * g1.step, m2(s2) * g2.step, float(mc(n))
        mean_y = min(half, max(-half, y1 / max(c, 1.0)))
        ey2 = min(top, max(0.0, y2 / max(c, 1.0)))
        value = min(top, max(0.0, ey2 - mean_y * mean_y))
        if c - tc <= 0:
            return [value], [0.0], [top], None
        m_lo, m_hi = _ratio(y1, t1, c, tc, -half, half)
        q_lo, q_hi = _ratio(y2, t2, c, tc, 0.0, top)
        sq_lo = 0.0 if m_lo <= 0.0 <= m_hi else min(m_lo * m_lo, m_hi * m_hi)
        sq_hi = max(m_lo * m_lo, m_hi * m_hi)
        return [value], [max(0.0, q_lo - sq_hi)], [min(top, q_hi - sq_lo)], None

    parts = [_state("sum", m1, a3), _state("sum of squares", m2, a3), _state("count", mc, a3)]
    losses = [m1.privacy_loss, m2.privacy_loss, mc.privacy_loss]
    return Plan(m1.name, losses, run, {"parts": parts})


def _quantile(table: pl.DataFrame, query: Query, budget: Budget, k: int, alpha: float) -> Plan:
    dp = opendp()
    low, high = query.bounds  # type: ignore[misc]
    column = table.get_column(query.column)  # type: ignore[arg-type]
    values = column.cast(pl.Float64).clip(low, high).to_numpy(writable=True)
    candidates = [float(c) for c in np.linspace(low, high, _CANDIDATES)]
    zcdp = budget.mechanism == "gaussian"
    measure = dp.zero_concentrated_divergence() if zcdp else dp.max_divergence()
    space = (dp.vector_domain(dp.atom_domain(T=float, nan=False)), dp.symmetric_distance())

    def build(scale: float) -> Any:
        return dp.m.make_private_quantile(
            *space,
            measure,
            candidates=candidates,
            alpha=float(query.q),
            scale=scale,  # type: ignore[arg-type]
        )

    target = budget.rho if zcdp else budget.epsilon
    unit = float(build(1.0).map(k))  # loss at scale 1: eps ~ 1/scale, rho ~ 1/scale**2
    scale = math.sqrt(unit / target) if zcdp else unit / target  # type: ignore[operator]
    measurement = build(scale)
    while float(measurement.map(k)) > target:  # type: ignore[operator]
        scale *= 1.0 + 1e-12
        measurement = build(scale)
    got = float(measurement.map(k))
    loss = PrivacyLoss.zcdp(got) if zcdp else PrivacyLoss.pure(got)
    # McSherry and Talwar 2007: with probability 1 - alpha the chosen candidate's
    # rank is within (2 k / epsilon) log(candidates / alpha) of the target rank.
    rank_error = None if zcdp else 2.0 * k / got * math.log(_CANDIDATES / alpha)
    noise = {"candidates": _CANDIDATES, "scale": scale, "rank_error": rank_error}

    def run() -> Outcome:
        return [float(measurement(values))], [None], [None], None

    return Plan("exponential (quantile)", [loss], run, noise)


def _histogram(table: pl.DataFrame, query: Query, budget: Budget, k: int, alpha: float) -> Plan:
    labels, counts = qs.bin_counts(table, query)
    m = budget.additive(k, 1.0)  # one row is in one bin: L1 and L2 sensitivity k

    def run() -> Outcome:
        noisy = m(counts)
        a = float(m.accuracy(alpha))
        values = [float(max(v, 0)) for v in noisy]
        return (
            values,
            [max(float(v) - a, 0.0) for v in noisy],
            [float(v) + a for v in noisy],
            labels,
        )

    return Plan(m.name, [m.privacy_loss], run, {"parts": [_state("bins", m, alpha)]})


def _threshold(counts: dict[str, int], budget: Budget, share: float, k: int) -> tuple[Any, ...]:
    """Laplace partition selection (Korolova et al. 2009; Rogers 2023) calibrated to delta."""
    dp = opendp()
    domain = dp.map_domain(dp.atom_domain(T=str), dp.atom_domain(T="i64"))
    metric = dp.l01inf_distance(dp.absolute_distance(T="i64"))
    eps = budget.epsilon * share
    d_in = (k, k, k)  # a person's k rows touch at most k groups, k rows in all

    def build(threshold: int, scale: float) -> Any:
        return dp.m.make_laplace_threshold(domain, metric, scale=scale, threshold=threshold)

    scale = k / eps
    while float(build(1 << 40, scale).map(d_in)[0]) > eps:
        scale *= 1.0 + 1e-12
    lo, hi = 1, 1 << 40
    while lo < hi:  # the smallest threshold whose delta fits
        mid = (lo + hi) // 2
        if float(build(mid, scale).map(d_in)[1]) <= budget.delta:
            hi = mid
        else:
            lo = mid + 1
    measurement = build(lo, scale)
    e, d = (float(x) for x in measurement.map(d_in))
    accuracy = float(math.floor(float(dp.discrete_laplacian_scale_to_accuracy(scale, 0.05))))
    return measurement, PrivacyLoss.approximate(e, d), scale, lo, accuracy


def _grouped(table: pl.DataFrame, query: Query, budget: Budget, k: int, alpha: float) -> Plan:
    keys = list(query.by) or [query.column]  # type: ignore[list-item]
    counts, sums, grid = qs.group_aggregates(table, query, keys)  # type: ignore[arg-type]
    with_sum = query.statistic in ("sum", "mean")
    share = 0.5 if with_sum else 1.0
    select, tloss, tscale, threshold, _ = _threshold(counts, budget, share, k)
    dp = opendp()
    a_parts = alpha / 2.0 if query.statistic == "mean" else alpha
    tc = float(math.floor(float(dp.discrete_laplacian_scale_to_accuracy(tscale, a_parts))))
    losses = [tloss]
    noise: dict[str, Any] = {"threshold": threshold, "count_scale": tscale, "count_accuracy": tc}
    ms = None
    if with_sum:
        assert grid is not None
        ms = DiscreteLaplaceMechanism(
            epsilon=budget.epsilon * 0.5, sensitivity=k * grid.sensitivity
        )
        losses.append(ms.privacy_loss)
        noise.update(sum_scale=ms.scale * grid.step, sum_accuracy=ms.accuracy(a_parts) * grid.step)

    def run() -> Outcome:
        kept = select(counts)
        labels = sorted(kept)
        c = [float(kept[key]) for key in labels]
        if not with_sum:
            return c, [max(v - tc, 0.0) for v in c], [v + tc for v in c], labels
        assert ms is not None and grid is not None
        noisy = ms(np.array([sums[key] for key in labels], dtype=np.int64)) if labels else []
        s = [float(v) * grid.step for v in noisy]
        ts = float(ms.accuracy(a_parts)) * grid.step
        if query.statistic == "sum":
            return s, [v - ts for v in s], [v + ts for v in s], labels
        low, high = query.bounds  # type: ignore[misc]
        means = [min(high, max(low, sv / max(cv, 1.0))) for sv, cv in zip(s, c, strict=False)]
        cis = [_ratio(sv, ts, cv, tc, low, high) for sv, cv in zip(s, c, strict=False)]
        return means, [lo for lo, _ in cis], [hi for _, hi in cis], labels

    return Plan("Laplace partition selection + discrete Laplace", losses, run, noise)


def plan_release(table: pl.DataFrame, query: Query, budget: Budget, k: int, alpha: float) -> Plan:
    """The plan of ``query`` on the checked, contribution-bounded ``table``."""
    if query.partition_selection:
        return _grouped(table, query, budget, k, alpha)
    planners = {
        "count": lambda: _count(table, budget, k, alpha),
        "sum": lambda: _sum(table, query, budget, k, alpha),
        "mean": lambda: _mean(table, query, budget, k, alpha),
        "variance": lambda: _variance(table, query, budget, k, alpha),
        "quantile": lambda: _quantile(table, query, budget, k, alpha),
        "histogram": lambda: _histogram(table, query, budget, k, alpha),
    }
    return planners[query.statistic]()
