"""Fixed-point numbers in the ring Z_2^64: what secret shares are made of.

A real value v is encoded as the integer round(v * 2^16) in two's complement,
held in a ``uint64`` whose arithmetic wraps modulo 2^64 (numpy's unsigned
arithmetic does, silently), so sums and products of shares are ring operations.
A product of two encodings carries 32 fractional bits and is truncated back to
16 (:mod:`veil.crypto.mpc.beaver`).

Range: values, and every sum, product or dot product computed from them, must
stay within +-2^23 (8,388,608). Encoding refuses values outside it; a
computed result beyond it wraps (the ring has no overflow flag), which is the
caller's bound to respect, as for any fixed-size integer.
"""

from __future__ import annotations

import numpy as np

from veil.errors import DataError, ParameterError

__all__ = ["FRAC_BITS", "LIMIT", "RANGE_BITS", "decode", "encode"]

#: Fractional bits of the encoding: resolution 2^-16 (about 1.5e-5).
FRAC_BITS = 16
#: Values and results stay within +-2^RANGE_BITS.
RANGE_BITS = 23
LIMIT = float(2**RANGE_BITS)


def encode(values: np.ndarray | float, *, frac_bits: int = FRAC_BITS) -> np.ndarray:
    """Real values to ring elements: round(v * 2^frac_bits) modulo 2^64, as ``uint64``.

    Raises
    ------
    DataError
        A value is NaN or infinite.
    ParameterError
        A value lies outside [-2^23, 2^23], the range in which sums and
        products of shares are exact.
    """
    v = np.asarray(values, dtype=np.float64)
    if not np.isfinite(v).all():
        raise DataError("the values hold NaN or infinite entries; impute or drop them first")
    if v.size and np.max(np.abs(v)) >= LIMIT:
        worst = float(v.flat[np.argmax(np.abs(v))])
        raise ParameterError(
            f"value {worst:g} is outside the fixed-point range (-{LIMIT:,.0f}, {LIMIT:,.0f}) "
            f"= +-2^{RANGE_BITS}: rescale the data (e.g. to thousands) before sharing"
        )
    return np.rint(v * float(1 << frac_bits)).astype(np.int64).view(np.uint64)


def decode(words: np.ndarray, *, frac_bits: int = FRAC_BITS) -> np.ndarray:
    """Ring elements back to reals: the two's-complement integer divided by 2^frac_bits."""
    return np.asarray(words, dtype=np.uint64).view(np.int64) / float(1 << frac_bits)
