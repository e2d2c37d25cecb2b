"""The report of an anonymization: the request, what was done, risk and utility before and after."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from veil.report import Document, Paragraph, Result, Section, Table

__all__ = ["AnonymizationResult"]


def _show(value: Any) -> Any:
    if isinstance(value, tuple):
        return ", ".join(str(_show(v)) for v in value)
    if isinstance(value, float):
        return round(value, 4)
    return value


@dataclass
class AnonymizationResult(Result):
    """Everything :class:`~veil.anonymize.Anonymizer` did, with the released table in ``table``.

    ``privacy`` maps each requested model to its measure before and after
    (by :mod:`veil.anonymity`); ``utility`` maps each utility metric to its
    value on the original and on the released table. ``gs_factor`` is the
    generalization/suppression factor the optimal search ranked nodes with
    (``None`` for Mondrian); the information loss in ``utility`` is the
    unweighted Loss whatever the factor.
    """

    method: str
    models: list[str]
    quasi: list[str]
    sensitive: list[str]
    dropped: list[str]
    rows_in: int
    rows_out: int
    suppression_limit: int
    classes: int
    seconds: float
    levels: dict[str, int] | None = None
    level_labels: dict[str, str] | None = None
    nodes_checked: int | None = None
    lattice_size: int | None = None
    gs_factor: float | None = None
    privacy: dict[str, dict[str, Any]] = field(default_factory=dict)
    utility: dict[str, dict[str, Any]] = field(default_factory=dict)
    table: pl.DataFrame | None = field(default=None, repr=False)

    @property
    def suppressed(self) -> int:
        """Rows removed because their class could not satisfy the models."""
        return self.rows_in - self.rows_out

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "models": self.models,
            "quasi": self.quasi,
            "sensitive": self.sensitive,
            "dropped_columns": self.dropped,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "suppressed": self.suppressed,
            "suppression_limit": self.suppression_limit,
            "classes": self.classes,
            "levels": self.levels,
            "nodes_checked": self.nodes_checked,
            "lattice_size": self.lattice_size,
            "gs_factor": self.gs_factor,
            "privacy": self.privacy,
            "utility": self.utility,
            "seconds": self.seconds,
        }

    def to_document(self) -> Document:
        summary = (
            f"{self.method} released {self.rows_out:,} of {self.rows_in:,} rows in "
            f"{self.classes:,} equivalence classes; {self.suppressed:,} suppressed "
            f"(limit {self.suppression_limit:,}). Requested: {'; '.join(self.models)}. "
            "Every model below was re-measured on the released table."
        )
        blocks: list[Any] = [Paragraph(summary, tone="good")]
        if self.levels is not None:
            rows = [
                [name, level, (self.level_labels or {}).get(name, "")]
                for name, level in self.levels.items()
            ]
            blocks.append(
                Table(["quasi-identifier", "level", "example"], rows, title="Generalization")
            )
            if self.nodes_checked is not None:
                weighting = ""
                if self.gs_factor is not None and self.gs_factor != 0.5:
                    weighting = (
                        f", ranking them by the loss weighted with gs-factor {self.gs_factor:g} "
                        "(the information loss below is unweighted)"
                    )
                blocks.append(
                    Paragraph(
                        f"Optimal search checked {self.nodes_checked:,} of "
                        f"{self.lattice_size:,} lattice nodes{weighting}."
                    )
                )
        if self.dropped:
            blocks.append(Paragraph(f"Direct identifiers removed: {', '.join(self.dropped)}."))
        privacy = Table(
            ["measure", "original", "released", "required"],
            [
                [name, _show(v.get("before")), _show(v.get("after")), v.get("required", "")]
                for name, v in self.privacy.items()
            ],
            title="Privacy before and after",
        )
        utility = Table(
            ["metric", "original", "released", "better when"],
            [
                [name, _show(v.get("before")), _show(v.get("after")), v.get("better", "")]
                for name, v in self.utility.items()
            ],
            title="Utility before and after",
        )
        return Document(
            title="veil anonymize",
            subtitle=f"quasi-identifiers: {', '.join(self.quasi)}",
            sections=[
                Section("Result", blocks),
                Section("Privacy", [privacy]),
                Section("Utility", [utility]),
            ],
        )
