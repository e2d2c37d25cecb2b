"""Differentially private synthetic data: MST, AIM, a baseline, and an honest evaluation.

Marginal-based synthesizers (McKenna et al.) on private-pgm (``mbi``) and
veil's own mechanisms, each recorded in the privacy ledger::

    from veil.synth import MST, evaluate

    syn = MST(epsilon=1.0, delta=1e-9, bounds={"age": (17, 90)}).fit(train)
    synthetic = syn.sample(len(train))
    evaluate(train, synthetic, holdout=holdout, target="income").to_dict()

Heavy imports (mbi, JAX, scikit-learn) happen on first use.
"""

from __future__ import annotations

from veil.synth.aim import AIM
from veil.synth.base import (
    SYNTHESIZERS,
    SynthesisWarning,
    Synthesizer,
    get_synthesizer,
    register,
)
from veil.synth.evaluate import EvaluationReport, evaluate
from veil.synth.independent import IndependentMarginals
from veil.synth.mst import MST
from veil.synth.report import SynthesisResult, synthesize

__all__ = [
    "AIM",
    "MST",
    "SYNTHESIZERS",
    "EvaluationReport",
    "IndependentMarginals",
    "SynthesisResult",
    "SynthesisWarning",
    "Synthesizer",
    "evaluate",
    "get_synthesizer",
    "register",
    "synthesize",
]
