"""Beaver products and dealer-assisted truncation: within one unit (2^-16) of the exact product.

The bound is exact, not statistical: inputs are rounded to 2^-16 when encoded,
and the truncation returns floor(z / 2^16) or one more, so the result differs
from the product of the rounded inputs by at most 2^-16 (plus float rounding).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.crypto.mpc import Dealer, decode, encode, matmul, multiply, reveal, share_values, truncate
from veil.crypto.mpc.sharing import share
from veil.errors import ParameterError

UNIT = 2.0**-16


def _q(v: np.ndarray) -> np.ndarray:
    return decode(encode(v))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 4), st.floats(0.01, 2000.0))
def test_elementwise_products(seed: int, n: int, scale: float) -> None:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, 64) * scale
    y = rng.uniform(-1, 1, 64) * min(scale, 4000.0 / scale)  # |x y| within the range
    got = reveal(multiply(share_values(x, n), share_values(y, n), Dealer(n)))
    assert np.max(np.abs(got - _q(x) * _q(y))) <= UNIT * (1 + 1e-6)


@pytest.mark.parametrize("n", [2, 3])
def test_dot_products_and_matrix_products(n: int) -> None:
    rng = np.random.default_rng(n)
    X, w, M = rng.normal(size=(50, 20)) * 10, rng.normal(size=20), rng.normal(size=(20, 4))
    dealer = Dealer(n)
    got = reveal(matmul(share_values(X, n), share_values(w, n), dealer))
    assert got.shape == (50,)
    assert np.max(np.abs(got - _q(X) @ _q(w))) <= UNIT * (1 + 1e-6)
    got = reveal(matmul(share_values(X, n), share_values(M, n), dealer))
    assert np.max(np.abs(got - _q(X) @ _q(M))) <= UNIT * (1 + 1e-6)


def test_truncation_redoes_ambiguous_elements_and_stays_exact() -> None:
    # 2^-8 of the openings are ambiguous: over 20,000 elements some are redone
    # (no retry at all has probability (1 - 2^-8)^20000 < 1e-33).
    class Counting(Dealer):
        calls = 0

        def truncation_pairs(self, size):
            Counting.calls += 1
            return super().truncation_pairs(size)

    rng = np.random.default_rng(0)
    z = rng.uniform(-8e6, 8e6, 20_000)
    raw = np.rint(z * 2.0**32).astype(np.int64).view(np.uint64)  # 32 fractional bits
    got = reveal(truncate(share(raw, 3), Counting(3)))
    assert Counting.calls > 1
    exact = np.floor(raw.view(np.int64) / 2.0**16) / 2.0**16
    assert np.all((got - exact >= -1e-9) & (got - exact <= UNIT + 1e-9))


def test_triples_are_correct_and_bad_requests_refused() -> None:
    dealer = Dealer(3)
    t = dealer.triples("matmul", (4, 3), (3, 2))
    a = sum(p.a for p in t)
    b = sum(p.b for p in t)
    np.testing.assert_array_equal(sum(p.c for p in t), a @ b)
    with pytest.raises(ParameterError, match="op must be"):
        dealer.triples("div", (2,), (2,))
    with pytest.raises(ParameterError, match="at least 2"):
        Dealer(1)
