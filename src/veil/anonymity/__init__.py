"""How identifiable is a table? pyCANON's nine techniques, its metrics, and risk.

One function per technique, named after it, each taking the data, the
quasi-identifiers and the sensitive attributes and returning exactly what
pyCANON (Sáinz-Pardo Díaz & López García 2022) returns, from a single
group-by over the table. :func:`assess` computes all of them, the utility
metrics and the re-identification risk in one report; given a sampling
fraction, :func:`population_uniqueness` estimates how many people of the
population are unique (Pitman, Zayatz, SNB and Dankar et al.'s rule, as ARX).
"""

from __future__ import annotations

from veil.anonymity.assess import TECHNIQUES, AssessmentReport, assess
from veil.anonymity.beta_likeness import basic_beta_likeness, enhanced_beta_likeness
from veil.anonymity.classes import equivalence_classes
from veil.anonymity.delta_disclosure import delta_disclosure
from veil.anonymity.k_anonymity import alpha_k_anonymity, k_anonymity
from veil.anonymity.l_diversity import entropy_l_diversity, l_diversity, recursive_c_l_diversity
from veil.anonymity.metrics import (
    average_class_size,
    average_reidentification_risk,
    classification_metric,
    discernibility,
    max_reidentification_risk,
    sensitive_entropy,
)
from veil.anonymity.population import PopulationUniqueness, population_uniqueness
from veil.anonymity.risk import RiskProfile, reidentification_risk
from veil.anonymity.t_closeness import t_closeness

__all__ = [
    "TECHNIQUES",
    "AssessmentReport",
    "PopulationUniqueness",
    "RiskProfile",
    "alpha_k_anonymity",
    "assess",
    "average_class_size",
    "average_reidentification_risk",
    "basic_beta_likeness",
    "classification_metric",
    "delta_disclosure",
    "discernibility",
    "enhanced_beta_likeness",
    "entropy_l_diversity",
    "equivalence_classes",
    "k_anonymity",
    "l_diversity",
    "max_reidentification_risk",
    "population_uniqueness",
    "recursive_c_l_diversity",
    "reidentification_risk",
    "sensitive_entropy",
    "t_closeness",
]
