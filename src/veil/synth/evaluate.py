"""Evaluation of any synthetic table against the real one: fidelity, utility and privacy.

Works on any synthetic table with the real table's columns (veil's, SDV's,
smartnoise's). Three families, always side by side:

* **fidelity**: total variation distance (TVD, half the L1 distance of the
  two distributions) of 1-, 2- and 3-way marginals, averaged over column
  sets; and the mean absolute difference of the pairwise association
  matrices (Pearson between numbers, Cramér's V otherwise).
* **utility**: train on synthetic, test on real (TSTR) against train on real,
  test on real (TRTR), for a target column: gradient boosting scored on the
  real holdout (AUC for a binary target, accuracy otherwise; Esteban et al.
  2017; Jordon et al. 2019).
* **privacy**: distance to closest record (DCR): how close synthetic rows come
  to the training rows, against how close unseen real rows (the holdout) come;
  a copy of the training data has DCR 0 where the holdout does not. And a
  membership-inference attack on the synthesizer (the distance attack of
  Chen et al. 2020, "GAN-Leaks"): score each real row by its distance to the
  nearest synthetic row; AUC 0.5 is no better than a guess at who was trained on.

The evaluation reads the real data and is not differentially private: it is for
the data holder to judge a release, not something to publish with it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from veil.errors import ColumnError, DataError
from veil.io import to_polars
from veil.report import Document, Paragraph, Result, Section, Table
from veil.synth.distances import distance_features, nearest_distances
from veil.synth.fidelity import MarginalCoder, associations, tvd
from veil.synth.tstr import tstr_scores

__all__ = ["EvaluationReport", "evaluate"]


def _frame(data: Any, what: str) -> pl.DataFrame:
    frame, _ = to_polars(data)
    if isinstance(frame, pl.LazyFrame):
        frame = frame.collect()
    if frame.height == 0:
        raise DataError(f"the {what} table is empty")
    return frame


@dataclass
class EvaluationReport(Result):
    """Fidelity, utility and privacy of a synthetic table, measured against real data.

    Attributes
    ----------
    tvd
        Mean total variation distance of the k-way marginals, k = 1, 2, 3.
    correlation_difference
        Mean absolute difference of the pairwise association matrices.
    utility
        TSTR and TRTR scores for the target (``None`` without target or holdout).
    dcr
        Median and 5th percentile distances to the closest training row, of
        synthetic rows and of holdout rows, and the share of synthetic rows
        closer than the holdout's 5th percentile.
    membership_auc
        AUC of the distance attack telling training rows from holdout rows.
    """

    rows_real: int
    rows_synthetic: int
    tvd: dict[int, float]
    per_column_tvd: dict[str, float]
    correlation_difference: float
    utility: dict[str, Any] | None = None
    dcr: dict[str, float] | None = None
    membership_auc: float | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        util = self.utility or {}
        return {
            "rows_real": self.rows_real,
            "rows_synthetic": self.rows_synthetic,
            "tvd_1way": self.tvd.get(1),
            "tvd_2way": self.tvd.get(2),
            "tvd_3way": self.tvd.get(3),
            "per_column_tvd": self.per_column_tvd,
            "correlation_difference": self.correlation_difference,
            "target": util.get("target"),
            "utility_metric": util.get("metric"),
            "tstr_auc": util.get("tstr") if util.get("metric") == "auc" else None,
            "trtr_auc": util.get("trtr") if util.get("metric") == "auc" else None,
            "tstr_accuracy": util.get("tstr") if util.get("metric") == "accuracy" else None,
            "trtr_accuracy": util.get("trtr") if util.get("metric") == "accuracy" else None,
            "dcr": self.dcr,
            "membership_attack_auc": self.membership_auc,
            "notes": self.notes,
        }

    def sections(self) -> list[Section]:
        """The three evaluation tables: fidelity, utility, privacy."""
        fid = Table(
            ["measure", "value"],
            [[f"{k}-way marginal TVD (mean)", v] for k, v in sorted(self.tvd.items())]
            + [["association difference (mean |Δ|)", self.correlation_difference]],
            title="Fidelity: 0 is identical distributions",
        )
        sections = [Section("Fidelity", [fid])]
        if self.utility is not None:
            u = self.utility
            util = Table(
                ["trained on", f"{u['metric']} on real holdout"],
                [["synthetic (TSTR)", u.get("tstr")], ["real (TRTR)", u.get("trtr")]],
                title=f"Utility: predicting {u['target']!r} with gradient boosting",
            )
            sections.append(Section("Utility", [util]))
        if self.dcr is not None:
            d = self.dcr
            rows = [
                ["synthetic → train", d["synthetic_median"], d["synthetic_p05"]],
                ["holdout → train", d["holdout_median"], d["holdout_p05"]],
            ]
            blocks: list[Any] = [
                Table(
                    ["distance to closest training row", "median", "5th percentile"],
                    rows,
                    title="Privacy: distance to closest record",
                ),
                Table(
                    ["measure", "value"],
                    [
                        [
                            "synthetic rows closer than the holdout's 5th percentile",
                            d["share_closer"],
                        ],
                        ["membership attack AUC (0.5: a guess)", self.membership_auc],
                    ],
                ),
            ]
            tone = "good" if d["synthetic_median"] >= d["holdout_median"] * 0.9 else "warn"
            blocks.append(
                Paragraph(
                    "Synthetic rows are no closer to the training rows than unseen real rows are."
                    if tone == "good"
                    else "Synthetic rows are closer to training rows than unseen real rows: "
                    "check for copied records.",
                    tone,
                )
            )
            sections.append(Section("Privacy", blocks))
        return sections

    def to_document(self) -> Document:
        return Document(
            "Synthetic data evaluation",
            self.sections()
            + [Section("Notes", [Paragraph(n) for n in self.notes])] * bool(self.notes),
            subtitle=f"{self.rows_synthetic} synthetic rows against {self.rows_real} real rows",
        )


def evaluate(
    real: Any,
    synthetic: Any,
    *,
    holdout: Any = None,
    target: str | None = None,
    bins: int = 10,
    max_sets: int = 300,
    max_rows: int = 20000,
    seed: int = 0,
) -> EvaluationReport:
    """Measure how well ``synthetic`` stands for ``real`` (the table it was trained on).

    Parameters
    ----------
    real
        The real training table (what the synthesizer saw).
    synthetic
        The synthetic table; it must have the real table's columns.
    holdout
        Real rows the synthesizer did not see: needed for TSTR, DCR and the
        membership attack.
    target
        The column to predict for TSTR/TRTR (needs ``holdout``).
    bins
        Bins of numeric columns for the marginal TVDs (over the real range).
    max_sets
        At most this many column sets per marginal order (a random choice,
        by ``seed``, when there are more).
    max_rows
        Rows used at most per table for distances and the attack (sampled).
    seed
        For the choices above and the models: the evaluation is reproducible.

    Raises
    ------
    ColumnError
        The tables' columns differ, or the target is not a column.
    DataError
        A table is empty.
    """
    train = _frame(real, "real")
    syn = _frame(synthetic, "synthetic")
    missing = [c for c in train.columns if c not in syn.columns]
    if missing:
        raise ColumnError(f"the synthetic table lacks columns {missing} of the real table")
    syn = syn.select(train.columns)
    hold = None
    if holdout is not None:
        hold = _frame(holdout, "holdout")
        lacking = [c for c in train.columns if c not in hold.columns]
        if lacking:
            raise ColumnError(f"the holdout table lacks columns {lacking} of the real table")
        hold = hold.select(train.columns)
    if target is not None and target not in train.columns:
        raise ColumnError(
            f"target {target!r} is not a column; columns are: {', '.join(train.columns)}"
        )
    rng = np.random.default_rng(seed)
    coder = MarginalCoder(train, bins)
    sizes = {c: coder.size(c) for c in train.columns}
    real_codes = {c: coder.codes(train, c) for c in train.columns}
    syn_codes = {c: coder.codes(syn, c) for c in train.columns}
    by_order: dict[int, float] = {}
    per_column = {c: tvd(real_codes, syn_codes, (c,), sizes) for c in train.columns}
    for k in (1, 2, 3):
        sets = list(itertools.combinations(train.columns, k))
        if not sets:
            continue
        if len(sets) > max_sets:
            sets = [sets[i] for i in rng.choice(len(sets), max_sets, replace=False)]
        by_order[k] = float(np.mean([tvd(real_codes, syn_codes, s, sizes) for s in sets]))
    numeric = {c for c in train.columns if train.schema[c].is_numeric()}
    corr = float(
        np.abs(
            associations(real_codes, train, numeric) - associations(syn_codes, syn, numeric)
        ).mean()
    )
    report = EvaluationReport(train.height, syn.height, by_order, per_column, corr)
    if target is not None and hold is None:
        report.notes.append("TSTR needs a real holdout: give holdout= to measure it")
    if hold is None:
        return report
    if target is not None:
        report.utility = tstr_scores(train, syn, hold, target, seed)

    def sample(frame: pl.DataFrame) -> pl.DataFrame:
        return (
            frame.sample(max_rows, seed=int(rng.integers(2**31)))
            if frame.height > max_rows
            else frame
        )

    t, s, h = sample(train), sample(syn), sample(hold)
    ft, fs, fh = distance_features([t, s, h], train.columns, train)
    d_syn = nearest_distances(ft, fs)
    d_hold = nearest_distances(ft, fh)
    p05 = float(np.quantile(d_hold, 0.05))
    report.dcr = {
        "synthetic_median": float(np.median(d_syn)),
        "synthetic_p05": float(np.quantile(d_syn, 0.05)),
        "holdout_median": float(np.median(d_hold)),
        "holdout_p05": p05,
        "share_closer": float(np.mean(d_syn < p05)),
    }
    # Membership attack: members are training rows, non-members holdout rows; the
    # closer a row's nearest synthetic row, the more likely it was trained on.
    from sklearn.metrics import roc_auc_score

    m = min(t.height, h.height)
    members, others = ft[:m], fh[:m]
    scores = -np.concatenate([nearest_distances(fs, members), nearest_distances(fs, others)])
    truth = np.r_[np.ones(m), np.zeros(m)]
    report.membership_auc = float(roc_auc_score(truth, scores))
    return report
