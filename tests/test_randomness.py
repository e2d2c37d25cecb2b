"""veil.randomness: the secure words and bytes the DP samplers and secret sharing draw from."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from veil.randomness import random_bytes, random_words

# False-failure rate of each statistical test below.
ALPHA = 1e-6


def test_words_are_writable_uint64_and_uniform() -> None:
    words = random_words(400_000)
    assert words.dtype == np.uint64 and words.shape == (400_000,)
    words[0] = 0  # writable: secret sharing masks in place
    # Chi-square on the top 8 bits (256 cells, ~1,560 per cell): a bias of 1.5 % in
    # any cell's share, or stuck bits, is detected; a fair source fails with p < 1e-6.
    top = (words[1:] >> np.uint64(56)).astype(np.int64)
    counts = np.bincount(top, minlength=256)
    assert stats.chisquare(counts).pvalue > ALPHA
    # The low bit too (the one a weak generator gets wrong first).
    ones = int((words[1:] & np.uint64(1)).sum())
    assert stats.binomtest(ones, words.size - 1, 0.5).pvalue > ALPHA
    assert not np.array_equal(random_words(8), random_words(8))  # never seeded


def test_sizes_and_bad_sizes() -> None:
    assert len(random_bytes(33)) == 33
    assert random_words(0).size == 0
    for draw in (random_bytes, random_words):
        with pytest.raises(ValueError, match="n must be >= 0"):
            draw(-1)
