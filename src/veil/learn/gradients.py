"""Per-sample gradients of a model, for tests and cross-checks against other libraries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from veil.learn.data import as_tensors
from veil.learn.grad_sample import GradSampler
from veil.learn.losses import as_loss, target_dtype

__all__ = ["per_sample_gradients"]


def per_sample_gradients(
    model: nn.Module,
    loss_fn: str | Callable[[Tensor, Tensor], Tensor],
    X: Any,
    y: Any,
    *,
    clipping: str = "auto",
) -> dict[str, Tensor]:
    """Each sample's gradient of its own loss, for every trainable parameter of ``model``.

    Computed as DP-SGD computes them before clipping: with ``clipping="auto"``
    by each layer's rule from one forward and one backward, with
    ``"functorch"`` by ``torch.func.vmap(grad)`` of the whole model.

    Parameters
    ----------
    model
        The model (its parameters are not changed).
    loss_fn
        "cross_entropy", "bce", "mse" or a callable(out, y) giving one loss per sample.
    X, y
        Features and targets, arrays or tensors.

    Returns
    -------
    dict of str to Tensor
        Parameter name → tensor ``[n, *param.shape]``.
    """
    device = next(model.parameters()).device
    x, t = as_tensors(X, y, target=target_dtype(loss_fn), device=device)
    sampler = GradSampler(model, clipping=clipping)
    try:
        with torch.enable_grad():
            return sampler.per_sample(x, t, as_loss(loss_fn))
    finally:
        sampler.remove()
