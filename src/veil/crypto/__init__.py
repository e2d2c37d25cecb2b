"""Encrypted machine learning: homomorphic-encryption inference and secret-shared computation.

- :mod:`veil.crypto.he`: a server evaluates linear, logistic and small
  polynomial networks on CKKS ciphertexts (TenSEAL); only the client decrypts.
- :mod:`veil.crypto.service`: the same over HTTP (``veil crypto serve`` / ``predict``).
- :mod:`veil.crypto.mpc`: additive secret sharing over Z_2^64, Beaver
  multiplication with a dealer, and parties over authenticated sockets
  (secure sums across data owners, predictions of a secret-shared model).

See docs/crypto.md for when to use which, their threat models and their costs.
"""

from __future__ import annotations
