"""Homomorphic-encryption inference on CKKS (TenSEAL): the server scores what it cannot read.

The client holds the secret key; the server gets the public context and
ciphertexts, evaluates the model on them and returns ciphertexts only the
client can decrypt (threat model: an honest-but-curious server)::

    from veil.crypto.he import HEContext, decrypt, encrypt, from_sklearn

    model = from_sklearn(fitted_logistic_regression)
    keys = HEContext.generate(model.parameters())      # client: secret key stays here
    batch = encrypt(keys, X)                            # client
    scores = model.evaluate(batch, server_context)      # server: public context only
    probabilities = model.finish(decrypt(keys, scores)) # client: exact sigmoid

:mod:`veil.crypto.service` runs the same over HTTP. Importing
:class:`PolynomialActivation` imports PyTorch.
"""

from __future__ import annotations

from typing import Any

from veil.crypto.he.context import HEContext, HEParameters, parameters_for_depth
from veil.crypto.he.convert import from_sklearn, from_torch, load_model
from veil.crypto.he.models import Dense, HEModel, Polynomial
from veil.crypto.he.packing import EncryptedBatch, decrypt, encrypt
from veil.crypto.he.polynomials import PolynomialFit, fit_polynomial, sigmoid_polynomial

__all__ = [
    "Dense",
    "EncryptedBatch",
    "HEContext",
    "HEModel",
    "HEParameters",
    "Polynomial",
    "PolynomialActivation",
    "PolynomialFit",
    "decrypt",
    "encrypt",
    "encrypted_predict",
    "fit_polynomial",
    "from_sklearn",
    "from_torch",
    "load_model",
    "parameters_for_depth",
    "sigmoid_polynomial",
]


def encrypted_predict(model: HEModel, X: Any, *, context: HEContext | None = None) -> Any:
    """Encrypt ``X``, evaluate ``model`` on the ciphertexts, decrypt and apply the link.

    Both roles in one process (tests, benchmarks, a first look at the error);
    the server's half runs on a public copy of the context, as it would remotely.
    """
    import numpy as np

    keys = context or HEContext.generate(model.parameters())
    server = HEContext.from_public_bytes(keys.public_bytes, keys.parameters)
    X = model.check_features(np.asarray(X, dtype=np.float64))
    result = model.evaluate(encrypt(keys, X), server)
    return model.finish(decrypt(keys, result))


def __getattr__(name: str) -> Any:
    if name == "PolynomialActivation":  # imports torch: only when asked for
        from veil.crypto.he.activation import PolynomialActivation

        return PolynomialActivation
    raise AttributeError(name)
