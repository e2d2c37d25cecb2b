"""Table queries through the ledger: right answers within stated intervals, bad input refused."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import veil.dp as vdp
from veil.dp import Query
from veil.errors import BudgetExceededError, ColumnError, DataError, ParameterError
from veil.ledger import Ledger

# Intervals are asked at ALPHA: each containment check below fails falsely with
# probability at most 1e-6 (the intervals are exact or conservative).
ALPHA = 1e-6


@pytest.fixture(scope="module")
def table() -> pl.DataFrame:
    rng = np.random.default_rng(7)
    n = 20_000
    return pl.DataFrame(
        {
            "age": rng.uniform(0, 100, n),
            "sex": rng.choice(["F", "M"], n),
            "pid": rng.integers(0, 5_000, n),
        }
    )


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    book = Ledger(tmp_path / "l.db", create=True)
    book.add_dataset("t", epsilon=100.0, delta=1e-5)
    return book


def _kw(ledger: Ledger, eps: float = 1.0, **extra: object) -> dict[str, object]:
    return {"epsilon": eps, "dataset": "t", "ledger": ledger, "alpha": ALPHA, **extra}


def _inside(release: vdp.Release, truth: float, i: int = 0) -> None:
    lo, hi = release.ci_low[i], release.ci_high[i]
    assert lo is not None and hi is not None
    assert lo <= truth <= hi, (lo, truth, hi)


def test_scalar_statistics_cover_the_truth(table: pl.DataFrame, ledger: Ledger) -> None:
    age = table["age"]
    _inside(vdp.count(table, **_kw(ledger)), table.height)
    _inside(vdp.sum(table, "age", bounds=(0, 100), **_kw(ledger)), age.sum())
    r = vdp.mean(table, "age", bounds=(0, 100), **_kw(ledger))
    _inside(r, age.mean())
    assert r.ci_high[0] - r.ci_low[0] < 1.0  # informative at this n and epsilon
    _inside(vdp.variance(table, "age", bounds=(0, 100), **_kw(ledger)), age.var(ddof=0))
    g = vdp.mean(table, "age", bounds=(0, 100), **_kw(ledger, delta=1e-7, mechanism="gaussian"))
    _inside(g, age.mean())
    assert g.loss.rho is not None
    med = vdp.median(table, "age", bounds=(0, 100), **_kw(ledger))
    assert abs(med.value - age.median()) < 2.0
    assert med.noise["rank_error"] > 0
    assert ledger.status("t").releases == 6


def test_vector_statistics(table: pl.DataFrame, ledger: Ledger) -> None:
    h = vdp.histogram(table, "age", bounds=(0, 100), bins=4, **_kw(ledger))
    truth = np.histogram(table["age"].to_numpy(), bins=4, range=(0, 100))[0]
    assert h.labels is not None and len(h.labels) == 4
    for i, t in enumerate(truth):
        _inside(h, float(t), i)
    cats = vdp.histogram(table, "sex", categories=["F", "M", "X"], **_kw(ledger))
    assert cats.value["X"] <= cats.ci_high[2]
    by = vdp.mean(table, "age", bounds=(0, 100), by="sex", **_kw(ledger, delta=1e-7))
    assert by.labels == ["F", "M"]
    for i, sex in enumerate(by.labels):
        _inside(by, table.filter(pl.col("sex") == sex)["age"].mean(), i)
    sel = vdp.histogram(table, "sex", **_kw(ledger, delta=1e-7))
    assert sel.labels == ["F", "M"]
    assert sel.loss.delta > 0


def test_inputs_of_every_kind(table: pl.DataFrame, ledger: Ledger, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    table.write_csv(path)
    for data in (path, str(path), table.to_pandas(), table.to_arrow(), table.lazy()):
        r = vdp.count(data, **_kw(ledger))
        _inside(r, table.height)


def test_contribution_bounding(table: pl.DataFrame, ledger: Ledger) -> None:
    people = table["pid"].n_unique()
    r = vdp.count(table, **_kw(ledger, privacy_unit="pid", max_contributions=1))
    _inside(r, people)
    assert r.parameters["max_contributions"] == 1
    r2 = vdp.count(table, **_kw(ledger, privacy_unit="pid", max_contributions=3))
    assert r2.noise["parts"][0]["scale"] == pytest.approx(3 * r.noise["parts"][0]["scale"])


def test_report_has_error_bars(table: pl.DataFrame, ledger: Ledger, tmp_path: Path) -> None:
    r = vdp.histogram(table, "age", bounds=(0, 100), bins=3, **_kw(ledger))
    out = tmp_path / "r.html"
    r.save_html(out)
    html = out.read_text()
    assert 'class="err"' in html and "histogram(age)" in html
    assert r.to_dict()["epsilon"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("query", "extra", "error", "match"),
    [
        (Query("mean", "nope", bounds=(0, 1)), {}, ColumnError, "not found; columns are"),
        (Query("mean", "sex", bounds=(0, 1)), {}, ColumnError, "numeric"),
        (Query("mean", "bad", bounds=(0, 1)), {}, DataError, "missing values"),
        (Query("count", by=("sex",)), {}, ParameterError, "delta > 0"),
        (Query("count"), {"mechanism": "gaussian"}, ParameterError, "delta > 0"),
        (Query("count"), {"privacy_unit": "pid"}, ParameterError, "max_contributions"),
        (Query("count"), {"epsilon": math.nan}, ParameterError, "epsilon"),
        (Query("count"), {"epsilon": -1.0}, ParameterError, "epsilon"),
        (Query("count"), {"delta": 1.0}, ParameterError, "delta"),
        (Query("count"), {"mechanism": "magic"}, ParameterError, "mechanism"),
        (Query("count"), {"epsilon": 1000.0}, BudgetExceededError, "left of 100"),
    ],
)
def test_bad_input_leaves_ledger_unchanged(
    table: pl.DataFrame,
    ledger: Ledger,
    query: Query,
    extra: dict[str, object],
    error: type[Exception],
    match: str,
) -> None:
    data = table.with_columns(bad=pl.when(pl.col("pid") == 3).then(float("nan")).otherwise(1.0))
    kwargs = {**_kw(ledger), **extra}
    with pytest.raises(error, match=match):
        vdp.release(data, query, **kwargs)  # type: ignore[arg-type]
    assert ledger.status("t").releases == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"statistic": "mean", "column": "age"}, "needs bounds"),
        ({"statistic": "mean", "column": "age", "bounds": (5, 1)}, "reversed"),
        ({"statistic": "mean", "column": "age", "bounds": (0, math.inf)}, "finite"),
        ({"statistic": "median"}, "unknown statistic"),
        ({"statistic": "quantile", "column": "age", "bounds": (0, 1), "q": 2}, "q in"),
        ({"statistic": "variance", "column": "age", "bounds": (0, 1), "by": ("sex",)}, "group"),
    ],
)
def test_bad_queries(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        Query(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("rows", [0, 1, 70_000, 200_003])
def test_fixed_point_sum_is_the_exact_per_row_map(rows: int) -> None:
    """The chunked sum equals clamp-scale-truncate applied row by row, summed in integers."""
    from veil.dp.queries import FixedPoint, fixed_sum

    values = np.random.default_rng(rows).normal(10, 80, rows)  # many outside the bounds
    frame = pl.DataFrame({"x": values})
    total, grid = fixed_sum(frame, "x", (-50.0, 120.0))
    expected = frame.select(grid.expr(pl.col("x").clip(-50.0, 120.0)).sum()).item() or 0
    assert total == expected
    assert grid == FixedPoint(120.0)
    assert abs(total * grid.step - np.clip(values, -50, 120).sum()) <= rows * grid.step
