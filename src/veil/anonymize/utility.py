"""What anonymization costs: utility metrics of a released table against the original.

* **information loss** (normalized certainty penalty, Xu et al. 2006; ARX's
  "Loss", Iyengar 2002): mean over quasi-identifier cells of how much of the
  column's range or categories a released value covers; a suppressed row
  costs 1 per cell. 0 is the original table, 1 everything suppressed.
* **generalization intensity**: mean hierarchy level over the top level
  (global recoding only).
* **discernibility** (Bayardo and Agrawal 2005): sum of squared class sizes,
  each suppressed row costing the table's size.
* **average class size** and its normalised form ``rows / (classes * k)``
  (LeFevre et al. 2006).
* **non-uniform entropy** (Gionis and Tassa 2009; ARX): bits lost per value,
  ``-log2 P(original value | released value)``, normalised by suppressing all.
* **classifier accuracy**: a scikit-learn model trained on the released table
  versus one trained on the original, both tested on held-out rows
  (needs the ``anonymize`` extra: ``pip install 'veil[anonymize]'``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from veil.errors import ColumnError, ParameterError

__all__ = [
    "average_class_size",
    "classifier_accuracy",
    "discernibility",
    "generalization_intensity",
    "non_uniform_entropy",
]


def generalization_intensity(levels: Sequence[int], heights: Sequence[int]) -> float:
    """Mean of ``level / top level`` over the quasi-identifiers (0: none, 1: all ``*``)."""
    shares = [lv / (h - 1) for lv, h in zip(levels, heights, strict=True) if h > 1]
    return float(np.mean(shares)) if shares else 0.0


def discernibility(class_sizes: np.ndarray, suppressed: int, n_rows: int) -> float:
    """Sum of squared class sizes plus ``n_rows`` for each suppressed row."""
    sizes = np.asarray(class_sizes, dtype=np.float64)
    return float(np.sum(sizes**2) + suppressed * n_rows)


def average_class_size(class_sizes: np.ndarray, k: int | None = None) -> float:
    """Rows per class; divided by ``k`` when given (1 is ideal)."""
    sizes = np.asarray(class_sizes, dtype=np.float64)
    if sizes.size == 0:
        return float("nan")
    mean = float(sizes.sum() / sizes.size)
    return mean / k if k else mean


def non_uniform_entropy(
    original: pl.DataFrame, released: pl.DataFrame, kept: np.ndarray, quasi: Sequence[str]
) -> float:
    """Normalised non-uniform entropy of a release, in [0, 1].

    ``released`` holds every row of ``original`` in the same order (suppressed
    ones included); ``kept`` marks the rows actually released. A suppressed
    value costs ``-log2 P(value)``, as if released as ``*``.
    """
    n = original.height
    if n == 0 or not quasi:
        return 0.0
    kept_series = pl.Series("kept", kept)
    lost = total = 0.0
    for name in quasi:
        frame = pl.DataFrame(
            {
                "v": original[name],
                "g": released[name].cast(pl.String),
                "kept": kept_series,
            }
        )
        freq = frame.group_by("v").agg(f=pl.len())
        worst = frame.join(freq, on="v", nulls_equal=True).select(
            (-(pl.col("f") / n).log(2)).sum().alias("all"),
            (-(pl.col("f") / n).log(2) * (~pl.col("kept"))).sum().alias("gone"),
        )
        total += float(worst.item(0, 0))
        lost += float(worst.item(0, 1))
        kept_rows = frame.filter(pl.col("kept"))
        pair = kept_rows.group_by("g", "v").agg(c=pl.len())
        group = kept_rows.group_by("g").agg(cg=pl.len())
        lost += float(
            pair.join(group, on="g", nulls_equal=True)
            .select((-pl.col("c").cast(pl.Float64) * (pl.col("c") / pl.col("cg")).log(2)).sum())
            .item()
        )
    return lost / total if total > 0 else 0.0


def _features(frame: pl.DataFrame, columns: Sequence[str]) -> tuple[np.ndarray, list[bool]]:
    matrix, categorical = [], []
    for name in columns:
        col = frame[name]
        if col.dtype.is_numeric():
            matrix.append(col.cast(pl.Float64).fill_null(np.nan).to_numpy())
            categorical.append(False)
        else:
            codes = col.cast(pl.String).fill_null("\x00missing").rank("dense").cast(pl.Float64)
            matrix.append(codes.to_numpy() - 1)
            categorical.append(int(codes.max() or 0) <= 250)
    return np.column_stack(matrix) if matrix else np.zeros((frame.height, 0)), categorical


def _fit_score(x_train, y_train, x_test, y_test, categorical, seed) -> float:
    from sklearn.ensemble import HistGradientBoostingClassifier

    if len(np.unique(y_train)) < 2:
        majority = y_train[0] if len(y_train) else None
        return float(np.mean(y_test == majority))
    model = HistGradientBoostingClassifier(
        categorical_features=np.array(categorical, dtype=bool) if any(categorical) else None,
        random_state=seed,
        max_iter=100,
    )
    model.fit(x_train, y_train)
    return float(model.score(x_test, y_test))


def classifier_accuracy(
    original: pl.DataFrame,
    released: pl.DataFrame,
    kept: np.ndarray,
    target: str,
    *,
    exclude: Sequence[str] = (),
    test_size: float = 0.3,
    seed: int = 0,
) -> dict[str, float]:
    """Accuracy of gradient-boosted trees predicting ``target`` from the other columns.

    The rows are split once (``seed``); one model learns from the original
    training rows, one from their released versions (suppressed rows left
    out); both are tested on the held-out rows, each in its own form, a
    suppressed test row counting as a prediction of the majority class.

    Returns ``{"original": accuracy, "anonymized": accuracy}``.
    """
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise ParameterError(
            "classifier accuracy needs scikit-learn: pip install 'veil[anonymize]'"
        ) from None
    if target not in original.columns:
        raise ColumnError(f"target column {target!r} not found; columns are: {original.columns}")
    features = [c for c in original.columns if c != target and c not in exclude]
    y = original[target].cast(pl.String).fill_null("missing").to_numpy()
    rng = np.random.default_rng(seed)
    test = rng.random(original.height) < test_size
    train = ~test
    x_orig, cat_orig = _features(original, features)
    x_rel, cat_rel = _features(released, features)
    acc_orig = _fit_score(x_orig[train], y[train], x_orig[test], y[test], cat_orig, seed)
    fit_rows = train & kept
    score_rows = test & kept
    if not fit_rows.any():
        return {"original": acc_orig, "anonymized": float("nan")}
    values, counts = np.unique(y[fit_rows], return_counts=True)
    majority = values[np.argmax(counts)]
    acc_kept = _fit_score(
        x_rel[fit_rows], y[fit_rows], x_rel[score_rows], y[score_rows], cat_rel, seed
    )
    hits = acc_kept * score_rows.sum() + np.sum(y[test & ~kept] == majority)
    return {"original": acc_orig, "anonymized": float(hits / max(test.sum(), 1))}
