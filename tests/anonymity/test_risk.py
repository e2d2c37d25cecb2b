"""Risk measures under the prosecutor, journalist and marketer models, derived by hand."""

from __future__ import annotations

import math

import polars as pl
import pytest

import veil.anonymity as va

# Class sizes 1, 2 and 5 (8 records).
SAMPLE = pl.DataFrame({"zip": ["a"] + ["b"] * 2 + ["c"] * 5, "sex": ["F"] * 8})


def test_prosecutor_and_marketer_without_population() -> None:
    risk = va.reidentification_risk(SAMPLE, ["zip", "sex"], threshold=0.3)
    assert risk.n_classes == 3
    assert risk.prosecutor_highest == 1.0
    assert risk.prosecutor_average == pytest.approx(3 / 8)  # mean of 1/f over records
    assert risk.prosecutor_at_risk == pytest.approx(3 / 8)  # risks 1 and 1/2 exceed 0.3
    assert risk.unique_share == pytest.approx(1 / 8)
    assert risk.marketer == pytest.approx(3 / 8)
    assert risk.journalist_highest is None
    sizes = {d["size"]: (d["classes"], d["records"]) for d in risk.size_distribution}
    assert sizes["1"] == (1, 1) and sizes["2"] == (1, 2) and sizes["5-9"] == (1, 5)


def test_journalist_with_population() -> None:
    # Population class sizes 4, 2, 10 for the sample's a, b, c.
    population = pl.DataFrame(
        {"zip": ["a"] * 4 + ["b"] * 2 + ["c"] * 10 + ["d"] * 3, "sex": ["F"] * 19}
    )
    risk = va.reidentification_risk(SAMPLE, ["zip", "sex"], population=population, threshold=0.3)
    assert risk.journalist_highest == 0.5
    # (1 * 1/4 + 2 * 1/2 + 5 * 1/10) / 8
    assert risk.journalist_average == pytest.approx((0.25 + 1 + 0.5) / 8)
    assert risk.journalist_at_risk == pytest.approx(2 / 8)
    assert risk.marketer == risk.journalist_average
    assert risk.population_unique_share == 0.0


def test_assess_collects_everything_once() -> None:
    report = va.assess(SAMPLE.with_columns(pl.Series("d", list("xyxyxyxy"))), ["zip"], "d")
    data = report.to_dict()
    assert data["records"] == 8 and data["equivalence_classes"] == 3
    assert set(data["techniques"]) == set(va.TECHNIQUES)
    assert data["techniques"]["k-anonymity"] == 1
    assert math.isnan(data["techniques"]["recursive (c,l)-diversity"]["c"])  # l == 1 here
    assert data["risk"]["prosecutor"]["highest"] == 1.0
    assert report.k == 1


def test_assess_without_sensitive_attributes() -> None:
    report = va.assess(SAMPLE, ["zip"])
    assert list(report.techniques) == ["k-anonymity"]
    assert "classification_metric" not in report.metrics
