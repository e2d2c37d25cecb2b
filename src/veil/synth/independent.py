"""The fast baseline: every column's noisy 1-way marginal, sampled independently.

Each column's histogram is released with discrete Gaussian noise, an equal
share of the budget each; negative counts are set to zero and the rest
normalised (post-processing), and columns are drawn independently. It keeps
every column's distribution and none of the relations between columns: what
MST and AIM must beat. No JAX, no graphical model; seconds on any table.
"""

from __future__ import annotations

import numpy as np

from veil.synth.base import Synthesizer, register
from veil.synth.measurements import Meter, NoisyMarginal

__all__ = ["IndependentMarginals"]


class _Independent:
    """Product of the columns' clipped, normalised noisy histograms."""

    def __init__(self, marginals: list[NoisyMarginal]) -> None:
        self.marginals = marginals
        self.probabilities = {}
        totals = []
        for m in marginals:
            p = np.clip(m.values.astype(float), 0.0, None)
            totals.append(float(m.values.sum()))
            self.probabilities[m.clique[0]] = (
                p / p.sum() if p.sum() > 0 else np.full(p.size, 1.0 / p.size)
            )
        self.total = max(1.0, float(np.median(totals)))

    def project(self, clique: tuple[str, ...]) -> np.ndarray:
        out = np.ones(1)
        for c in clique:
            out = np.multiply.outer(out, self.probabilities[c]).reshape(-1)
        return out * self.total

    def sample_codes(self, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {
            c: rng.choice(p.size, size=n, p=p).astype(np.int64)
            for c, p in self.probabilities.items()
        }


@register
class IndependentMarginals(Synthesizer):
    """Noisy independent marginals: the DP baseline synthesizer.

    Same parameters as :class:`~veil.synth.base.Synthesizer`. After ``fit``,
    ``measurements_`` holds each released histogram (columns, noisy counts,
    noise scale).
    """

    name = "independent"

    def _fit_model(
        self, codes: dict[str, np.ndarray], sizes: dict[str, int], meter: Meter
    ) -> _Independent:
        share = meter.left / len(sizes)
        marginals = [meter.measure(codes, (c,), sizes, share) for c in sizes]
        self.measurements_ = marginals
        return _Independent(marginals)
