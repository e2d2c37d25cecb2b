"""Private learning: DP-SGD for any PyTorch model, with its epsilon and the ledger.

::

    from veil.learn import DPTrainer

    result = DPTrainer(epsilon=3.0, delta=1e-5, batch_size=256, epochs=10).fit(model, X, y)
    result.epsilon, result.noise_multiplier, result.model

Per-sample clipping is done by book-keeping and ghost norms (Bu et al. 2023;
Li et al. 2022) for linear, convolution, embedding and normalisation layers,
and by ``torch.func`` elsewhere; batches are Poisson-sampled; the noise
multiplier is calibrated to a target epsilon by the spine's accountants
(Abadi et al. 2016).
"""

from __future__ import annotations

from veil.learn.baseline import train_non_private
from veil.learn.calibration import calibrate_noise_multiplier, dp_sgd_epsilon
from veil.learn.estimators import DPLogisticRegression, DPMLPClassifier
from veil.learn.gradients import per_sample_gradients
from veil.learn.latent import LatentEncoder, add_latent_noise
from veil.learn.latent_attack import LatentEvaluation, evaluate_latent, linkage_attack
from veil.learn.pate import PATE, PATEResult
from veil.learn.trainer import DPTrainer, TrainingResult

__all__ = [
    "PATE",
    "DPLogisticRegression",
    "DPMLPClassifier",
    "DPTrainer",
    "LatentEncoder",
    "LatentEvaluation",
    "PATEResult",
    "TrainingResult",
    "add_latent_noise",
    "calibrate_noise_multiplier",
    "dp_sgd_epsilon",
    "evaluate_latent",
    "linkage_attack",
    "per_sample_gradients",
    "train_non_private",
]
