"""Additive secret sharing over Z_2^64: n random-looking shares that sum to the secret.

The shares of x are r_1, ..., r_{n-1}, uniform and independent (from the
operating system's secure source, :func:`veil.randomness.random_words`), and
r_0 = x - r_1 - ... - r_{n-1} mod 2^64. Any n - 1 of them are uniform and
independent of x (a one-time pad), so a party, or any coalition short of
all, learns nothing; the n together give x back exactly. Sums and public
linear maps act share by share, with no communication (Cramer, Damgard and
Nielsen, *Secure Multiparty Computation and Secret Sharing*, 2015, ch. 3).
"""

from __future__ import annotations

import numpy as np

from veil.crypto.mpc.ring import FRAC_BITS, decode, encode
from veil.errors import ParameterError
from veil.randomness import random_words

__all__ = ["reconstruct", "reveal", "share", "share_values"]


def share(secret: np.ndarray, n_parties: int) -> list[np.ndarray]:
    """Split ring elements (``uint64``) into ``n_parties`` additive shares."""
    if n_parties < 2:
        raise ParameterError(f"secret sharing needs at least 2 parties; got {n_parties}")
    x = np.asarray(secret, dtype=np.uint64)
    masks = [random_words(x.size).reshape(x.shape) for _ in range(n_parties - 1)]
    first = x.copy()
    for m in masks:
        first -= m  # wraps modulo 2^64
    return [first, *masks]


def reconstruct(shares: list[np.ndarray]) -> np.ndarray:
    """The secret (ring elements) from all of its shares."""
    if not shares:
        raise ParameterError("no shares to reconstruct from")
    total = np.array(shares[0], dtype=np.uint64, copy=True)
    for s in shares[1:]:
        total += np.asarray(s, dtype=np.uint64)
    return total


def share_values(
    values: np.ndarray, n_parties: int, *, frac_bits: int = FRAC_BITS
) -> list[np.ndarray]:
    """Encode real values in fixed point (:func:`~veil.crypto.mpc.ring.encode`) and share them."""
    return share(encode(values, frac_bits=frac_bits), n_parties)


def reveal(shares: list[np.ndarray], *, frac_bits: int = FRAC_BITS) -> np.ndarray:
    """Reconstruct and decode: the real values the shares hold."""
    return decode(reconstruct(shares), frac_bits=frac_bits)
