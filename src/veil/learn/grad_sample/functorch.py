"""Per-sample gradients by ``torch.func`` (vmap over vjp / grad): any layer, any model.

Two uses. As a rule (:class:`FunctorchRule`) for a layer with parameters that
no faster rule covers: from the layer's captured inputs and output gradient,
``vmap`` over samples of the layer's vector-Jacobian product gives each
sample's gradient, still with one forward and one backward of the whole model.
And for a whole model (:func:`whole_model_per_sample`): ``vmap(grad(loss))``
of one sample's loss, the reference that needs no capture at all (what
``clipping="functorch"`` uses, and the fallback for tied weights).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn
from torch.func import functional_call, grad, vjp, vmap

from veil.learn.grad_sample.base import Capture, GradSampleRule

__all__ = ["FunctorchRule", "whole_model_per_sample"]


class FunctorchRule(GradSampleRule):
    """Any layer whose output is one tensor and whose samples do not interact."""

    def per_sample(self, cap: Capture) -> list[Tensor]:
        g = cap.grad
        assert g is not None
        n = g.shape[0]
        module, args, kwargs = self.module, cap.args, cap.kwargs
        batched = [isinstance(x, Tensor) and x.dim() > 0 and x.shape[0] == n for x in args]
        params = {name: p.detach() for name, p in zip(self.names, self.params, strict=True)}

        def one(p: dict[str, Tensor], sample_args: list[Tensor], g_i: Tensor) -> dict[str, Tensor]:
            it = iter(sample_args)
            full = tuple(
                next(it).unsqueeze(0) if b else x for b, x in zip(batched, args, strict=True)
            )
            _, pullback = vjp(lambda q: functional_call(module, q, full, kwargs), p)
            return pullback(g_i.unsqueeze(0))[0]

        sample_args = [x for x, b in zip(args, batched, strict=True) if b]
        grads = vmap(one, in_dims=(None, 0, 0))(params, sample_args, g)
        return [grads[name] for name in self.names]


def whole_model_per_sample(
    model: nn.Module,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    x: Tensor,
    y: Tensor,
    names: list[str],
) -> tuple[dict[str, Tensor], Tensor]:
    """(per-sample gradients ``[n, *shape]`` of the parameters ``names``, per-sample losses).

    Each sample runs through the model alone (a batch of one), so a layer
    that mixes samples cannot go unnoticed here.
    """
    owned = dict(model.named_parameters())
    params = {name: owned[name].detach() for name in names}

    def loss_one(p: dict[str, Tensor], x_i: Tensor, y_i: Tensor) -> tuple[Tensor, Tensor]:
        out = functional_call(model, p, (x_i.unsqueeze(0),))
        loss = loss_fn(out, y_i.unsqueeze(0)).sum()
        return loss, loss.detach()

    grads, losses = vmap(grad(loss_one, has_aux=True), in_dims=(None, 0, 0))(params, x, y)
    return grads, losses
