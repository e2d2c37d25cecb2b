"""The one interface of every per-sample gradient rule, and the registry of rules by layer type.

A rule knows, for one layer type, how to turn what a single forward and a
single backward leave behind (the layer's input activations ``a`` and the
gradient ``g`` of the summed loss with respect to its output) into

* the squared norm of each sample's gradient of the layer's parameters,
* the sum of those gradients, each scaled by its own clipping factor,
* and, for tests, the per-sample gradients themselves.

This is the book-keeping scheme of Bu et al. (2023), "Differentially private
optimization on large model at small cost": no second backward pass, and for
layers where it is cheaper, the per-sample gradients are never materialised
(ghost norms, Li et al. 2022, "Large language models can be strong
differentially private learners"). A new layer type is a new module with a
subclass decorated by :func:`register_rule`; every other layer with
parameters goes to the ``torch.func`` rule.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import torch
from torch import Tensor, nn

__all__ = ["RULES", "Capture", "GradSampleRule", "register_rule"]


class Capture:
    """What one call of a layer left behind: its inputs (detached) and its output's gradient.

    ``args`` are the positional inputs, ``kwargs`` the keyword inputs of the
    call; ``grad`` is filled after the backward pass.
    """

    __slots__ = ("args", "grad", "kwargs", "output", "version")

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any], output: Tensor) -> None:
        self.args = args
        self.kwargs = kwargs
        self.output = output
        self.version = output._version
        self.grad: Tensor | None = None

    @property
    def a(self) -> Tensor:
        """The first positional input: the activations of the usual layers."""
        return self.args[0]


class GradSampleRule:
    """Per-sample gradient norms and clipped sums for one layer (of one type).

    Subclasses set ``types`` (the module classes they handle) and implement
    :meth:`per_sample`; they override :meth:`sq_norms` and
    :meth:`clipped_sums` when those can be had without materialising the
    per-sample gradients. ``params`` holds the layer's own trainable parameters
    in the order of ``module.named_parameters(recurse=False)``.
    """

    types: ClassVar[tuple[type[nn.Module], ...]] = ()

    def __init__(self, module: nn.Module) -> None:
        self.module = module
        self.names = [n for n, p in module.named_parameters(recurse=False) if p.requires_grad]
        self.params = [getattr(module, n) for n in self.names]

    def per_sample(self, cap: Capture) -> list[Tensor]:
        """Each sample's gradient of each parameter: tensors of shape ``[n, *param.shape]``."""
        raise NotImplementedError

    def sq_norms(self, cap: Capture) -> tuple[Tensor, Any]:
        """(squared per-sample gradient norm over this layer's parameters ``[n]``, a cache).

        The cache goes to :meth:`clipped_sums` of the same capture; by default
        it is the materialised per-sample gradients.
        """
        grads = self.per_sample(cap)
        return _sq_norm(grads), grads

    def clipped_sums(self, cap: Capture, factors: Tensor, cache: Any) -> list[Tensor]:
        """``sum_i factors[i] * grad_i`` for each parameter, from the cache of :meth:`sq_norms`."""
        return [torch.einsum("n,n...->...", factors, g) for g in cache]


def _sq_norm(grads: list[Tensor]) -> Tensor:
    """Sum over the tensors of the squared per-sample norms (first dimension = samples)."""
    total = None
    for g in grads:
        s = g.reshape(g.shape[0], -1).square().sum(1)
        total = s if total is None else total + s
    assert total is not None
    return total


#: Module class → rule class, by exact class: a subclass may change ``forward``, so it
#: goes to the ``torch.func`` rule unless registered itself.
RULES: dict[type[nn.Module], type[GradSampleRule]] = {}

_R = TypeVar("_R", bound=type[GradSampleRule])


def register_rule(cls: _R) -> _R:
    """Class decorator: use ``cls`` for every module type in ``cls.types``."""
    for t in cls.types:
        RULES[t] = cls
    return cls


def rule_class(module: nn.Module) -> type[GradSampleRule] | None:
    """The registered rule for ``module``'s exact class, or None."""
    return RULES.get(type(module))
