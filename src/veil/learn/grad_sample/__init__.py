"""Per-sample gradients and their clipping, one module per layer family.

Importing this package registers the rules: :mod:`.linear` (nn.Linear),
:mod:`.conv` (nn.Conv1d, nn.Conv2d), :mod:`.embedding` (nn.Embedding),
:mod:`.normalization` (nn.LayerNorm, nn.GroupNorm); every other layer with
parameters goes to :mod:`.functorch`. :class:`GradSampler` runs them.
"""

from __future__ import annotations

from veil.learn.grad_sample import conv, embedding, linear, normalization  # noqa: F401
from veil.learn.grad_sample.base import RULES, Capture, GradSampleRule, register_rule
from veil.learn.grad_sample.engine import CLIPPING_MODES, GradSampler, check_model, clip_factors
from veil.learn.grad_sample.functorch import FunctorchRule, whole_model_per_sample

__all__ = [
    "CLIPPING_MODES",
    "RULES",
    "Capture",
    "FunctorchRule",
    "GradSampleRule",
    "GradSampler",
    "check_model",
    "clip_factors",
    "register_rule",
    "whole_model_per_sample",
]
