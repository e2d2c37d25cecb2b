"""Make a table k-anonymous, l-diverse, t-close... with the least information loss.

:class:`Anonymizer` takes a list of privacy models (:mod:`veil.anonymize.models`)
and either searches the generalization lattice for the optimal global recoding
(:mod:`veil.anonymize.search`: Samarati 2001; El Emam et al. 2009; Kohlmayer et
al. 2012) or partitions the table with Mondrian (:mod:`veil.anonymize.mondrian`:
LeFevre et al. 2006). k-map and delta-presence measure the release against a
population (:mod:`veil.anonymize.population`); :class:`SafePub` anonymizes with
(epsilon, delta)-differential privacy (:mod:`veil.anonymize.safepub`).
Hierarchies come from ARX-format files or are built
(:mod:`veil.anonymize.builders`); utility metrics live in
:mod:`veil.anonymize.utility`. Every released table is verified with
:mod:`veil.anonymity` before it is returned.
"""

from __future__ import annotations

from veil.anonymize.anonymizer import Anonymizer
from veil.anonymize.builders import (
    CodeHierarchy,
    DateHierarchy,
    FrequencyHierarchy,
    GroupingHierarchy,
    IntervalHierarchy,
    MaskingHierarchy,
    RoundingHierarchy,
    default_hierarchy,
)
from veil.anonymize.hierarchies import Hierarchy, TableHierarchy, read_hierarchy
from veil.anonymize.models import (
    AlphaKAnonymity,
    BetaLikeness,
    DeltaDisclosure,
    EntropyLDiversity,
    KAnonymity,
    LDiversity,
    PrivacyModel,
    RecursiveCLDiversity,
    TCloseness,
)
from veil.anonymize.population import DeltaPresence, KMap
from veil.anonymize.result import AnonymizationResult
from veil.anonymize.safepub import SafePub, SafePubResult, safepub_parameters
from veil.anonymize.verification import AnonymizationBugError

__all__ = [
    "AlphaKAnonymity",
    "AnonymizationBugError",
    "AnonymizationResult",
    "Anonymizer",
    "BetaLikeness",
    "CodeHierarchy",
    "DateHierarchy",
    "DeltaDisclosure",
    "DeltaPresence",
    "EntropyLDiversity",
    "FrequencyHierarchy",
    "GroupingHierarchy",
    "Hierarchy",
    "IntervalHierarchy",
    "KAnonymity",
    "KMap",
    "LDiversity",
    "MaskingHierarchy",
    "PrivacyModel",
    "RecursiveCLDiversity",
    "RoundingHierarchy",
    "SafePub",
    "SafePubResult",
    "TCloseness",
    "TableHierarchy",
    "default_hierarchy",
    "read_hierarchy",
    "safepub_parameters",
]
