"""The Anonymizer front door: types in and out, roles, defaults on any column, errors, report."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pycanon.anonymity as pycanon
import pytest

from veil.anonymize import Anonymizer, KAnonymity, LDiversity
from veil.errors import ColumnError, DataError, ParameterError


@pytest.fixture(scope="module")
def mixed() -> pl.DataFrame:
    """Integers, many-distinct decimals, missing values, strings and dates."""
    rng = np.random.default_rng(3)
    n = 400
    age = rng.integers(18, 90, n).astype(object)
    age[rng.random(n) < 0.05] = None
    return pl.DataFrame(
        {
            "name": [f"person {i}" for i in range(n)],
            "age": pl.Series(age.tolist(), dtype=pl.Int64),
            "weight": rng.normal(70, 12, n).round(3),
            "city": rng.choice(["Oslo", "Lyon", "Porto", None], n).tolist(),
            "visit": [
                dt.date(2020, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 900, n)
            ],
            "diagnosis": rng.choice(["a", "b", "c"], n).tolist(),
        }
    )


QUASI = ["age", "weight", "city", "visit"]


@pytest.mark.parametrize("method", ["optimal", "mondrian"])
def test_defaults_work_on_any_column(mixed, method) -> None:
    anonymizer = Anonymizer([KAnonymity(5), LDiversity(2)], method=method)
    out = anonymizer.fit_transform(mixed, QUASI, "diagnosis", identifier="name")
    assert out.columns == [c for c in mixed.columns if c != "name"]
    assert pycanon.k_anonymity(out.to_pandas(), QUASI) >= 5
    assert pycanon.l_diversity(out.to_pandas(), QUASI, ["diagnosis"]) >= 2
    assert anonymizer.suppressed_ == mixed.height - out.height
    assert anonymizer.classes_ == out.group_by(QUASI).len().height


def test_returns_the_type_it_was_given(mixed) -> None:
    small = mixed.select("age", "city", "diagnosis")
    anonymizer = Anonymizer([KAnonymity(3)])
    assert isinstance(anonymizer.fit_transform(small.to_pandas(), ["age", "city"]), pd.DataFrame)
    assert isinstance(anonymizer.fit_transform(small.to_arrow(), ["age", "city"]), pa.Table)
    assert isinstance(anonymizer.fit_transform(small.lazy(), ["age", "city"]), pl.LazyFrame)


def test_parameters_are_stored_unchanged_and_learned_state_ends_with_underscore() -> None:
    models = [KAnonymity(2)]
    anonymizer = Anonymizer(models, suppression=0.2)
    assert anonymizer.models is models and anonymizer.suppression == 0.2
    assert not hasattr(anonymizer, "result_")
    anonymizer.fit(pl.DataFrame({"a": [1, 1, 2, 2, 3]}), "a")
    assert anonymizer.levels_ == {"a": 0} and anonymizer.suppressed_ == 1


@pytest.mark.parametrize(
    ("kwargs", "fit", "error", "message"),
    [
        ({"models": []}, {"quasi": "a"}, ParameterError, "at least one privacy model"),
        ({"models": [3]}, {"quasi": "a"}, ParameterError, "privacy model objects"),
        (
            {"models": [KAnonymity(2)], "suppression": 1.5},
            {"quasi": "a"},
            ParameterError,
            r"\[0, 1\)",
        ),
        (
            {"models": [KAnonymity(2)], "method": "x"},
            {"quasi": "a"},
            ParameterError,
            "'optimal' or",
        ),
        ({"models": [KAnonymity(2)]}, {"quasi": "nope"}, ColumnError, "'nope' not found"),
        ({"models": [LDiversity(2)]}, {"quasi": "a"}, ParameterError, "needs a sensitive"),
        (
            {"models": [KAnonymity(2)], "hierarchies": {"b": "x.csv"}},
            {"quasi": "a"},
            ColumnError,
            "not a quasi-identifier",
        ),
        (
            {"models": [KAnonymity(2)], "method": "mondrian", "hierarchies": {"a": "x.csv"}},
            {"quasi": "a"},
            ParameterError,
            "Mondrian",
        ),
        (
            {"models": [KAnonymity(2)], "hierarchies": {"a": {1: "low"}}},
            {"quasi": "a"},
            DataError,
            "value 2 of column 'a' is missing",
        ),
        *[
            (
                {"models": [KAnonymity(2)], "gs_factor": bad},
                {"quasi": "a"},
                ParameterError,
                rf"gs_factor .* in \[0, 1\] .*; got {shown}$",
            )
            for bad, shown in [
                (1.5, "1.5"),
                (-0.1, "-0.1"),
                (float("nan"), "nan"),
                ("0.7", "'0.7'"),
                (True, "True"),
                (None, "None"),
            ]
        ],
        (
            {"models": [KAnonymity(2)], "method": "mondrian", "gs_factor": 0.7},
            {"quasi": "a"},
            ParameterError,
            "gs_factor=0.7 .* Mondrian suppresses no rows",
        ),
    ],
)
def test_bad_input_is_refused_clearly(kwargs, fit, error, message) -> None:
    frame = pl.DataFrame({"a": [1, 2, 1, 2], "b": ["x", "y", "x", "y"]})
    with pytest.raises(error, match=message):
        Anonymizer(**kwargs).fit(frame, **fit)


def test_empty_table_is_refused() -> None:
    with pytest.raises(DataError, match="no rows"):
        Anonymizer([KAnonymity(2)]).fit(pl.DataFrame({"a": pl.Series([], dtype=pl.Int64)}), "a")


def test_report_shows_before_and_after(mixed) -> None:
    anonymizer = Anonymizer([KAnonymity(5)], target="diagnosis")
    anonymizer.fit(mixed, QUASI, "diagnosis", identifier="name")
    report = anonymizer.result_
    record = json.loads(report.to_json())
    assert record["privacy"]["k-anonymity (k)"]["before"] == 1
    assert record["privacy"]["k-anonymity (k)"]["after"] >= 5
    utility = record["utility"]
    assert utility["information loss (NCP)"]["before"] == 0.0
    assert 0 < utility["information loss (NCP)"]["after"] <= 1
    assert 0 <= utility["classifier accuracy (diagnosis)"]["after"] <= 1
    html = report.to_html()
    assert "Privacy before and after" in html and "Utility before and after" in html
