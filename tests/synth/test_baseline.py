"""The noisy-independent-marginals baseline: its noise, its domain, its bad inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
from scipy import stats

from veil.errors import ColumnError, DataError, ParameterError
from veil.synth import IndependentMarginals, SynthesisWarning, get_synthesizer
from veil.synth.domain import OTHER, _bucket_edges
from veil.synth.measurements import marginal_counts

from .conftest import BOUNDS, CATEGORIES


@pytest.mark.filterwarnings("ignore::veil.synth.SynthesisWarning")  # 5,000 categories, 3,000 rows
def test_noisy_marginals_are_consistent_with_their_noise() -> None:
    # 4 columns x 5,000 given categories = 20,004 noisy counts (missing codes included).
    # Discrete Gaussian noise plus an independent U(-1/2, 1/2) is within KS distance
    # ~1e-4 of N(0, sigma^2 + 1/12) at these scales, far below what 20,004 draws resolve.
    # Reject at p < 1e-6 (false failure rate 1e-6); with 20,004 residuals the test
    # detects a noise scale off by 10% (KS distance 0.036 against a threshold of 0.019).
    rng = np.random.default_rng(0)
    cats = [f"v{i}" for i in range(5000)]
    frame = pl.DataFrame({c: rng.choice(cats, 3000).tolist() for c in "abcd"})
    syn = IndependentMarginals(epsilon=2.0, delta=1e-6, categories={c: cats for c in "abcd"})
    syn.fit(frame)
    codes = syn.discretizer_.encode(frame)
    sizes = syn.discretizer_.sizes()
    residuals = []
    for m in syn.measurements_:
        exact = marginal_counts(codes, m.clique, sizes)
        assert m.values.dtype == np.int64  # discrete noise: integer counts
        jitter = rng.uniform(-0.5, 0.5, exact.size)
        residuals.append((m.values - exact + jitter) / np.sqrt(m.sigma**2 + 1 / 12))
    z = np.concatenate(residuals)
    assert z.size == 20004
    assert stats.kstest(z, "norm").pvalue > 1e-6
    # Each column got an equal share of the calibrated rho, all of it spent.
    assert syn.meter_.spent == pytest.approx(syn.rho_, rel=1e-9)
    sigma = np.sqrt(4 / (2 * syn.rho_))
    assert all(m.sigma == pytest.approx(sigma, rel=1e-6) for m in syn.measurements_)


def test_bounds_are_never_read_from_the_data(table: pl.DataFrame) -> None:
    # Changing the private maximum (one row's value, far outside the bounds) leaves
    # the binning identical: the edges come from the given bounds only.
    other = table.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(1e9).otherwise(pl.col("c")).alias("c")
    )
    edges = []
    for frame in (table, other):
        syn = IndependentMarginals(epsilon=1.0, bounds=BOUNDS, categories=CATEGORIES, seed=0)
        syn.fit(frame)
        edges.append(syn.discretizer_.columns["c"].edges)
    np.testing.assert_array_equal(edges[0], edges[1])
    np.testing.assert_allclose(edges[0], np.linspace(0, 100, 11))


def test_private_bounds_are_power_of_two_buckets(table: pl.DataFrame) -> None:
    # Without bounds they come from fixed buckets: powers of two, never the private
    # min (about 0.0) or max (about 100.0).
    syn = IndependentMarginals(epsilon=5.0, categories=CATEGORIES).fit(table)
    col = syn.discretizer_.columns["c"]
    lo, hi = col.edges[0], col.edges[-1]
    assert col.source == "dp"
    assert hi == 128.0  # the bucket [64, 128) holds the maximum
    assert lo in _bucket_edges() and lo <= 1.0  # at most ~1% of rows clamped up
    assert syn.meter_.spent == pytest.approx(syn.rho_, rel=1e-9)


def test_thousands_of_categories_keep_the_top_ones(table: pl.DataFrame) -> None:
    rng = np.random.default_rng(3)
    ids = [f"id{i}" for i in rng.integers(0, 3000, table.height)]
    common = rng.choice(["p", "q", "r"], table.height).tolist()
    frame = table.with_columns(pl.Series("id", ids), pl.Series("kind", common))
    syn = IndependentMarginals(
        epsilon=1.0, bounds=BOUNDS, categories=CATEGORIES, max_categories=2, seed=0
    ).fit(frame)
    ident = syn.discretizer_.columns["id"]
    assert ident.categories == (OTHER,)  # no identifier value clears the threshold
    kind = syn.discretizer_.columns["kind"]
    assert len(kind.categories) == 3 and kind.categories[-1] == OTHER  # 2 kept + other
    assert any("kind" in note and "most frequent" in note for note in syn.describe()["notes"])
    out = syn.sample(500)
    # Every column has a missing-value code (data-independent), whose noisy count may
    # be positive: some synthetic ids may be missing, none is a real identifier.
    assert set(out["id"].unique()) <= {OTHER, None}
    assert syn.loss_.delta == 1e-9 and syn.loss_.rho is None  # selection: (epsilon, delta)-DP


def test_sample_returns_the_type_given_and_is_seeded(table: pl.DataFrame) -> None:
    kw = {"epsilon": 1.0, "bounds": BOUNDS, "categories": CATEGORIES, "seed": 7}
    syn = IndependentMarginals(**kw).fit(table.to_pandas())
    a, b = syn.sample(300), syn.sample(300)
    assert isinstance(a, pd.DataFrame) and list(a.columns) == table.columns
    pd.testing.assert_frame_equal(a, b)
    c = a["c"].to_numpy()
    # The missing-value code's noisy count may be positive: a few c may be missing.
    assert np.isnan(c).mean() < 0.05
    c = c[~np.isnan(c)]
    assert ((c >= 0) & (c <= 100)).all()
    # Continuous values are drawn within their bins, not at midpoints.
    assert len(np.unique(np.round(c, 6))) > 100


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"epsilon": 0.0}, ParameterError, "epsilon"),
        ({"epsilon": -1.0}, ParameterError, "epsilon"),
        ({"epsilon": 1.0, "delta": 0.0}, ParameterError, "delta > 0"),
        ({"epsilon": 1.0, "bounds": {"zzz": (0, 1)}}, ColumnError, "zzz"),
        ({"epsilon": 1.0, "bounds": {"c": (5, 1)}}, ParameterError, "low < high"),
        ({"epsilon": 1.0, "ledger": "x.db"}, ParameterError, "both ledger and dataset"),
        ({"epsilon": 1.0, "bins": 1}, ParameterError, "bins"),
    ],
)
def test_bad_parameters(table: pl.DataFrame, kwargs: dict, error: type, text: str) -> None:
    with pytest.raises(error, match=text):
        IndependentMarginals(**kwargs).fit(table)


def test_bad_data(table: pl.DataFrame) -> None:
    with pytest.raises(DataError, match="only missing values"):
        IndependentMarginals(epsilon=1.0).fit(table.with_columns(pl.lit(None).alias("gone")))
    with pytest.raises(DataError, match="outside its given categories"):
        IndependentMarginals(epsilon=1.0, categories={"a": ["x0"]}).fit(table)
    with pytest.raises(DataError, match="empty"):
        IndependentMarginals(epsilon=1.0).fit(table.head(0))
    with pytest.raises(ParameterError, match="unknown synthesis method 'gan'"):
        get_synthesizer("gan")


def test_small_epsilon_warns_with_the_expected_error(table: pl.DataFrame) -> None:
    with pytest.warns(SynthesisWarning, match=r"expected total variation error .* about"):
        IndependentMarginals(epsilon=0.001, bounds=BOUNDS, categories=CATEGORIES).fit(
            table.head(200)
        )
