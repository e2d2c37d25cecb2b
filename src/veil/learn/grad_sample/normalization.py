"""nn.LayerNorm and nn.GroupNorm: per-sample gradients of their affine parameters.

Both normalise within a sample, so each sample's gradient of the scale is
``sum(g * x_hat)`` and of the shift ``sum(g)`` over the positions that share a
parameter, with ``x_hat`` the normalised input recomputed from the captured
activations. The tensors are as small as the parameters (a few hundred values
per sample), so they are materialised. Batch normalisation mixes the samples
of a batch and is refused by :func:`~veil.learn.grad_sample.check_model`.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from veil.learn.grad_sample.base import Capture, GradSampleRule, register_rule

__all__ = ["GroupNormRule", "LayerNormRule"]


@register_rule
class LayerNormRule(GradSampleRule):
    """Layer normalisation over the last ``len(normalized_shape)`` dimensions (Ba et al. 2016)."""

    types = (nn.LayerNorm,)

    def per_sample(self, cap: Capture) -> list[Tensor]:
        m = self.module
        g = cap.grad
        assert g is not None
        x = cap.a.to(g.dtype)
        n, k = x.shape[0], len(m.normalized_shape)
        between = tuple(range(1, x.dim() - k))  # dimensions that share the parameters
        out = []
        for name in self.names:
            if name == "weight":
                xhat = F.layer_norm(x, m.normalized_shape, None, None, m.eps)
                t = g * xhat
            else:
                t = g
            out.append(t.sum(between) if between else t.reshape(n, *m.normalized_shape))
        return out


@register_rule
class GroupNormRule(GradSampleRule):
    """Group normalisation of inputs ``[n, C, ...]`` (Wu and He 2018): the DP-safe BatchNorm."""

    types = (nn.GroupNorm,)

    def per_sample(self, cap: Capture) -> list[Tensor]:
        m = self.module
        g = cap.grad
        assert g is not None
        x = cap.a.to(g.dtype)
        n, c = x.shape[0], x.shape[1]
        out = []
        for name in self.names:
            t = g * F.group_norm(x, m.num_groups, None, None, m.eps) if name == "weight" else g
            out.append(t.reshape(n, c, -1).sum(2))
        return out
