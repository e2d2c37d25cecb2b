"""k-anonymity and (alpha, k)-anonymity."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from veil.anonymity.classes import ClassTable, build_class_table

__all__ = ["alpha_k_anonymity", "k_anonymity"]


def k_of(table: ClassTable) -> int:
    """Size of the smallest equivalence class over the quasi-identifiers."""
    return int(table.class_sizes().min())


def alpha_of(table: ClassTable, *, others_as_quasi: bool = False) -> float:
    """Largest share any one sensitive value takes inside any class."""
    worst = 0.0
    for view in table.views(others_as_quasi=others_as_quasi):
        if view.n_lone:
            return 1.0  # a record alone in its class: its value is all of the class
        worst = max(worst, float(view.share.max()))
    return worst


def k_anonymity(data: Any, quasi: str | Sequence[str]) -> int:
    """The k for which ``data`` is k-anonymous over ``quasi``.

    Every record shares its quasi-identifier values with at least k - 1 others,
    so linking on them singles nobody out (Samarati & Sweeney 1998; Sweeney 2002).
    Prevents linkage and re-identification attacks.

    Parameters
    ----------
    data
        A path, or a pandas, polars or pyarrow table (see :mod:`veil.io`).
    quasi
        Quasi-identifier column names.

    Returns
    -------
    int
        The size of the smallest equivalence class.
    """
    return k_of(build_class_table(data, quasi, need_sensitive=False))


def alpha_k_anonymity(
    data: Any,
    quasi: str | Sequence[str],
    sensitive: str | Sequence[str],
    *,
    others_as_quasi: bool = False,
) -> tuple[float, int]:
    """The (alpha, k) for which ``data`` is (alpha, k)-anonymous.

    k as in :func:`k_anonymity`; alpha is the largest relative frequency of a
    sensitive value inside an equivalence class (Wong et al. 2006). Prevents
    linkage, re-identification and homogeneity attacks.

    Parameters
    ----------
    data, quasi
        As in :func:`k_anonymity`.
    sensitive
        Sensitive attribute(s). With several, alpha is the worst over them.
    others_as_quasi
        Assess each sensitive attribute with the other sensitive attributes
        added to the quasi-identifiers (pyCANON's ``gen=False``); k is still
        computed over ``quasi`` alone, as pyCANON does.

    Returns
    -------
    tuple of (float, int)
        ``(alpha, k)``.
    """
    table = build_class_table(data, quasi, sensitive)
    return alpha_of(table, others_as_quasi=others_as_quasi), k_of(table)
