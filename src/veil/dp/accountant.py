"""Deprecated location of privacy losses and composition: use :mod:`veil.privacy`.

Kept as a re-export for one version so that code written for veil 0.1 runs on.
"""

from __future__ import annotations

from veil.privacy import (
    Composition,
    PrivacyLoss,
    check_delta,
    check_epsilon,
    compose,
    then,
    zcdp_for_epsilon,
    zcdp_to_epsilon,
)

__all__ = [
    "Composition",
    "PrivacyLoss",
    "check_delta",
    "check_epsilon",
    "compose",
    "then",
    "zcdp_for_epsilon",
    "zcdp_to_epsilon",
]
