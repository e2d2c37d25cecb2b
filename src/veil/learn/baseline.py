"""The non-private baseline: the same model, loss and optimizer on shuffled minibatches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from veil.learn.data import as_tensors
from veil.learn.grad_sample import check_model
from veil.learn.losses import as_loss, target_dtype
from veil.learn.progress import EpochProgress
from veil.learn.trainer import _positive, make_optimizer

__all__ = ["train_non_private"]


def train_non_private(
    model: nn.Module,
    X: Any,
    y: Any,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    optimizer: str = "adam",
    loss: str | Callable[[Tensor, Tensor], Tensor] = "cross_entropy",
    seed: int | None = None,
    progress: bool | Callable[[int, dict[str, Any]], None] = False,
) -> nn.Module:
    """Train ``model`` in place without privacy: what DP-SGD's accuracy is compared with.

    Each epoch visits the rows once in a random order (``seed``) in batches of
    ``batch_size``; the batch loss is the mean of the per-sample losses.
    Returns the model.
    """
    _positive(epochs, "epochs", integer=True)
    _positive(batch_size, "batch_size", integer=True)
    _positive(learning_rate, "learning_rate")
    check_model(model)
    loss_fn = as_loss(loss)
    params = [p for p in model.parameters() if p.requires_grad]
    device = params[0].device
    x, t = as_tensors(X, y, target=target_dtype(loss), device=device)
    opt = make_optimizer(optimizer, params, learning_rate)
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    report = EpochProgress(progress, epochs, "non-private training")
    model.train()
    try:
        report(0, {"epoch": 0, "steps": 0})
        for epoch in range(1, epochs + 1):
            order = torch.randperm(x.shape[0], generator=gen).to(device)
            total = 0.0
            for start in range(0, x.shape[0], batch_size):
                idx = order[start : start + batch_size]
                batch_loss = loss_fn(model(x[idx]), t[idx]).mean()
                opt.zero_grad(set_to_none=True)
                batch_loss.backward()
                opt.step()
                total += float(batch_loss.detach()) * idx.numel()
            report(epoch, {"epoch": epoch, "loss": total / x.shape[0]})
    finally:
        report.close()
    return model
