"""Privacy audits: attack a trained model and measure what it leaks.

A differential-privacy guarantee is only as good as the code behind it, and
epsilon alone is hard to read. The audits here measure leakage directly and
turn it into an empirical lower bound on epsilon to set beside the proven one::

    from veil.audit import loss_threshold_attack

    audit = loss_threshold_attack(train_losses, holdout_losses)
    audit.auc, audit.tpr_at_fpr[0.001], audit.epsilon_lower_bound

- :func:`loss_threshold_attack` (Yeom et al. 2018) and :func:`lira_attack`
  (Carlini et al. 2022): membership inference, with AUC, TPR at low FPR and the
  Clopper-Pearson epsilon lower bound (:func:`epsilon_lower_bound`).
- :func:`one_run_audit` (Steinke, Nasr and Jagielski 2023): a valid lower bound
  from a single training run with planted canaries.
- :func:`canary_exposure` (Carlini et al. 2019): exposure of secrets planted in
  the text a character model is trained on (needs torch, the ``ml`` extra).
"""

from __future__ import annotations

from typing import Any

from veil.audit.bounds import (
    best_epsilon_lower_bound,
    clopper_pearson,
    epsilon_lower_bound,
)
from veil.audit.lira import lira_attack, lira_scores, logit_confidence
from veil.audit.membership import (
    auc_score,
    loss_threshold_attack,
    membership_audit,
    roc_curve,
    tpr_at_fpr,
)
from veil.audit.one_run import (
    one_run_audit,
    one_run_audit_from_scores,
    one_run_epsilon_bound,
    one_run_p_value,
)
from veil.audit.results import CanaryExposure, MembershipAudit, OneRunAudit

__all__ = [
    "CanaryExposure",
    "CharModel",
    "MembershipAudit",
    "OneRunAudit",
    "auc_score",
    "best_epsilon_lower_bound",
    "canary_exposure",
    "char_model",
    "clopper_pearson",
    "epsilon_lower_bound",
    "lira_attack",
    "lira_scores",
    "logit_confidence",
    "loss_threshold_attack",
    "membership_audit",
    "one_run_audit",
    "one_run_audit_from_scores",
    "one_run_epsilon_bound",
    "one_run_p_value",
    "roc_curve",
    "tpr_at_fpr",
]

_TORCH = {"CharModel", "canary_exposure", "char_model"}


def __getattr__(name: str) -> Any:
    # canary exposure needs torch: imported on first use, so `import veil.audit` stays light
    if name in _TORCH:
        from veil.audit import exposure

        return getattr(exposure, name)
    raise AttributeError(f"module 'veil.audit' has no attribute {name!r}")
