"""Flower's own Ray simulation runs the same task, strategy and wrappers."""

from __future__ import annotations

import numpy as np

from veil.federated import simulate


def test_ray_engine_runs_the_same_federation() -> None:
    out = simulate(clients=2, rounds=2, engine="ray", hidden=(), seed=0)
    assert [r["round"] for r in out.rounds] == [1, 2]
    assert [r["clients"] for r in out.rounds] == [2, 2]
    inprocess = simulate(clients=2, rounds=2, hidden=(), seed=0)
    # Same clients, same data, same seeds: the same model, whichever engine moved it.
    for a, b in zip(out.parameters, inprocess.parameters, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
