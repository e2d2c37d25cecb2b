"""Multiplication of secret shares with Beaver triples, and fixed-point truncation, from a dealer.

Beaver (1991): to multiply shared x and y, the parties take a shared triple
(a, b, c = a * b) from a trusted dealer, open e = x - a and f = y - b (uniform:
they reveal nothing), and compute locally

    z_i = c_i + e * b_i + a_i * f  (+ e * f for party 0),

whose sum is x * y. The same holds for matrix products with c = a @ b.

Truncation (dividing by 2^16 after a product of fixed-point numbers) is
dealer-assisted: the dealer shares a uniform r and r >> 16. The parties open
c = x + 2^55 + r, which is uniform and independent of x; when c >= 2^56 the
sum cannot have wrapped modulo 2^64 (given |x| < 2^55), so

    (c >> 16) - 2^39 - (r >> 16)

is floor(x / 2^16) or one more: an error of at most 2^-16 in the real value,
with no failure probability. When c < 2^56 (probability 2^-8 per element,
independent of x) wrapping cannot be ruled out, and the parties redo those
elements with a fresh pair. The dealer is trusted and honest; the parties
are semi-honest and do not collude with it or each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from veil.crypto.mpc.ring import FRAC_BITS, RANGE_BITS
from veil.crypto.mpc.sharing import reconstruct, share
from veil.errors import ParameterError
from veil.randomness import random_words

__all__ = [
    "Dealer",
    "Triple",
    "TruncationPair",
    "combine_product",
    "finish_truncation",
    "mask_for_truncation",
    "mask_operands",
    "matmul",
    "multiply",
    "truncate",
]

#: x + OFFSET is in [0, 2^TRUNC_BITS) for every x within the fixed-point range.
TRUNC_BITS = RANGE_BITS + 2 * FRAC_BITS + 1
OFFSET = np.uint64(1 << (TRUNC_BITS - 1))
_THRESHOLD = np.uint64(1 << TRUNC_BITS)


def _elementwise(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return x * y


def _matmul(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return x @ y


OPS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "mul": _elementwise,
    "matmul": _matmul,
}


@dataclass
class Triple:
    """One party's share of a Beaver triple (a, b, c = a op b)."""

    a: np.ndarray
    b: np.ndarray
    c: np.ndarray


@dataclass
class TruncationPair:
    """One party's share of a uniform r and of r >> frac_bits."""

    r: np.ndarray
    r_high: np.ndarray


class Dealer:
    """The trusted dealer: correlated randomness, shared among ``n_parties``.

    It sees no input and no result; it must not collude with any party.
    """

    def __init__(self, n_parties: int, *, frac_bits: int = FRAC_BITS) -> None:
        if n_parties < 2:
            raise ParameterError(f"a dealer serves at least 2 parties; got {n_parties}")
        self.n_parties = n_parties
        self.frac_bits = frac_bits

    def triples(self, op: str, shape_x: tuple[int, ...], shape_y: tuple[int, ...]) -> list[Triple]:
        """Shares of (a, b, a op b), op ``"mul"`` (elementwise) or ``"matmul"``."""
        if op not in OPS:
            raise ParameterError(f"op must be one of {', '.join(OPS)}; got {op!r}")
        a = random_words(int(np.prod(shape_x))).reshape(shape_x)
        b = random_words(int(np.prod(shape_y))).reshape(shape_y)
        c = OPS[op](a, b)
        sa, sb, sc = (share(v, self.n_parties) for v in (a, b, c))
        return [Triple(*parts) for parts in zip(sa, sb, sc, strict=True)]

    def truncation_pairs(self, size: int) -> list[TruncationPair]:
        """Shares of ``size`` uniform r and of r >> frac_bits."""
        r = random_words(size)
        high = r >> np.uint64(self.frac_bits)
        return [
            TruncationPair(*p)
            for p in zip(share(r, self.n_parties), share(high, self.n_parties), strict=True)
        ]


# One party's local steps: the network protocol (parties.py) and the in-process
# simulation below run exactly these.


def mask_operands(x: np.ndarray, y: np.ndarray, triple: Triple) -> tuple[np.ndarray, np.ndarray]:
    """This party's shares of e = x - a and f = y - b, to be opened."""
    return x - triple.a, y - triple.b


def combine_product(
    party: int, e: np.ndarray, f: np.ndarray, triple: Triple, op: str
) -> np.ndarray:
    """This party's share of x op y from the opened e and f (32 fractional bits)."""
    fn = OPS[op]
    z = triple.c + fn(e, triple.b) + fn(triple.a, f)
    if party == 0:
        z += fn(e, f)
    return z


def mask_for_truncation(party: int, z: np.ndarray, pair: TruncationPair) -> np.ndarray:
    """This party's share of c = z + 2^55 + r, to be opened."""
    c = z + pair.r
    if party == 0:
        c += OFFSET
    return c


def finish_truncation(
    party: int, c: np.ndarray, pair: TruncationPair, *, frac_bits: int = FRAC_BITS
) -> np.ndarray:
    """This party's share of floor(z / 2^frac_bits) (+ 0 or 1), from the opened c."""
    out = np.zeros_like(c) - pair.r_high
    if party == 0:
        out += (c >> np.uint64(frac_bits)) - (OFFSET >> np.uint64(frac_bits))
    return out


def ambiguous(c: np.ndarray) -> np.ndarray:
    """Elements whose opened c cannot rule out a wrap: redo them with a fresh pair."""
    return c < _THRESHOLD


# In-process simulation: all parties' shares in one process, openings summed.


def multiply(
    x: list[np.ndarray], y: list[np.ndarray], dealer: Dealer, *, op: str = "mul"
) -> list[np.ndarray]:
    """Shares of the fixed-point product of shared x and y (elementwise or matmul), truncated.

    Every party's step is the one the network protocol runs; only the
    openings are sums in memory here.
    """
    n = len(x)
    shape = OPS[op](np.zeros(x[0].shape, np.uint64), np.zeros(y[0].shape, np.uint64)).shape
    triples = dealer.triples(op, x[0].shape, y[0].shape)
    masked = [mask_operands(x[i], y[i], triples[i]) for i in range(n)]
    e = reconstruct([m[0] for m in masked])
    f = reconstruct([m[1] for m in masked])
    z = [combine_product(i, e, f, triples[i], op) for i in range(n)]
    assert z[0].shape == shape
    return truncate(z, dealer)


def matmul(x: list[np.ndarray], y: list[np.ndarray], dealer: Dealer) -> list[np.ndarray]:
    """Shares of the fixed-point matrix product x @ y (dot products: 1-D y)."""
    return multiply(x, y, dealer, op="matmul")


def truncate(z: list[np.ndarray], dealer: Dealer) -> list[np.ndarray]:
    """Shares of z / 2^frac_bits, redoing the rare ambiguous elements with fresh pairs."""
    n = len(z)
    shape = z[0].shape
    flat = [s.reshape(-1) for s in z]
    out = [np.zeros(flat[0].size, np.uint64) for _ in range(n)]
    todo = np.arange(flat[0].size)
    while todo.size:
        pairs = dealer.truncation_pairs(todo.size)
        c = reconstruct([mask_for_truncation(i, flat[i][todo], pairs[i]) for i in range(n)])
        bad = ambiguous(c)
        for i in range(n):
            out[i][todo[~bad]] = finish_truncation(i, c, pairs[i], frac_bits=dealer.frac_bits)[~bad]
        todo = todo[bad]
    return [o.reshape(shape) for o in out]
