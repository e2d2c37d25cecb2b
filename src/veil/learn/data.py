"""Training data at the edge: arrays or tensors checked once and converted to tensors."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from veil.errors import DataError

__all__ = ["as_tensors"]


def _tensor(value: Any, name: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        t = value.detach()
    else:
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError) as err:
            raise DataError(f"{name} must be a numeric array or tensor; {err}") from None
        if arr.dtype == object or arr.dtype.kind not in "biuf":
            raise DataError(
                f"{name} must be numeric; got dtype {arr.dtype} (encode categories first)"
            )
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.dim() == 0:
        raise DataError(f"{name} must have one row per sample; got a scalar")
    if t.is_floating_point() and not bool(torch.isfinite(t).all()):
        bad = int((~torch.isfinite(t)).reshape(t.shape[0], -1).any(1).sum())
        raise DataError(
            f"{name} has NaN or infinite values in {bad} row(s); drop or impute them first"
        )
    return t


def as_tensors(
    X: Any, y: Any, *, target: torch.dtype | None, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """(features, targets) as tensors on ``device``: float features become float32,
    integer features (token ids) stay integers; targets take the loss's dtype.

    Raises
    ------
    DataError
        Non-numeric values, NaN or infinity, no rows, lengths that differ, or
        class targets that are not non-negative integers.
    """
    x, t = _tensor(X, "X"), _tensor(y, "y")
    if x.shape[0] == 0:
        raise DataError("X has no rows: nothing to train on")
    if x.shape[0] != t.shape[0]:
        raise DataError(f"X has {x.shape[0]} rows but y has {t.shape[0]}; give one target per row")
    x = x.to(torch.float32) if x.is_floating_point() or x.dtype == torch.bool else x.to(torch.long)
    if target == torch.long:
        if t.is_floating_point() and not bool((t == t.round()).all()):
            raise DataError("y holds non-integer values; cross_entropy needs class indices 0..C-1")
        t = t.to(torch.long)
        if bool((t < 0).any()):
            raise DataError("y holds negative values; cross_entropy needs class indices 0..C-1")
    elif target is not None:
        t = t.to(target)
    return x.to(device), t.to(device)
