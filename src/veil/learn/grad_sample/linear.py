"""nn.Linear: per-sample norms from activations and output gradients (Bu et al. 2023).

For a 2-D input the gradient of sample i is the outer product ``g_i a_i^T``, so
its squared norm is ``|a_i|^2 |g_i|^2`` (Goodfellow 2015) and the clipped sum is
``(c * g)^T a``: one matrix product, no per-sample tensor. For an input with a
sequence dimension of length T the gradient is ``g_i^T a_i`` (a sum over T outer
products); its squared norm is either the ghost norm ``<a_i a_i^T, g_i g_i^T>``
(cost T^2 (d + p), Li et al. 2022) or the norm of the materialised gradient
(cost T d p), whichever is cheaper.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from veil.learn.grad_sample.base import Capture, GradSampleRule, register_rule

__all__ = ["LinearRule", "ghost_is_cheaper"]


def ghost_is_cheaper(length: int, d: int, p: int) -> bool:
    """Whether the ghost norm (T^2 (d + p)) beats materialising (T d p) for one sample."""
    return length * (d + p) < d * p


def _as_3d(a: Tensor, g: Tensor) -> tuple[Tensor, Tensor]:
    n = a.shape[0]
    return a.reshape(n, -1, a.shape[-1]), g.reshape(n, -1, g.shape[-1])


@register_rule
class LinearRule(GradSampleRule):
    """``y = a W^T + b`` on inputs ``[n, d]`` or ``[n, ..., d]``."""

    types = (nn.Linear,)

    def __init__(self, module: nn.Module) -> None:
        super().__init__(module)
        self.has_weight = "weight" in self.names
        self.has_bias = "bias" in self.names

    def per_sample(self, cap: Capture) -> list[Tensor]:
        a, g = cap.a, cap.grad
        assert g is not None
        out = []
        if a.dim() == 2:
            if self.has_weight:
                out.append(torch.einsum("np,nd->npd", g, a))
            if self.has_bias:
                out.append(g)
            return out
        a3, g3 = _as_3d(a, g)
        if self.has_weight:
            out.append(torch.bmm(g3.transpose(1, 2), a3))
        if self.has_bias:
            out.append(g3.sum(1))
        return out

    def sq_norms(self, cap: Capture) -> tuple[Tensor, Any]:
        a, g = cap.a, cap.grad
        assert g is not None
        if a.dim() == 2:
            g2 = g.square().sum(1)
            total = a.square().sum(1) * g2 if self.has_weight else torch.zeros_like(g2)
            if self.has_bias:
                total = total + g2
            return total, None
        a3, g3 = _as_3d(a, g)
        cache: dict[str, Tensor] = {}
        total = torch.zeros(a3.shape[0], dtype=g3.dtype, device=g3.device)
        if self.has_weight:
            if ghost_is_cheaper(a3.shape[1], a3.shape[2], g3.shape[2]):
                aa = torch.bmm(a3, a3.transpose(1, 2))
                gg = torch.bmm(g3, g3.transpose(1, 2))
                total = total + (aa * gg).sum((1, 2))
            else:
                w = torch.bmm(g3.transpose(1, 2), a3)
                cache["weight"] = w
                total = total + w.square().sum((1, 2))
        if self.has_bias:
            b = g3.sum(1)
            cache["bias"] = b
            total = total + b.square().sum(1)
        return total, cache

    def clipped_sums(self, cap: Capture, factors: Tensor, cache: Any) -> list[Tensor]:
        a, g = cap.a, cap.grad
        assert g is not None
        out = []
        if a.dim() == 2:
            if self.has_weight or self.has_bias:
                gc = g * factors[:, None]
            if self.has_weight:
                out.append(torch.mm(gc.t(), a.to(gc.dtype)))
            if self.has_bias:
                out.append(gc.sum(0))
            return out
        if self.has_weight:
            if "weight" in cache:
                out.append(torch.einsum("n,npd->pd", factors, cache["weight"]))
            else:
                a3, g3 = _as_3d(a, g)
                gc = (g3 * factors[:, None, None]).reshape(-1, g3.shape[2])
                out.append(torch.mm(gc.t(), a3.reshape(-1, a3.shape[2])))
        if self.has_bias:
            out.append(torch.mv(cache["bias"].t(), factors))
        return out
