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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from veil.errors import ColumnError, DataError
from veil.io import to_polars
from veil.report import Document, Paragraph, Result, Section, Table

__all__ = ["EvaluationReport", "evaluate"]


def _frame(data: Any, what: str) -> pl.DataFrame:
    frame, _ = to_polars(data)
    if isinstance(frame, pl.LazyFrame):
        frame = frame.collect()
    if frame.height == 0:
        raise DataError(f"the {what} table is empty")
    return frame


class _Coder:
    """Common discretization of real and synthetic columns for marginals (non-private).

    Numbers: ``bins`` equal-width bins over the real training range;
    other values: their categories in the real table, unseen ones in one code.
    Missing values get their own code.
    """

    def __init__(self, real: pl.DataFrame, bins: int) -> None:
        self.specs: dict[str, Any] = {}
        for name in real.columns:
            s = real.get_column(name)
            if s.dtype.is_numeric():
                x = s.cast(pl.Float64).drop_nulls().to_numpy()
                x = x[np.isfinite(x)]
                lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 1.0)
                self.specs[name] = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
            else:
                cats = s.drop_nulls().cast(pl.String).unique().sort().to_list()
                self.specs[name] = {c: i for i, c in enumerate(cats)}

    def size(self, name: str) -> int:
        spec = self.specs[name]
        return (len(spec) - 1 if isinstance(spec, np.ndarray) else len(spec)) + 2

    def codes(self, frame: pl.DataFrame, name: str) -> np.ndarray:
        spec, s = self.specs[name], frame.get_column(name)
        size = self.size(name)
        if isinstance(spec, np.ndarray):
            x = s.cast(pl.Float64, strict=False).to_numpy()
            bad = ~np.isfinite(x)
            c = np.clip(
                np.searchsorted(spec, np.where(bad, spec[0], x), side="right") - 1, 0, len(spec) - 2
            )
            c[bad] = size - 1
            return c.astype(np.int64)
        values = s.cast(pl.String).to_list()
        return np.array(
            [size - 1 if v is None else spec.get(v, size - 2) for v in values], dtype=np.int64
        )


def _tvd(
    a: dict[str, np.ndarray], b: dict[str, np.ndarray], cols: Sequence[str], sizes: dict[str, int]
) -> float:
    shape = tuple(sizes[c] for c in cols)
    ka = np.ravel_multi_index(tuple(a[c] for c in cols), shape)
    kb = np.ravel_multi_index(tuple(b[c] for c in cols), shape)
    n = int(np.prod(shape))
    pa = np.bincount(ka, minlength=n) / ka.size
    pb = np.bincount(kb, minlength=n) / kb.size
    return float(0.5 * np.abs(pa - pb).sum())


def _associations(
    codes: dict[str, np.ndarray], frame: pl.DataFrame, numeric: set[str]
) -> np.ndarray:
    """Pearson between two numeric columns, Cramér's V (on the codes) for any other pair."""
    names = list(codes)
    out = np.eye(len(names))
    for (i, a), (j, b) in itertools.combinations(enumerate(names), 2):
        if a in numeric and b in numeric:
            x = frame.get_column(a).cast(pl.Float64).to_numpy()
            y = frame.get_column(b).cast(pl.Float64).to_numpy()
            ok = np.isfinite(x) & np.isfinite(y)
            v = (
                float(np.corrcoef(x[ok], y[ok])[0, 1])
                if ok.sum() > 2 and x[ok].std() > 0 and y[ok].std() > 0
                else 0.0
            )
        else:
            v = _cramers_v(codes[a], codes[b])
        out[i, j] = out[j, i] = v
    return out


def _cramers_v(a: np.ndarray, b: np.ndarray) -> float:
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    table = np.zeros((ia.max() + 1, ib.max() + 1))
    np.add.at(table, (ia, ib), 1)
    k = min(table.shape) - 1
    if k == 0:
        return 0.0
    n = table.sum()
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / n
    chi2 = float(((table - expected) ** 2 / np.where(expected > 0, expected, 1)).sum())
    return float(np.sqrt(chi2 / (n * k)))


def _features(
    frames: Sequence[pl.DataFrame], columns: Sequence[str], reference: pl.DataFrame
) -> list[np.ndarray]:
    """Numbers scaled to [0, 1] by the reference's range, categories one-hot (for distances)."""
    blocks: list[list[np.ndarray]] = [[] for _ in frames]
    for name in columns:
        ref = reference.get_column(name)
        if ref.dtype.is_numeric():
            x = ref.cast(pl.Float64).to_numpy()
            x = x[np.isfinite(x)]
            lo, span = (float(x.min()), float(x.max() - x.min()) or 1.0) if x.size else (0.0, 1.0)
            for k, f in enumerate(frames):
                v = f.get_column(name).cast(pl.Float64, strict=False).to_numpy()
                blocks[k].append(np.nan_to_num((v - lo) / span, nan=-1.0)[:, None])
        else:
            cats = ref.drop_nulls().cast(pl.String).unique().sort().to_list()
            index = {c: i for i, c in enumerate(cats)}
            for k, f in enumerate(frames):
                codes = np.array(
                    [index.get(v, -1) for v in f.get_column(name).cast(pl.String).to_list()]
                )
                onehot = np.zeros((len(codes), len(cats)))
                rows = np.flatnonzero(codes >= 0)
                onehot[rows, codes[rows]] = 1.0 / np.sqrt(
                    2.0
                )  # two differing categories: distance 1
                blocks[k].append(onehot)
    return [np.hstack(b) for b in blocks]


def _nearest(reference: np.ndarray, queries: np.ndarray) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=1).fit(reference)
    return nn.kneighbors(queries, return_distance=True)[0][:, 0]


def _model_inputs(
    frames: Sequence[pl.DataFrame], features: Sequence[str], reference: pl.DataFrame
) -> tuple[list[np.ndarray], list[bool]]:
    """Numbers as they are, categories as codes of the reference (flagged categorical)."""
    out: list[list[np.ndarray]] = [[] for _ in frames]
    categorical = []
    for name in features:
        ref = reference.get_column(name)
        if ref.dtype.is_numeric():
            categorical.append(False)
            for k, f in enumerate(frames):
                out[k].append(f.get_column(name).cast(pl.Float64, strict=False).to_numpy())
        else:
            cats = (
                ref.drop_nulls()
                .cast(pl.String)
                .value_counts(sort=True)
                .get_column(name)
                .to_list()[:250]
            )
            index = {c: i for i, c in enumerate(cats)}
            categorical.append(True)
            for k, f in enumerate(frames):
                values = f.get_column(name).cast(pl.String).to_list()
                out[k].append(
                    np.array(
                        [index.get(v, np.nan) if v is not None else np.nan for v in values],
                        dtype=float,
                    )
                )
    return [np.column_stack(o) for o in out], categorical


def _utility(
    train: pl.DataFrame, synthetic: pl.DataFrame, holdout: pl.DataFrame, target: str, seed: int
) -> dict[str, Any]:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import accuracy_score, roc_auc_score
    from threadpoolctl import threadpool_limits

    features = [c for c in train.columns if c != target]
    (x_train, x_syn, x_hold), categorical = _model_inputs(
        [train, synthetic, holdout], features, train
    )
    labels = train.get_column(target).cast(pl.String)
    classes = labels.drop_nulls().unique().sort().to_list()

    def y(frame: pl.DataFrame) -> np.ndarray:
        index = {c: i for i, c in enumerate(classes)}
        return np.array(
            [index.get(v, -1) for v in frame.get_column(target).cast(pl.String).to_list()]
        )

    y_train, y_syn, y_hold = y(train), y(synthetic), y(holdout)
    keep = y_hold >= 0
    binary = len(classes) == 2
    out: dict[str, Any] = {"target": target, "metric": "auc" if binary else "accuracy"}
    for name, x, labels_ in (("trtr", x_train, y_train), ("tstr", x_syn, y_syn)):
        ok = labels_ >= 0
        if len(np.unique(labels_[ok])) < 2:
            out[name] = None  # one class only: no model to train
            continue
        model = HistGradientBoostingClassifier(categorical_features=categorical, random_state=seed)
        # One thread: OpenMP threads spin and stall each other on a busy machine.
        with threadpool_limits(limits=1):
            model.fit(x[ok], labels_[ok])
        if binary:
            proba = model.predict_proba(x_hold[keep])
            positive = list(model.classes_).index(1) if 1 in model.classes_ else None
            score = proba[:, positive] if positive is not None else np.zeros(keep.sum())
            out[name] = float(roc_auc_score(y_hold[keep] == 1, score))
        else:
            out[name] = float(accuracy_score(y_hold[keep], model.predict(x_hold[keep])))
    return out


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
    coder = _Coder(train, bins)
    sizes = {c: coder.size(c) for c in train.columns}
    real_codes = {c: coder.codes(train, c) for c in train.columns}
    syn_codes = {c: coder.codes(syn, c) for c in train.columns}
    tvd: dict[int, float] = {}
    per_column = {c: _tvd(real_codes, syn_codes, (c,), sizes) for c in train.columns}
    for k in (1, 2, 3):
        sets = list(itertools.combinations(train.columns, k))
        if not sets:
            continue
        if len(sets) > max_sets:
            sets = [sets[i] for i in rng.choice(len(sets), max_sets, replace=False)]
        tvd[k] = float(np.mean([_tvd(real_codes, syn_codes, s, sizes) for s in sets]))
    numeric = {c for c in train.columns if train.schema[c].is_numeric()}
    corr = float(
        np.abs(
            _associations(real_codes, train, numeric) - _associations(syn_codes, syn, numeric)
        ).mean()
    )
    report = EvaluationReport(train.height, syn.height, tvd, per_column, corr)
    if target is not None and hold is None:
        report.notes.append("TSTR needs a real holdout: give holdout= to measure it")
    if hold is None:
        return report
    if target is not None:
        report.utility = _utility(train, syn, hold, target, seed)

    def sample(frame: pl.DataFrame) -> pl.DataFrame:
        return (
            frame.sample(max_rows, seed=int(rng.integers(2**31)))
            if frame.height > max_rows
            else frame
        )

    t, s, h = sample(train), sample(syn), sample(hold)
    ft, fs, fh = _features([t, s, h], train.columns, train)
    d_syn = _nearest(ft, fs)
    d_hold = _nearest(ft, fh)
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
    scores = -np.concatenate([_nearest(fs, members), _nearest(fs, others)])
    truth = np.r_[np.ones(m), np.zeros(m)]
    report.membership_auc = float(roc_auc_score(truth, scores))
    return report
