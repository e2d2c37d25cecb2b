"""Per-sample losses by name: what DP-SGD clips is each sample's own gradient.

A loss here maps (model output, targets) to one loss per sample (shape
``[n]``); any dimensions beyond the first are averaged within the sample.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from veil.errors import ParameterError

__all__ = ["LOSSES", "as_loss", "target_dtype"]


def _per_sample(loss: Tensor) -> Tensor:
    return loss.reshape(loss.shape[0], -1).mean(1) if loss.dim() > 1 else loss


def cross_entropy(out: Tensor, y: Tensor) -> Tensor:
    """Softmax cross-entropy of logits ``[n, classes, ...]`` against class indices."""
    return _per_sample(F.cross_entropy(out, y, reduction="none"))


def bce(out: Tensor, y: Tensor) -> Tensor:
    """Binary cross-entropy of logits against 0/1 targets of the same number of values."""
    return _per_sample(
        F.binary_cross_entropy_with_logits(
            out, y.reshape(out.shape).to(out.dtype), reduction="none"
        )
    )


def mse(out: Tensor, y: Tensor) -> Tensor:
    """Squared error, averaged over the output's values within each sample."""
    return _per_sample((out - y.reshape(out.shape).to(out.dtype)).square())


#: Built-in per-sample losses by name.
LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "cross_entropy": cross_entropy,
    "bce": bce,
    "mse": mse,
}


def as_loss(loss: str | Callable[[Tensor, Tensor], Tensor]) -> Callable[[Tensor, Tensor], Tensor]:
    """The per-sample loss function for a name in :data:`LOSSES` or a callable."""
    if callable(loss):
        return loss
    if isinstance(loss, str) and loss in LOSSES:
        return LOSSES[loss]
    raise ParameterError(
        f"loss must be one of {', '.join(LOSSES)} or a callable(out, y) returning one loss "
        f"per sample; got {loss!r}"
    )


def target_dtype(loss: str | Callable[[Tensor, Tensor], Tensor]) -> torch.dtype | None:
    """The dtype targets are converted to for a named loss (None: left as given)."""
    if loss == "cross_entropy":
        return torch.long
    if loss in ("bce", "mse"):
        return torch.float32
    return None
