"""Small tables for the synthesizers: few columns, known structure, fast to fit."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest


def structured(n: int, seed: int) -> pl.DataFrame:
    """Two pairs of strongly dependent columns (a, b) and (c, d), independent of each other.

    b equals a 90% of the time, d follows c's sign: every 2-way marginal but
    (a, b) and (c, d) is nearly independent, those two are far from it.
    """
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 5, n)
    b = np.where(rng.random(n) < 0.9, a, rng.integers(0, 5, n))
    c = rng.uniform(0, 100, n)
    d = np.where(c + rng.normal(0, 10, n) > 50, "high", "low")
    return pl.DataFrame(
        {"a": [f"x{v}" for v in a], "b": [f"x{v}" for v in b], "c": c, "d": d.tolist()}
    )


CATEGORIES = {
    "a": [f"x{v}" for v in range(5)],
    "b": [f"x{v}" for v in range(5)],
    "d": ["high", "low"],
}
BOUNDS = {"c": (0.0, 100.0)}


@pytest.fixture(scope="session")
def table() -> pl.DataFrame:
    return structured(4000, seed=1)


@pytest.fixture(scope="session")
def holdout() -> pl.DataFrame:
    return structured(2000, seed=2)
