"""A PyTorch activation CKKS evaluates exactly: a polynomial with trainable or fixed coefficients.

Train a network with :class:`PolynomialActivation` in place of ReLU (as
CryptoNets did with the square, Gilad-Bachrach et al. 2016) and
:func:`veil.crypto.he.from_torch` converts it with no approximation error.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["PolynomialActivation"]


class PolynomialActivation(nn.Module):
    """``c0 + c1 x + ... + cd x^d`` elementwise; coefficients from the constant term up.

    Parameters
    ----------
    coefficients
        Initial coefficients, e.g. ``(0.0, 0.5, 0.25)`` (a smooth ReLU-like
        square: degree 2 costs two CKKS levels).
    trainable
        Whether the coefficients are learned with the weights.
    """

    def __init__(
        self, coefficients: Sequence[float] = (0.0, 0.5, 0.25), *, trainable: bool = False
    ):
        super().__init__()
        values = torch.tensor([float(c) for c in coefficients], dtype=torch.float32)
        if trainable:
            self.coefficients = nn.Parameter(values)
        else:
            self.register_buffer("coefficients", values)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.zeros_like(x)
        for c in reversed(self.coefficients):  # Horner's rule
            out = out * x + c
        return out
