"""delta-disclosure privacy (Brickell & Shmatikov 2008)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from veil.anonymity.classes import ClassTable, build_class_table

__all__ = ["delta_disclosure"]


def delta_of(table: ClassTable, *, others_as_quasi: bool = False) -> float:
    """Largest |ln(q / p)| over the sensitive values present in any class."""
    worst = 0.0
    for view in table.views(others_as_quasi=others_as_quasi):
        p = view.table_share
        if view.n_classes:
            worst = max(worst, float(np.abs(np.log(view.share / p[view.value])).max()))
        if view.n_lone:  # a record alone in its class: q = 1/1
            worst = max(worst, float(np.abs(np.log(1.0 / p[view.lone_values()])).max()))
    return worst


def delta_disclosure(
    data: Any,
    quasi: str | Sequence[str],
    sensitive: str | Sequence[str],
    *,
    others_as_quasi: bool = False,
) -> float:
    """The delta for which ``data`` is delta-disclosure private.

    For every class and every sensitive value present in it, the value's
    share q in the class and p in the table satisfy ``|ln(q / p)| < delta``
    (Brickell & Shmatikov 2008): learning someone's class changes the
    attacker's belief about any value by a bounded factor. Prevents
    inference attacks.
    """
    return delta_of(build_class_table(data, quasi, sensitive), others_as_quasi=others_as_quasi)
