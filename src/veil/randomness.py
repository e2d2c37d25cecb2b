"""Secure randomness: the operating system's cryptographic source and exact samplers on it.

The spine's one source of randomness that must not be predictable: noise for
differential privacy where OpenDP offers no vectorised sampler (randomized
response over millions of answers), and the random ring elements and masks of
secret sharing. Every draw comes from ``os.urandom`` and every sampler is an
integer comparison on uniform random bits: no floating-point sampling, so none
of the artefacts Mironov (2012) exploited, and nothing can be seeded (a seed
belongs only to non-private randomness: splits, shuffles, demos).
"""

from __future__ import annotations

import math
import os
from fractions import Fraction

import numpy as np

__all__ = ["bernoulli", "bernoulli_probability", "random_bytes", "random_words", "uniform_below"]

_BITS = 64


def random_bytes(n: int) -> bytes:
    """``n`` bytes from the operating system's cryptographically secure source."""
    if n < 0:
        raise ValueError(f"n must be >= 0; got {n}")
    return os.urandom(n)


def random_words(n: int) -> np.ndarray:
    """``n`` independent uniform 64-bit words (``uint64``): elements of the ring Z_2^64.

    What additive secret sharing over Z_2^64 draws its masks from: a share
    ``x - r`` with ``r`` uniform reveals nothing about ``x``.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0; got {n}")
    return _words(n).copy()  # writable: callers mask values in place


def _words(n: int) -> np.ndarray:
    """``n`` uniform 64-bit words as a read-only view: what the samplers only compare."""
    return np.frombuffer(os.urandom(8 * n), dtype=np.uint64)


def bernoulli(p: float | Fraction, size: int) -> np.ndarray:
    """``size`` independent exact Bernoulli(p) draws, p a float or a fraction.

    p is rounded down to a multiple m / 2**64 (which lowers it by less than
    2**-64); then 64 uniform bits U give U < m with probability exactly m / 2**64
    (:func:`bernoulli_probability`).

    Returns
    -------
    numpy.ndarray of bool
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1]; got {p}")
    if p == 1.0:
        return np.ones(size, dtype=bool)
    threshold = math.floor(Fraction(p) * (1 << _BITS))  # p rounded down to 64 bits
    if threshold == 0:
        return np.zeros(size, dtype=bool)
    return _words(size) < np.uint64(threshold)


def bernoulli_probability(p: float | Fraction) -> Fraction:
    """The exact probability :func:`bernoulli` realises for ``p``."""
    if p >= 1.0:
        return Fraction(1)
    return Fraction(math.floor(Fraction(p) * (1 << _BITS)), 1 << _BITS)


def uniform_below(k: int, size: int) -> np.ndarray:
    """``size`` exact uniform integers in ``[0, k)``, by rejection of 64-bit words."""
    if k < 1:
        raise ValueError(f"k must be >= 1; got {k}")
    if k == 1:
        return np.zeros(size, dtype=np.int64)
    # Accept words below the largest multiple of k that fits in 64 bits.
    limit = ((1 << _BITS) // k) * k
    out = np.empty(size, dtype=np.int64)
    filled = 0
    while filled < size:
        need = size - filled
        words = _words(need + need // 8 + 16)
        if limit < (1 << _BITS):
            words = words[words < np.uint64(limit)]
        take = words[:need]
        out[filled : filled + len(take)] = (take % np.uint64(k)).astype(np.int64)
        filled += len(take)
    return out
