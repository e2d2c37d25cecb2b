"""MST: the maximum-spanning-tree synthesizer that won the 2018 NIST challenge.

McKenna, Miklau and Sheldon 2021, "Winning the NIST contest: a scalable and
general approach to differentially private synthetic data". The budget is cut
in three equal parts:

1. every 1-way marginal is measured (Gaussian noise); values whose noisy
   count is below 3 sigma are merged into one, which shrinks the domain
   where the data is thin (merged values are drawn uniformly back);
2. a tree of column pairs is chosen by Kruskal's algorithm, each edge by the
   exponential mechanism among the pairs joining two components, scored by
   how badly the independence model of the noisy 1-ways explains the pair:
   ``||M_ij(D) - M̂_ij||_1`` (sensitivity 1);
3. the 2-way marginal of every tree edge is measured.

private-pgm then fits the graphical model that best explains every noisy
marginal (:mod:`veil.synth.graphical`), and rows are sampled from it.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from veil.synth.base import Synthesizer, register
from veil.synth.graphical import GraphicalModel, estimate, mbi
from veil.synth.measurements import Meter, NoisyMarginal, marginal_counts

__all__ = ["MST"]


def _compression(marginal: NoisyMarginal) -> np.ndarray | None:
    """Map from codes to merged codes: values with noisy count < 3 sigma share one code."""
    small = marginal.values < 3.0 * marginal.sigma
    if small.sum() <= 1:
        return None
    mapping = np.empty(marginal.values.size, dtype=np.int64)
    kept = np.flatnonzero(~small)
    mapping[kept] = np.arange(kept.size)
    mapping[small] = kept.size
    return mapping


class _Components:
    """Union-find over columns: the components Kruskal's algorithm joins."""

    def __init__(self, names: list[str]) -> None:
        self.parent = {n: n for n in names}

    def find(self, a: str) -> str:
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def union(self, a: str, b: str) -> None:
        self.parent[self.find(a)] = self.find(b)


@register
class MST(Synthesizer):
    """MST synthesizer (McKenna et al. 2021) on private-pgm and veil's mechanisms.

    Parameters
    ----------
    iters
        Mirror-descent iterations of the final model estimation.
    **kwargs
        The parameters of :class:`~veil.synth.base.Synthesizer`: ``epsilon``,
        ``delta``, ``bounds``, ``bins``, ``categories``, ``ledger``,
        ``dataset``, ``spender``, ``seed``, ``progress``...

    Examples
    --------
    >>> syn = MST(epsilon=1.0, delta=1e-9, bounds={"age": (17, 90)})   # doctest: +SKIP
    >>> synthetic = syn.fit(df).sample(len(df))                         # doctest: +SKIP
    """

    name = "mst"

    def __init__(self, *, iters: int = 1000, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.iters = iters

    def _noise_scale(self, columns: int, rho: float) -> float:
        return math.sqrt(columns / (2.0 * rho / 3.0))

    def _fit_model(
        self, codes: dict[str, np.ndarray], sizes: dict[str, int], meter: Meter
    ) -> GraphicalModel:
        names = list(sizes)
        d = len(names)
        rho = meter.left
        one_way_rho = rho / 3.0 if d > 1 else rho
        ones = [meter.measure(codes, (c,), sizes, one_way_rho / d) for c in names]

        # Merge thin values (post-processing of the noisy 1-ways).
        mapping = {}
        for m in ones:
            merged = _compression(m)
            if merged is not None:
                mapping[m.clique[0]] = merged
        small_codes = {c: (mapping[c][codes[c]] if c in mapping else codes[c]) for c in names}
        small_sizes = {c: (int(mapping[c].max()) + 1 if c in mapping else sizes[c]) for c in names}
        full = mbi().Domain(names, [sizes[c] for c in names])
        measured = [m.linear_measurement().compress(mapping, full) for m in ones]

        edges: list[tuple[str, str]] = []
        if d > 1:
            edges = self._select_tree(small_codes, small_sizes, measured, meter, rho / 3.0)
            for a, b in edges:
                meter.measure(small_codes, (a, b), small_sizes, rho / 3.0 / len(edges))
        pairs = [m for m in meter.marginals if len(m.clique) == 2]
        model = estimate(pairs, small_sizes, iters=self.iters, extra=measured)
        self.tree_ = edges
        return GraphicalModel(model.mrf, mapping)

    def _select_tree(
        self,
        codes: dict[str, np.ndarray],
        sizes: dict[str, int],
        measured: list[object],
        meter: Meter,
        rho: float,
    ) -> list[tuple[str, str]]:
        """Kruskal's maximum spanning tree, each edge picked by the exponential mechanism."""
        names = list(sizes)
        # The independence model of the noisy 1-ways: clipped, normalised, scaled to a total.
        shares, totals = {}, []
        for m in measured:
            y = np.asarray(m.noisy_measurement, dtype=float)  # type: ignore[attr-defined]
            weights = np.asarray(getattr(m.query, "weights", np.ones(y.size)), dtype=float)  # type: ignore[attr-defined]
            counts = np.clip(y / weights, 0.0, None)
            totals.append(float((y / weights).sum()))
            shares[m.clique[0]] = (
                counts / counts.sum() if counts.sum() > 0 else np.full(y.size, 1 / y.size)
            )  # type: ignore[attr-defined]
        total = max(1.0, float(np.median(totals)))
        scores = {}
        for a, b in itertools.combinations(names, 2):
            guess = np.multiply.outer(shares[a], shares[b]).reshape(-1) * total
            scores[(a, b)] = float(np.abs(marginal_counts(codes, (a, b), sizes) - guess).sum())
        components = _Components(names)
        tree: list[tuple[str, str]] = []
        steps = len(names) - 1
        for _ in range(steps):
            candidates = [e for e in scores if components.find(e[0]) != components.find(e[1])]
            pick = meter.select(np.array([scores[e] for e in candidates]), rho / steps, 1.0)
            a, b = candidates[pick]
            tree.append((a, b))
            components.union(a, b)
        return tree
