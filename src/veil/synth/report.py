"""One call from a table to a private synthetic copy and its evaluation: :func:`synthesize`.

What ``veil synth`` runs: hold out part of the real rows (for the evaluation
only), fit the chosen synthesizer on the rest under (epsilon, delta) through
the ledger, sample, and evaluate the synthetic table against the real one
(:func:`veil.synth.evaluate`). :class:`SynthesisResult` carries the synthetic
table, what the fit spent and how, and the evaluation, and reads as a report
with real-against-synthetic marginal charts and the three evaluation tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from veil.errors import ParameterError
from veil.io import from_polars, to_polars
from veil.report import (
    BarChart,
    Document,
    Paragraph,
    Result,
    ScatterChart,
    ScatterSeries,
    Section,
    Table,
)
from veil.synth.base import get_synthesizer
from veil.synth.evaluate import EvaluationReport, evaluate

__all__ = ["SynthesisResult", "synthesize"]

_CHART_COLUMNS = 8
_CHART_CATEGORIES = 10


@dataclass
class SynthesisResult(Result):
    """A private synthetic table, what it cost, and how good and how safe it is.

    Attributes
    ----------
    synthetic
        The synthetic table, in the type of the input (polars for a path).
    fit
        :meth:`Synthesizer.describe`: method, epsilon, delta, rho, the domain.
    evaluation
        Fidelity, utility and privacy against the real rows
        (:class:`~veil.synth.EvaluationReport`).
    marginals
        Per column (at most 8): labels and real and synthetic shares.
    """

    synthetic: Any
    fit: dict[str, Any]
    evaluation: EvaluationReport
    marginals: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    dataset: str | None = None
    ledger: str | None = None
    release_id: int | None = None
    epsilon_remaining: float | None = None
    rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        ev = self.evaluation.to_dict()
        return {
            "method": self.fit["method"],
            "epsilon": self.fit["epsilon"],
            "delta": self.fit["delta"],
            "rho": self.fit["rho"],
            "rows": self.rows,
            "dataset": self.dataset,
            "ledger": self.ledger,
            "release_id": self.release_id,
            "epsilon_remaining": self.epsilon_remaining,
            "tvd_1way": ev["tvd_1way"],
            "tvd_2way": ev["tvd_2way"],
            "tvd_3way": ev["tvd_3way"],
            "correlation_difference": ev["correlation_difference"],
            "tstr_auc": ev["tstr_auc"],
            "trtr_auc": ev["trtr_auc"],
            "membership_attack_auc": ev["membership_attack_auc"],
            "evaluation": ev,
            "fit": self.fit,
        }

    def _charts(self) -> list[Any]:
        series = [
            ScatterSeries(name, m["real"], m["synthetic"]) for name, m in self.marginals.items()
        ]
        blocks: list[Any] = []
        if series:
            blocks.append(
                ScatterChart(
                    series,
                    "Share of each value: real against synthetic",
                    x_label="real share",
                    y_label="synthetic share",
                    diagonal=True,
                )
            )
        for name, m in self.marginals.items():
            labels, values = [], []
            for label, r, s in zip(m["labels"], m["real"], m["synthetic"], strict=True):
                labels += [f"{label} · real", f"{label} · synth"]
                values += [r, s]
            blocks.append(
                BarChart(labels, values, f"{name}: real and synthetic shares", y_label="share")
            )
        return blocks

    def to_document(self) -> Document:
        fit = self.fit
        cost = f"epsilon = {fit['epsilon']:.4g}, delta = {fit['delta']:g}"
        cost += f" (zCDP rho = {fit['rho']:.4g})"
        where = (
            f" Recorded as release #{self.release_id} of dataset {self.dataset!r} in {self.ledger};"
            f" epsilon {self.epsilon_remaining:.4g} left."
            if self.release_id is not None and self.epsilon_remaining is not None
            else " Not recorded in a ledger."
        )
        domain = Table(
            ["column", "kind", "codes", "chosen"],
            [[n, c["kind"], c["codes"], c["source"]] for n, c in fit["columns"].items()],
            title="Discrete domain",
        )
        summary = [
            Paragraph(f"{self.rows} synthetic rows by {fit['method'].upper()} at {cost}.{where}"),
            domain,
            *[Paragraph(n) for n in fit["notes"]],
            Paragraph(
                "The evaluation below reads the real data and is not differentially private: it "
                "is for the data holder. Publish the synthetic table, not this report.",
                "warn",
            ),
        ]
        return Document(
            f"DP synthetic data ({fit['method'].upper()})",
            [
                Section("Release", summary),
                Section("Marginals", self._charts()),
                *self.evaluation.sections(),
            ],
            subtitle=f"epsilon {fit['epsilon']:.4g}, {self.rows} rows",
        )


def _marginals(real: pl.DataFrame, synthetic: pl.DataFrame) -> dict[str, dict[str, list[Any]]]:
    out = {}
    for name in real.columns[:_CHART_COLUMNS]:
        r, s = real.get_column(name), synthetic.get_column(name)
        if r.dtype.is_numeric() and r.n_unique() > _CHART_CATEGORIES:
            x = r.cast(pl.Float64).drop_nulls().to_numpy()
            edges = np.linspace(
                x.min(), x.max() if x.max() > x.min() else x.min() + 1, _CHART_CATEGORIES + 1
            )
            y = s.cast(pl.Float64).drop_nulls().to_numpy()
            pr = np.histogram(np.clip(x, edges[0], edges[-1]), edges)[0] / max(len(r), 1)
            ps = np.histogram(np.clip(y, edges[0], edges[-1]), edges)[0] / max(len(s), 1)
            labels = [f"{edges[i]:.4g}" for i in range(_CHART_CATEGORIES)]
        else:
            rs, ss = r.cast(pl.String), s.cast(pl.String)
            top = (
                rs.drop_nulls()
                .value_counts(sort=True)
                .get_column(name)
                .to_list()[:_CHART_CATEGORIES]
            )
            pr = np.array([(rs == v).sum() for v in top]) / max(len(r), 1)
            ps = np.array([(ss == v).sum() for v in top]) / max(len(s), 1)
            labels = [str(v) for v in top]
        out[name] = {
            "labels": labels,
            "real": [float(v) for v in pr],
            "synthetic": [float(v) for v in ps],
        }
    return out


def synthesize(
    data: Any,
    *,
    epsilon: float,
    delta: float = 1e-9,
    method: str = "mst",
    n: int | None = None,
    target: str | None = None,
    bounds: Mapping[str, Sequence[float]] | None = None,
    bins: int | Mapping[str, int] = 10,
    categories: Mapping[str, Sequence[Any]] | None = None,
    holdout: float = 0.2,
    ledger: Any = None,
    dataset: str | None = None,
    spender: str | None = None,
    seed: int | None = None,
    progress: bool = False,
    **options: Any,
) -> SynthesisResult:
    """Fit ``method`` on ``data`` with (epsilon, delta)-DP, sample ``n`` rows and evaluate them.

    Parameters
    ----------
    data
        A path, pandas, polars or pyarrow table.
    epsilon, delta, bounds, bins, categories, ledger, dataset, spender, progress
        As for :class:`~veil.synth.base.Synthesizer`.
    method
        A registered synthesizer: "mst" (default), "aim" or "independent".
    n
        Synthetic rows; by default as many as the rows the synthesizer was fitted on.
    target
        A column to predict for TSTR/TRTR; AIM also keeps its 3-way relations.
    holdout
        Share of the rows kept out of the fit for the evaluation (TSTR, DCR,
        membership attack); 0 fits on every row and skips those measures.
    seed
        Seeds the holdout split, the sampling and the evaluation (never the noise).
    **options
        Passed to the synthesizer (e.g. ``rounds`` for AIM).

    Returns
    -------
    SynthesisResult
    """
    cls = get_synthesizer(method)
    if not 0.0 <= float(holdout) < 1.0:
        raise ParameterError(f"holdout must be a share in [0, 1), e.g. 0.2; got {holdout!r}")
    frame, source = to_polars(data)
    if isinstance(frame, pl.LazyFrame):
        frame = frame.collect()
    if target is not None and target not in frame.columns:
        raise ParameterError(
            f"target {target!r} is not a column; columns are: {', '.join(frame.columns)}"
        )
    if method == "aim":
        options.setdefault("target", target)
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=0 if seed is None else seed)
    cut = round(frame.height * float(holdout))
    train, hold = shuffled[cut:], (shuffled[:cut] if cut else None)
    synthesizer = cls(
        epsilon=epsilon,
        delta=delta,
        bounds=bounds,
        bins=bins,
        categories=categories,
        ledger=ledger,
        dataset=dataset,
        spender=spender,
        seed=seed,
        progress=progress,
        **options,
    )
    synthesizer.fit(train)
    rows = train.height if n is None else n
    synthetic = synthesizer.sample(rows)
    report = evaluate(
        train, synthetic, holdout=hold, target=target if hold is not None else None, seed=seed or 0
    )
    book = getattr(synthesizer.ledger, "path", synthesizer.ledger)
    return SynthesisResult(
        synthetic=from_polars(synthetic, source),
        fit=synthesizer.describe(),
        evaluation=report,
        marginals=_marginals(train, synthetic),
        dataset=dataset,
        ledger=str(book) if book is not None else None,
        release_id=synthesizer.release_id_,
        epsilon_remaining=synthesizer.epsilon_remaining_,
        rows=int(rows),
    )
