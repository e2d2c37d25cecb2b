"""The per-sample clipping engine: one forward, one backward, per-layer norms, clipped sums.

:class:`GradSampler` attaches a forward hook to every layer that owns trainable
parameters. A step runs the model on the batch with the hooks recording each
layer's inputs and output, takes the gradient of the summed per-sample losses
with respect to those outputs only (``torch.autograd.grad``: the parameters'
own batch gradients are never computed), asks each layer's rule for the
per-sample squared norms, adds them up into each sample's norm over the whole
model, and asks the rules again for the sums of the clipped gradients (Bu et
al. 2023's book-keeping; Li et al. 2022's ghost norms where cheaper).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from veil.errors import ParameterError
from veil.learn.grad_sample.base import Capture, GradSampleRule, rule_class
from veil.learn.grad_sample.functorch import FunctorchRule, whole_model_per_sample

__all__ = ["CLIPPING_MODES", "GradSampler", "check_model", "clip_factors"]

#: "auto": the fastest rule per layer (book-keeping/ghost, ``torch.func`` elsewhere);
#: "functorch": ``vmap(grad)`` of the whole model, for every layer.
CLIPPING_MODES = ("auto", "functorch")

LossFn = Callable[[Tensor, Tensor], Tensor]


def check_model(model: nn.Module) -> None:
    """Refuse what DP-SGD cannot train: layers that mix samples, no trainable parameter.

    Raises
    ------
    ParameterError
        A BatchNorm layer, an InstanceNorm with running statistics, or no
        parameter with ``requires_grad``.
    """
    if not isinstance(model, nn.Module):
        raise ParameterError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    for name, m in model.named_modules():
        where = f"layer {name!r} ({type(m).__name__})" if name else type(m).__name__
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            c = getattr(m, "num_features", "C")
            raise ParameterError(
                f"{where} normalises over the batch, so one sample's gradient depends on the "
                f"others and cannot be clipped; replace it with nn.GroupNorm(num_groups, {c}) "
                f"(e.g. GroupNorm(min(32, {c}), {c})) or nn.LayerNorm"
            )
        if isinstance(m, nn.modules.instancenorm._InstanceNorm) and m.track_running_stats:
            c = getattr(m, "num_features", "C")
            raise ParameterError(
                f"{where} tracks running statistics over batches, which leaks them unclipped; "
                f"use track_running_stats=False, or nn.GroupNorm({c}, {c}) or nn.LayerNorm"
            )
    if not any(p.requires_grad for p in model.parameters()):
        raise ParameterError("the model has no parameter with requires_grad=True: nothing to train")


def clip_factors(sq_norms: Tensor, max_grad_norm: float) -> Tensor:
    """``min(1, C / (|grad_i| + 1e-6))``: every clipped norm stays at most C."""
    return (max_grad_norm / (sq_norms.sqrt() + 1e-6)).clamp_(max=1.0)


class GradSampler:
    """Per-sample gradient norms and clipped sums for a model's trainable parameters.

    Parameters
    ----------
    model
        Any module whose samples do not interact (checked by :func:`check_model`).
    clipping
        "auto" (a rule per layer) or "functorch" (``torch.func`` on the whole model).
        A model whose layers share a parameter (tied weights) always uses
        "functorch": per-layer norms would not add up to the shared gradient's.
    """

    def __init__(self, model: nn.Module, *, clipping: str = "auto") -> None:
        check_model(model)
        if clipping not in CLIPPING_MODES:
            raise ParameterError(
                f"clipping must be one of {', '.join(CLIPPING_MODES)}; got {clipping!r}"
            )
        self.model = model
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self.names = [n for n, _ in named]
        self.params = [p for _, p in named]
        self.rules: list[GradSampleRule] = []
        if clipping == "auto":
            seen: set[int] = set()
            for m in model.modules():
                own = [p for p in m.parameters(recurse=False) if p.requires_grad]
                if not own:
                    continue
                if any(id(p) in seen for p in own):
                    clipping = "functorch"
                    break
                seen.update(id(p) for p in own)
                self.rules.append((rule_class(m) or FunctorchRule)(m))
            # A parameter owned twice is found above; one module using another's
            # parameter is not, so also require every parameter to be owned once.
            if clipping == "auto" and len(seen) != len({id(p) for p in self.params}):
                clipping = "functorch"
        if clipping == "functorch":
            self.rules = []
        self.clipping = clipping
        self._captures: list[list[Capture]] = [[] for _ in self.rules]
        self._recording = False
        self._clone = False
        self._handles = [
            rule.module.register_forward_hook(self._hook(i), with_kwargs=True)
            for i, rule in enumerate(self.rules)
        ]
        self._index = {id(p): i for i, p in enumerate(self.params)}

    def remove(self) -> None:
        """Detach the hooks from the model."""
        for h in self._handles:
            h.remove()
        self._handles = []

    def _hook(self, i: int) -> Callable[..., Any]:
        def hook(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> Any:
            if not self._recording:
                return None
            if not isinstance(out, Tensor):
                raise ParameterError(
                    f"{type(module).__name__} returns {type(out).__name__}, not one tensor; "
                    "train it with clipping='functorch'"
                )
            detached = tuple(a.detach() if isinstance(a, Tensor) else a for a in args)
            self._captures[i].append(Capture(detached, kwargs, out))
            # In clone mode the layer's consumers get a copy, so an in-place op
            # downstream (ReLU(inplace=True)) cannot rewrite the captured output.
            return out.clone() if self._clone else None

        return hook

    def _record(self, x: Tensor, y: Tensor, loss_fn: LossFn) -> Tensor:
        """Run the model with the hooks on; the per-sample losses."""
        for caps in self._captures:
            caps.clear()
        self._recording = True
        try:
            losses = loss_fn(self.model(x), y)
        finally:
            self._recording = False
        return losses

    def _forward_backward(self, x: Tensor, y: Tensor, loss_fn: LossFn) -> Tensor:
        losses = self._record(x, y, loss_fn)
        if not self._clone and any(
            c.output._version != c.version for caps in self._captures for c in caps
        ):
            self._clone = True  # an output was modified in place: capture copies from now on
            losses = self._record(x, y, loss_fn)
        caps = [c for cs in self._captures for c in cs]
        outputs = [c.output for c in caps]
        total = losses.sum()
        grads = torch.autograd.grad(total, outputs, allow_unused=True) if outputs else ()
        for c, g in zip(caps, grads, strict=True):
            c.grad = torch.zeros_like(c.output) if g is None else g
            c.output = None  # type: ignore[assignment]  # free the graph's output early
        return losses.detach()

    def per_sample(self, x: Tensor, y: Tensor, loss_fn: LossFn) -> dict[str, Tensor]:
        """Each sample's gradient of each trainable parameter, by name: ``[n, *shape]``."""
        n = x.shape[0]
        if self.clipping == "functorch":
            grads, _ = whole_model_per_sample(self.model, loss_fn, x, y, self.names)
            return grads
        self._forward_backward(x, y, loss_fn)
        out = {
            name: torch.zeros(n, *p.shape, dtype=p.dtype, device=p.device)
            for name, p in zip(self.names, self.params, strict=True)
        }
        by_id = dict(zip((id(p) for p in self.params), self.names, strict=True))
        for rule, caps in zip(self.rules, self._captures, strict=True):
            for cap in caps:
                for p, g in zip(rule.params, rule.per_sample(cap), strict=True):
                    out[by_id[id(p)]] += g
            caps.clear()
        return out

    def clipped_sum(
        self, x: Tensor, y: Tensor, loss_fn: LossFn, max_grad_norm: float
    ) -> tuple[list[Tensor | None], Tensor]:
        """(sum of the clipped per-sample gradients per parameter, per-sample losses).

        The list follows ``self.params``; None marks a parameter no sample's
        loss reached (its clipped sum is zero).
        """
        sums: list[Tensor | None] = [None] * len(self.params)
        if self.clipping == "functorch":
            grads, losses = whole_model_per_sample(self.model, loss_fn, x, y, self.names)
            sq = sum(g.reshape(g.shape[0], -1).square().sum(1) for g in grads.values())
            factors = clip_factors(sq, max_grad_norm)  # type: ignore[arg-type]
            for i, name in enumerate(self.names):
                sums[i] = torch.einsum("n,n...->...", factors, grads[name])
            return sums, losses
        losses = self._forward_backward(x, y, loss_fn)
        sq: Tensor | None = None
        work: list[tuple[GradSampleRule, Capture, Any]] = []
        for rule, caps in zip(self.rules, self._captures, strict=True):
            if len(caps) == 1:
                s, cache = rule.sq_norms(caps[0])
                work.append((rule, caps[0], cache))
            elif caps:  # a layer called more than once: its per-sample gradients add up
                total = [sum(gs) for gs in zip(*(rule.per_sample(c) for c in caps), strict=True)]
                s = sum(t.reshape(t.shape[0], -1).square().sum(1) for t in total)
                work.append((rule, None, total))  # type: ignore[arg-type]
            else:
                continue
            sq = s if sq is None else sq + s
        if sq is None:
            return sums, losses
        factors = clip_factors(sq, max_grad_norm)
        for rule, cap, cache in work:
            if cap is None:
                parts = [torch.einsum("n,n...->...", factors, t) for t in cache]
            else:
                parts = rule.clipped_sums(cap, factors, cache)
            for p, t in zip(rule.params, parts, strict=True):
                sums[self._index[id(p)]] = t
        for caps in self._captures:
            caps.clear()
        return sums, losses
