"""The bridge to private-pgm (``mbi``): estimate a graphical model from noisy marginals, sample it.

McKenna, Sheldon and Miklau 2019 ("Graphical-model based estimation and
inference for differential privacy"): the distribution that best explains all
noisy marginals, found by mirror descent over a Markov random field whose
cliques are the measured ones. It is post-processing: it reads only the noisy
measurements. mbi and JAX are imported here, on first use, so ``import veil``
stays light; JAX runs in float64 (mbi's advice for large tables) on the CPU.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from veil.synth.measurements import NoisyMarginal

__all__ = ["GraphicalModel", "estimate", "mbi"]


def mbi() -> Any:
    """The ``mbi`` module, with JAX in float64 and its start-up warnings silenced.

    Each new set of measured cliques is a new program for JAX to compile, and
    compiling, not iterating, is what a fit spends its time on: unless
    ``XLA_FLAGS`` says otherwise, XLA's backend optimisations are turned down
    (compiles about 3x faster, iterations about 2x slower, a large net gain).
    This only takes effect if JAX has not started yet in the process.
    """
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_backend_optimization_level" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} --xla_backend_optimization_level=0".strip()
    import jax

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_enable_compilation_cache", False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        import mbi as module
    return module


def domain(sizes: Mapping[str, int]) -> Any:
    """private-pgm's Domain for ``sizes`` (column -> number of codes)."""
    return mbi().Domain(list(sizes), [int(v) for v in sizes.values()])


def estimate(
    marginals: Sequence[NoisyMarginal],
    sizes: Mapping[str, int],
    *,
    iters: int,
    warm_start: GraphicalModel | None = None,
    extra: Sequence[Any] = (),
) -> GraphicalModel:
    """The graphical model fitted by mirror descent to ``marginals`` and ``extra`` measurements."""
    m = mbi()
    measurements = [x.linear_measurement() for x in marginals] + list(extra)
    estimator = m.estimation.MirrorDescent()
    model = estimator.estimate(
        domain(sizes),
        measurements,
        iters=max(1, int(iters)),
        warm_start=warm_start.mrf if warm_start is not None else None,
    )
    return GraphicalModel(model)


class GraphicalModel:
    """A fitted Markov random field: its marginals and its synthetic rows."""

    def __init__(self, mrf: Any, mapping: Mapping[str, np.ndarray] | None = None) -> None:
        self.mrf = mrf
        self.mapping = dict(mapping or {})

    @property
    def total(self) -> float:
        return float(self.mrf.total)

    @property
    def cliques(self) -> list[tuple[str, ...]]:
        return [tuple(c) for c in self.mrf.cliques]

    def _tables(self) -> list[tuple[tuple[str, ...], np.ndarray]]:
        if not hasattr(self, "_numpy_tables"):
            vector = self.mrf.marginals
            self._numpy_tables = [
                (tuple(f.domain.attributes), np.asarray(f.values, dtype=float))
                for f in (vector[c] for c in vector.cliques)
            ]
        return self._numpy_tables

    def supports(self, clique: Sequence[str]) -> bool:
        """Whether ``clique`` lies within one of the model's cliques (exact projection)."""
        return any(set(clique) <= set(attrs) for attrs, _ in self._tables())

    def project(self, clique: Sequence[str]) -> np.ndarray:
        """The model's counts on ``clique``, flattened in C order.

        In numpy from the model's clique marginals when ``clique`` lies within
        one (no JAX compilation per clique); otherwise private-pgm's variable
        elimination.
        """
        clique = tuple(clique)
        for attrs, table in self._tables():
            if set(clique) <= set(attrs):
                drop = tuple(i for i, a in enumerate(attrs) if a not in clique)
                kept = [a for a in attrs if a in clique]
                out = table.sum(axis=drop) if drop else table
                return np.transpose(out, [kept.index(a) for a in clique]).reshape(-1)
        return np.asarray(self.mrf.project(clique).datavector(flatten=True), dtype=float)

    def sample_codes(self, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """``n`` rows drawn by private-pgm's randomized rounding, reproducible from ``rng``."""
        from veil.synth.base import seeded_global_state

        with seeded_global_state(rng):
            data = self.mrf.synthetic_data(rows=n)
            if self.mapping:
                data = data.decompress(self.mapping)
        return {k: np.asarray(v, dtype=np.int64) for k, v in data.to_dict().items()}
