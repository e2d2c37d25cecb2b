"""`veil assess` end to end: output formats, and one line with exit 2 for every bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import polars as pl
import pytest

from veil.cli.app import main

TABLE = pl.DataFrame(
    {
        "age": [30, 30, 40, 40, 40],
        "zip": ["100", "100", "200", "200", "200"],
        "disease": ["flu", "hiv", "flu", "flu", "cold"],
        "nothing": [None, None, None, None, None],
    }
)


@pytest.fixture
def table_path(tmp_path):
    path = tmp_path / "patients.csv"
    TABLE.write_csv(path)
    return path


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_output(capsys, table_path) -> None:
    code, out, _ = run(capsys, "assess", table_path, "-q", "age,zip", "-s", "disease", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["techniques"]["k-anonymity"] == 2
    assert data["techniques"]["l-diversity"] == 2


def test_terminal_and_html_report(capsys, table_path, tmp_path) -> None:
    report = tmp_path / "out.html"
    code, out, _ = run(
        capsys, "assess", table_path, "-q", "age", "-q", "zip", "-s", "disease", "--report", report
    )
    assert code == 0 and "k-anonymity" in out and report.exists()
    assert "<svg" in report.read_text()


def test_example(capsys) -> None:
    code, out, _ = run(capsys, "assess", "--example", "--json")
    assert code == 0 and json.loads(out)["records"] == 5000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-q", "age,zipcode"], "column 'zipcode' not found; columns are: age, zip"),
        (["-q", "age,disease", "-s", "disease"], "both a quasi-identifier and a sensitive"),
        (["-q", "age", "-s", "nothing"], "'nothing' holds only missing values"),
        ([], "give the quasi-identifier columns with -q"),
        (["-q", "age", "--risk-threshold", "2"], "threshold must be in (0, 1]"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, table_path, args, message) -> None:
    before = table_path.read_bytes()
    code, _, err = run(capsys, "assess", table_path, *args)
    assert code == 2
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert table_path.read_bytes() == before


def test_bad_files(capsys, tmp_path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("age,zip\n")
    code, _, err = run(capsys, "assess", empty, "-q", "age")
    assert code == 2 and "no rows" in err
    code, _, err = run(capsys, "assess", tmp_path / "missing.csv", "-q", "age")
    assert code == 2 and "does not exist" in err
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b"\x00\xff\x00binary")
    code, _, err = run(capsys, "assess", garbage, "-q", "age")
    assert code == 2 and err.count("\n") == 1


def test_installed_command_exits_2(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "veil", "assess", str(tmp_path / "missing.csv"), "-q", "a"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error:") and "Traceback" not in result.stderr


def test_sampling_fraction_adds_population_uniqueness(capsys, table_path) -> None:
    code, out, _ = run(
        capsys, "assess", table_path, "-q", "age,zip", "--sampling-fraction", "0.05", "--json"
    )
    assert code == 0
    estimated = json.loads(out)["population_uniqueness"]
    assert estimated["sampling_fraction"] == 0.05 and estimated["population_size"] == 100
    assert set(estimated["population_unique_share"]) == {"pitman", "zayatz", "snb", "dankar"}
    code, out, _ = run(capsys, "assess", table_path, "-q", "age", "--population-size", "50")
    assert code == 0 and "Population uniqueness (estimated)" in out
    code, out, _ = run(capsys, "assess", table_path, "-q", "age", "--json")
    assert json.loads(out)["population_uniqueness"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sampling-fraction", "1.5"], "sampling_fraction must be in (0, 1]"),
        (["--sampling-fraction", "0"], "sampling_fraction must be in (0, 1]"),
        (["--population-size", "3"], "population_size must be at least the 5 records"),
        (["--sampling-fraction", "0.1", "--population-size", "50"], "one of the two"),
    ],
)
def test_bad_sampling_is_one_line_and_exit_2(capsys, table_path, args, message) -> None:
    code, _, err = run(capsys, "assess", table_path, "-q", "age", *args)
    assert code == 2
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
