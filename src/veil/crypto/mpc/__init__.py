"""Secret-shared computation: additive shares over Z_2^64, Beaver products, parties on sockets.

A value is split into random shares held by different parties; no party (or
coalition short of all) learns anything about it, yet sums are computed share
by share and products with a dealer's Beaver triples (Beaver 1991)::

    from veil.crypto.mpc import secure_sum, shared_predict

    total = secure_sum([bank_a, bank_b, bank_c])     # 3 party processes on 127.0.0.1
    scores = shared_predict(w, b, X, n_parties=3)    # model and inputs as shares

Threat model: semi-honest parties, an honest dealer, no collusion; messages
between parties are authenticated (HMAC-SHA256 with per-pair keys and
sequence numbers). Fixed point: 16 fractional bits, values and results
within +-2^23 (a secure sum's values: +-2^46 / owners).
"""

from __future__ import annotations

from veil.crypto.mpc.beaver import Dealer, matmul, multiply, truncate
from veil.crypto.mpc.programs import secure_column_sums, secure_sum, shared_predict
from veil.crypto.mpc.ring import FRAC_BITS, LIMIT, decode, encode
from veil.crypto.mpc.sharing import reconstruct, reveal, share, share_values

__all__ = [
    "FRAC_BITS",
    "LIMIT",
    "Dealer",
    "decode",
    "encode",
    "matmul",
    "multiply",
    "reconstruct",
    "reveal",
    "secure_column_sums",
    "secure_sum",
    "share",
    "share_values",
    "shared_predict",
    "truncate",
]
