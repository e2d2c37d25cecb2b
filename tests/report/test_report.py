"""Reports: strict JSON, a self-contained HTML page with plots, and a terminal rendering."""

from __future__ import annotations

import json
import math

from rich.console import Console

import veil.anonymity as va
from veil.datasets import EXAMPLE_ROLES, patients
from veil.report import to_json


def test_json_is_strict() -> None:
    text = to_json({"c": math.nan, "t": math.inf, "n": [1, 2.5]})
    assert json.loads(text) == {"c": None, "t": "inf", "n": [1, 2.5]}


def test_assessment_renders_everywhere(tmp_path) -> None:
    data = patients(800, seed=3)
    report = va.assess(data, list(EXAMPLE_ROLES.quasi)[:3], list(EXAMPLE_ROLES.sensitive))
    parsed = json.loads(report.to_json())
    assert parsed["techniques"]["k-anonymity"] == report.k
    path = tmp_path / "report.html"
    report.save_html(path)
    html = path.read_text()
    assert html.startswith("<!doctype html>") and html.count("<svg") == 2
    for technique in va.TECHNIQUES:
        assert technique.replace("(", "").split()[0] in html.replace("(", "")
    console = Console(record=True, width=120)
    report.print(console)
    text = console.export_text()
    assert "t-closeness" in text and "Re-identification risk" in text


def test_example_data_is_seeded_and_realistic() -> None:
    a, b = patients(500, seed=1), patients(500, seed=1)
    assert a.equals(b) and not a.equals(patients(500, seed=2))
    assert a["age"].min() >= 0 and a["age"].max() <= 99
    # Pregnancy care only for women of child-bearing age.
    pregnant = a.filter(a["diagnosis"] == "Pregnancy care")
    assert (pregnant["sex"] == "F").all()
    assert set(EXAMPLE_ROLES.named) <= set(a.columns)
