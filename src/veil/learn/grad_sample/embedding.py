"""nn.Embedding: per-sample norms by the ghost trick over token positions (Li et al. 2022).

Sample i's gradient of the table is a sum of output-gradient rows ``g_t`` into
the rows its tokens ``x_t`` select; its squared norm is
``sum_{s,t} [x_s = x_t] <g_s, g_t>`` (a T x T computation, never a table of
size vocabulary x dimension per sample), and the clipped sum is one
``index_add`` of the scaled rows, as the non-private backward does.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from veil.errors import ParameterError
from veil.learn.grad_sample.base import Capture, GradSampleRule, register_rule

__all__ = ["EmbeddingRule"]


@register_rule
class EmbeddingRule(GradSampleRule):
    """A lookup table ``weight[x]`` on integer inputs ``[n]`` or ``[n, ...]``."""

    types = (nn.Embedding,)

    def __init__(self, module: nn.Module) -> None:
        super().__init__(module)
        if module.scale_grad_by_freq:
            raise ParameterError(
                "nn.Embedding(scale_grad_by_freq=True) scales each gradient by how often a "
                "token occurs in the whole batch, which mixes samples and breaks per-sample "
                "clipping; use scale_grad_by_freq=False for DP training"
            )

    def _flat(self, cap: Capture) -> tuple[Tensor, Tensor]:
        """(token ids ``[n, T]``, output gradients ``[n, T, D]``), padding positions zeroed."""
        g = cap.grad
        assert g is not None
        n = g.shape[0]
        ids = cap.a.reshape(n, -1)
        g = g.reshape(n, ids.shape[1], -1)
        pad = self.module.padding_idx
        if pad is not None:
            g = g * (ids != pad).unsqueeze(-1).to(g.dtype)
        return ids, g

    def per_sample(self, cap: Capture) -> list[Tensor]:
        if not self.names:
            return []
        ids, g = self._flat(cap)
        n, _, dim = g.shape
        out = torch.zeros(n, self.module.num_embeddings, dim, dtype=g.dtype, device=g.device)
        out.scatter_add_(1, ids.unsqueeze(-1).expand_as(g), g)
        return [out]

    def sq_norms(self, cap: Capture) -> tuple[Tensor, Any]:
        ids, g = self._flat(cap)
        if ids.shape[1] == 1:
            return g.square().sum((1, 2)), None
        same = (ids.unsqueeze(2) == ids.unsqueeze(1)).to(g.dtype)
        gg = torch.bmm(g, g.transpose(1, 2))
        return (same * gg).sum((1, 2)), None

    def clipped_sums(self, cap: Capture, factors: Tensor, cache: Any) -> list[Tensor]:
        ids, g = self._flat(cap)
        dim = g.shape[2]
        rows = (g * factors[:, None, None]).reshape(-1, dim)
        table = torch.zeros(self.module.num_embeddings, dim, dtype=g.dtype, device=g.device)
        return [table.index_add_(0, ids.reshape(-1), rows)]
