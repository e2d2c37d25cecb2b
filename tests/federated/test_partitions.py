"""Partitions: each row to one client; IID balanced; Dirichlet skews labels; quantity, sizes."""

from __future__ import annotations

import numpy as np
import pytest

from veil.errors import ParameterError
from veil.federated import partition

Y = np.repeat(np.arange(10), 100)


@pytest.mark.parametrize("scheme", ["iid", "dirichlet", "quantity"])
def test_every_row_exactly_once(scheme: str) -> None:
    parts = partition(Y, 7, scheme=scheme, alpha=0.5, seed=1)
    assert len(parts) == 7
    joined = np.sort(np.concatenate(parts))
    np.testing.assert_array_equal(joined, np.arange(len(Y)))
    assert min(len(p) for p in parts) >= 1


def test_iid_is_balanced_in_size_and_labels() -> None:
    parts = partition(Y, 10, scheme="iid", seed=0)
    assert {len(p) for p in parts} == {100}
    # Labels independent of the client: a chi-square test of the 10x10 counts rejects
    # at p < 1e-6 (false failure 1e-6 for a random split).
    from scipy import stats

    counts = np.array([np.bincount(Y[p], minlength=10) for p in parts])
    assert stats.chi2_contingency(counts).pvalue > 1e-6


def test_dirichlet_small_alpha_skews_labels_more_than_large_alpha() -> None:
    def skew(alpha: float) -> float:
        parts = partition(Y, 10, scheme="dirichlet", alpha=alpha, seed=0)
        shares = [np.bincount(Y[p], minlength=10) / len(p) for p in parts]
        return float(np.mean([s.max() for s in shares]))  # 0.1 when IID, 1 when one class each

    assert skew(0.05) > 0.6
    assert skew(100.0) < 0.25


def test_quantity_skew_varies_sizes() -> None:
    sizes = [len(p) for p in partition(Y, 10, scheme="quantity", alpha=0.3, seed=0)]
    assert max(sizes) > 3 * min(sizes)


def test_reproducible_and_errors() -> None:
    a = partition(Y, 5, scheme="dirichlet", seed=3)
    b = partition(Y, 5, scheme="dirichlet", seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    with pytest.raises(ParameterError, match="partition must be one of"):
        partition(Y, 5, scheme="random")
    with pytest.raises(ParameterError, match="use fewer clients"):
        partition(Y[:3], 5)
    with pytest.raises(ParameterError, match="alpha"):
        partition(Y, 5, scheme="dirichlet", alpha=0)
