"""Checking a released table against the requested models, independently of the search.

Every table :class:`~veil.anonymize.Anonymizer` returns is measured here with
:mod:`veil.anonymity` (pyCANON's definitions, computed from the released
rows, not from the search's arrays). A model the table does not meet is a bug
in veil, so it raises :class:`AnonymizationBugError` rather than returning a
table that is less private than asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from veil.anonymize.models import PrivacyModel

__all__ = ["AnonymizationBugError", "ModelCheck", "recursive_c_ratio", "verify_models"]


class AnonymizationBugError(RuntimeError):
    """A released table failed its own verification: a defect in veil, never a user mistake."""


@dataclass(frozen=True)
class ModelCheck:
    """One model measured on a table: the value :mod:`veil.anonymity` reports and the verdict."""

    model: str
    value: Any
    satisfied: bool


def recursive_c_ratio(data: Any, quasi: Sequence[str], sensitive: Sequence[str], l: int) -> float:  # noqa: E741
    """Largest ``r_1 / (r_l + ... + r_m)`` over classes and sensitive attributes.

    The table satisfies recursive (c, l)-diversity (Machanavajjhala et al. 2007)
    exactly when this ratio is below ``c``. (pyCANON reports a different
    quantity: it sorts the counts ascending.)
    """
    from veil.io import read_table

    frame = read_table(data)
    worst = 0.0
    for name in sensitive:
        counts = (
            frame.group_by([*quasi, name])
            .len()
            .group_by(quasi)
            .agg(
                first=pl.col("len").max(),
                tail=pl.col("len").sort(descending=True).slice(l - 1).sum(),
            )
        )
        ratio = counts.select(
            pl.when(pl.col("tail") > 0)
            .then(pl.col("first") / pl.col("tail"))
            .otherwise(float("inf"))
            .max()
        ).item()
        worst = max(worst, float(ratio) if ratio is not None else 0.0)
    return worst


def verify_models(
    frame: pl.DataFrame,
    quasi: Sequence[str],
    sensitive: Sequence[str],
    models: Sequence[PrivacyModel],
    *,
    population: pl.DataFrame | None = None,
    rows: int | None = None,
) -> list[ModelCheck]:
    """Measure ``frame`` for every model; raise :class:`AnonymizationBugError` on a failure.

    ``population`` is the population generalized like ``frame`` (k-map,
    delta-presence count the records matching each released class in it);
    ``rows`` the rows of the table before suppression (estimated k-map).
    """
    from veil.anonymize.population import PopulationModel

    checks = []
    for model in models:
        if isinstance(model, PopulationModel):
            value, ok = model.measure(
                frame, list(quasi), list(sensitive), population=population, rows=rows
            )
        else:
            value, ok = model.measure(frame, list(quasi), list(sensitive))
        checks.append(ModelCheck(model.describe(), value, bool(ok)))
        if not ok:
            raise AnonymizationBugError(
                f"the anonymized table does not satisfy {model.describe()} (measured {value!r}); "
                "this is a bug in veil: please report it with the command or code that caused it"
            )
    return checks
