"""Hand-derived answers on the tables of the papers that defined each technique."""

from __future__ import annotations

import math

import polars as pl
import pytest

import veil.anonymity as va

# Machanavajjhala et al. 2007, Figure 2: a 4-anonymous inpatient table.
INPATIENT = pl.DataFrame(
    {
        "zip": ["476**"] * 4 + ["4790*"] * 4 + ["476**"] * 4,
        "age": ["2*"] * 4 + [">=40"] * 4 + ["3*"] * 4,
        "condition": [
            "Heart Disease",
            "Heart Disease",
            "Viral Infection",
            "Viral Infection",
            "Cancer",
            "Heart Disease",
            "Viral Infection",
            "Viral Infection",
            "Cancer",
            "Cancer",
            "Cancer",
            "Cancer",
        ],
    }
)
Q, S = ["zip", "age"], ["condition"]


def test_inpatient_table_techniques() -> None:
    # Global shares: heart 3/12, viral 4/12, cancer 5/12. The all-cancer class decides
    # alpha, l, t, beta and delta.
    assert va.k_anonymity(INPATIENT, Q) == 4
    assert va.alpha_k_anonymity(INPATIENT, Q, S) == (1.0, 4)
    assert va.l_diversity(INPATIENT, Q, S) == 1
    assert va.entropy_l_diversity(INPATIENT, Q, S) == 1
    c, ell = va.recursive_c_l_diversity(INPATIENT, Q, S)
    assert math.isnan(c) and ell == 1
    # Equal distance: 0.5 * (|1 - 5/12| + 3/12 + 4/12) = 7/12.
    assert va.t_closeness(INPATIENT, Q, S) == pytest.approx(7 / 12, abs=1e-15)
    # (1 - 5/12) / (5/12) = 7/5; enhanced caps it at -ln(3/12) = ln 4 < 7/5.
    assert va.basic_beta_likeness(INPATIENT, Q, S) == pytest.approx(1.4, abs=1e-15)
    assert va.enhanced_beta_likeness(INPATIENT, Q, S) == pytest.approx(math.log(4), abs=1e-15)
    assert va.delta_disclosure(INPATIENT, Q, S) == pytest.approx(math.log(12 / 5), abs=1e-15)


def test_inpatient_table_metrics_and_risk() -> None:
    assert va.average_class_size(INPATIENT, Q) == 1.0  # 12 / (3 classes * k=4)
    assert va.discernibility(INPATIENT, Q) == 48.0  # 3 * 4^2
    # Class 1 ties heart/viral (nothing penalised), class 2 penalises cancer and heart.
    assert va.classification_metric(INPATIENT, Q, "condition") == pytest.approx(2 / 12)
    risk = va.reidentification_risk(INPATIENT, Q, threshold=0.2)
    assert risk.prosecutor_highest == 0.25
    assert risk.prosecutor_average == 0.25
    assert risk.prosecutor_at_risk == 1.0  # 1/4 > 0.2 for every record
    assert risk.unique_share == 0.0
    assert va.reidentification_risk(INPATIENT, Q, threshold=0.25).prosecutor_at_risk == 0.0


def test_ordered_distance_of_li_et_al() -> None:
    # Li et al. 2007, section 4: salaries 3k..11k; the class {3k, 4k, 5k} is 0.375 from
    # the table ({6k, 8k, 11k} is 1/6, {7k, 9k, 10k} 17/72).
    table = pl.DataFrame(
        {
            "zip": ["4767*"] * 3 + ["4760*"] * 3 + ["4790*"] * 3,
            "salary": [3, 4, 5, 6, 8, 11, 7, 9, 10],
        }
    )
    assert va.t_closeness(table, ["zip"], ["salary"]) == pytest.approx(0.375, abs=1e-15)
    # Without the first class: values 6k..11k, p = 1/6 each. {6k, 8k, 11k} gives cumulative
    # gaps 1, 0, 1, 0, -1, 0 (sixths): (3/6) / (m - 1 = 5) = 0.1; {7k, 9k, 10k} likewise.
    rest = table.filter(pl.col("zip") != "4767*")
    assert va.t_closeness(rest, ["zip"], "salary") == pytest.approx(0.1, abs=1e-15)


def test_recursive_c_l_by_hand() -> None:
    # Class A holds values x, y once each; class B holds u once, v twice, w five times.
    # l = 2. A: counts [1, 1] -> floor(1/1 + 1) = 2. B: [1, 2, 5] -> floor(1/7 + 1) = 1.
    table = pl.DataFrame(
        {"q": ["A"] * 2 + ["B"] * 8, "s": ["x", "y", "u", "v", "v", "w", "w", "w", "w", "w"]}
    )
    assert va.recursive_c_l_diversity(table, "q", "s") == (2, 2)


def test_several_sensitive_attributes_both_modes() -> None:
    table = pl.DataFrame(
        {
            "q": ["a", "a", "a", "a", "b", "b", "b", "b"],
            "s1": ["x", "x", "y", "y", "x", "y", "x", "y"],
            "s2": ["p", "q", "p", "q", "p", "p", "q", "q"],
        }
    )
    # Over q alone every class has 2 values of each attribute.
    assert va.l_diversity(table, "q", ["s1", "s2"]) == 2
    # With the other attribute joining q, each of the 4 finer classes, e.g. (a, p) for s1
    # or (b, x) for s2, holds 2 records with 2 different values: l is still 2.
    assert va.l_diversity(table, "q", ["s1", "s2"], others_as_quasi=True) == 2
    assert va.alpha_k_anonymity(table, "q", ["s1", "s2"]) == (0.5, 4)
