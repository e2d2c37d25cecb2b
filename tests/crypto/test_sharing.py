"""Fixed point and additive sharing: exact reconstruction, uniform shares independent of secrets.

Statistical tests reject at p < 1e-6 (false-failure rate 1e-6 per assertion). With
200,000 shares in 256 bins, a chi-square test detects a bias that moves about
1% of the mass between bins of one byte (a flaw such as a stuck bit moves half
of it); ``test_the_uniformity_test_catches_a_flawed_sharer`` shows it failing
on a broken sharer.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from veil.crypto.mpc import LIMIT, decode, encode, reconstruct, reveal, share, share_values
from veil.errors import DataError, ParameterError

ALPHA = 1e-6
N = 200_000


def _byte_p_value(words: np.ndarray, shift: int) -> float:
    counts = np.bincount(
        ((words >> np.uint64(shift)) & np.uint64(0xFF)).astype(np.int64), minlength=256
    )
    return float(stats.chisquare(counts).pvalue)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=50),
    st.integers(2, 5),
)
def test_reconstruction_is_exact(values: list[int], n: int) -> None:
    secret = np.array(values, dtype=np.uint64)
    shares = share(secret, n)
    assert len(shares) == n
    np.testing.assert_array_equal(reconstruct(shares), secret)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-LIMIT + 1, LIMIT - 1), min_size=1, max_size=30))
def test_fixed_point_round_trip_within_half_a_unit(values: list[float]) -> None:
    v = np.array(values)
    assert np.max(np.abs(reveal(share_values(v, 3)) - v)) <= 2.0**-17 + 1e-9 * np.abs(v).max()


def test_each_share_is_uniform_whatever_the_secret() -> None:
    for secret in (0, 2**63, 12345):
        shares = share(np.full(N, secret, dtype=np.uint64), 3)
        for s in shares:
            for shift in (0, 28, 56):  # low, middle and high byte
                assert _byte_p_value(s, shift) > ALPHA


def test_any_two_of_three_shares_are_jointly_uniform() -> None:
    # Two shares of three are independent uniform words whatever x is: the pair's
    # low nibbles fill 16 x 16 cells evenly.
    shares = share(np.full(N, 2**40 + 7, dtype=np.uint64), 3)
    for i, j in ((0, 1), (0, 2), (1, 2)):
        cells = ((shares[i] & np.uint64(15)) * np.uint64(16) + (shares[j] & np.uint64(15))).astype(
            np.int64
        )
        assert stats.chisquare(np.bincount(cells, minlength=256)).pvalue > ALPHA


def test_a_share_alone_is_independent_of_the_secret() -> None:
    # The same share position for two very different secrets: same distribution
    # (chi-square test of homogeneity on the low and high bytes).
    a = share(np.zeros(N, dtype=np.uint64), 2)
    b = share(np.full(N, 0xDEADBEEF12345678, dtype=np.uint64), 2)
    for k in (0, 1):
        for shift in (0, 56):
            table = np.array(
                [
                    np.bincount(
                        ((s[k] >> np.uint64(shift)) & np.uint64(0xFF)).astype(np.int64),
                        minlength=256,
                    )
                    for s in (a, b)
                ]
            )
            assert stats.chi2_contingency(table).pvalue > ALPHA


def test_the_uniformity_test_catches_a_flawed_sharer() -> None:
    # A sharer whose masks have their low bit stuck at 0 leaks x's low bit through
    # share 0; the same test must reject it.
    secret = np.full(N, 5, dtype=np.uint64)
    mask = share(np.zeros(N, dtype=np.uint64), 2)[1] & ~np.uint64(1)
    assert _byte_p_value(secret - mask, 0) < ALPHA


def test_encoding_refuses_values_outside_the_range() -> None:
    with pytest.raises(ParameterError, match=r"outside the fixed-point range .*2\^23"):
        encode(np.array([1.0, LIMIT]))
    with pytest.raises(ParameterError, match="-9e"):
        share_values(np.array([-9e6]), 2)
    with pytest.raises(DataError, match="NaN"):
        encode(np.array([np.nan]))
    with pytest.raises(ParameterError, match="at least 2 parties"):
        share(np.zeros(3, dtype=np.uint64), 1)
    np.testing.assert_array_equal(decode(encode(np.array([-1.5, 0.25]))), [-1.5, 0.25])
