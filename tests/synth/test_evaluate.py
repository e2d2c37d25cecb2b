"""The evaluation: it tells a copy of the data from a private synthetic table."""

from __future__ import annotations

import polars as pl
import pytest

from veil.errors import ColumnError
from veil.synth import IndependentMarginals, evaluate

from .conftest import BOUNDS, CATEGORIES


def test_a_copy_of_the_training_rows_is_caught(table: pl.DataFrame, holdout: pl.DataFrame) -> None:
    report = evaluate(table, table, holdout=holdout, target="d")
    out = report.to_dict()
    assert out["tvd_1way"] == 0.0 and out["tvd_2way"] == 0.0 and out["tvd_3way"] == 0.0
    assert out["correlation_difference"] == pytest.approx(0.0, abs=1e-12)
    assert out["dcr"]["synthetic_median"] == 0.0  # every synthetic row is a training row
    assert out["dcr"]["holdout_median"] > 0.0
    assert out["membership_attack_auc"] > 0.95  # members sit at distance 0
    assert out["tstr_auc"] == pytest.approx(out["trtr_auc"])
    assert out["trtr_auc"] > 0.85  # d follows c's sign


def test_dp_synthetic_rows_are_no_closer_than_unseen_real_rows(
    table: pl.DataFrame, holdout: pl.DataFrame
) -> None:
    # DP synthetic data (here the baseline at epsilon 1) cannot copy training rows:
    # its rows are on average no closer to them than fresh rows of the same
    # population are. The holdout's distances are those of 2,000 fresh rows to
    # 4,000 training rows; the baseline mixes columns independently, so its rows
    # are farther. A copy fails this test (above). The membership attack is near a
    # guess: the AUC of 2 x 2,000 rows has a standard error of about 0.013 under
    # no leak, and 0.56 is 4.6 of them (false failure rate below 1e-5).
    syn = IndependentMarginals(
        epsilon=1.0, delta=1e-6, bounds=BOUNDS, categories=CATEGORIES, seed=0
    ).fit(table)
    report = evaluate(table, syn.sample(table.height), holdout=holdout, target="d")
    dcr = report.dcr
    assert dcr is not None
    assert dcr["synthetic_median"] >= dcr["holdout_median"]
    assert dcr["synthetic_p05"] >= 0.5 * dcr["holdout_p05"]
    assert abs(report.membership_auc - 0.5) < 0.06  # type: ignore[operator]
    # Independent columns lose d's dependence on c: TSTR far below TRTR.
    assert report.utility["tstr"] < report.utility["trtr"] - 0.2  # type: ignore[index]


def test_bad_inputs(table: pl.DataFrame) -> None:
    with pytest.raises(ColumnError, match="lacks columns"):
        evaluate(table, table.drop("a"))
    with pytest.raises(ColumnError, match="target 'zzz'"):
        evaluate(table, table, target="zzz")
    report = evaluate(table, table, target="d")
    assert report.utility is None and "holdout" in report.notes[0]
    assert "Fidelity" in report.to_html()
