"""Strict JSON for machines: no NaN or Infinity, and no negative zero."""

from __future__ import annotations

import json
import math

import numpy as np

from veil.cli.app import main
from veil.report.jsonify import to_json


def test_non_finite_and_negative_zero() -> None:
    data = {"nan": math.nan, "inf": -math.inf, "zero": -0.0, "np": np.float64(-0.0), "l": [-0.0]}
    text = to_json(data)
    assert "-0.0" not in text
    assert json.loads(text) == {"nan": None, "inf": "-inf", "zero": 0.0, "np": 0.0, "l": [0.0]}
    assert math.copysign(1.0, json.loads(text)["zero"]) == 1.0


def test_a_one_row_table_prints_no_negative_zero(tmp_path, capsys) -> None:
    path = tmp_path / "one.csv"
    path.write_text("age,zip,disease\n30,100,flu\n")
    assert main(["assess", str(path), "-q", "age,zip", "-s", "disease", "--json"]) == 0
    out = capsys.readouterr().out
    assert "-0.0" not in out and json.loads(out)["records"] == 1
