"""`veil anonymize`: the command line writes the table and report, and refuses bad input."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pycanon.anonymity as pycanon
import pytest

from veil.cli.app import main


@pytest.fixture
def table(tmp_path: Path, hospital: pl.DataFrame) -> Path:
    path = tmp_path / "hospital.csv"
    hospital.write_csv(path)
    return path


def test_anonymize_writes_table_and_report(tmp_path: Path, table: Path) -> None:
    out, report = tmp_path / "out.csv", tmp_path / "report.html"
    code = main(
        [
            "anonymize", str(table), "-q", "zip,age", "-q", "nationality", "-s", "condition",
            "--k", "4", "--l", "3", "--hierarchy", "zip=mask", "--hierarchy", "age=interval:10,20",
            "-o", str(out), "--report", str(report), "--suppression", "0",
        ]
    )  # fmt: skip
    assert code == 0
    released = pl.read_csv(out, schema_overrides={"zip": pl.String})
    assert released.columns == ["zip", "age", "nationality", "condition"]
    data = released.to_pandas()
    assert pycanon.k_anonymity(data, ["zip", "age", "nationality"]) >= 4
    assert pycanon.l_diversity(data, ["zip", "age", "nationality"], ["condition"]) >= 3
    assert "Utility before and after" in report.read_text()


def test_mondrian_from_the_command_line(tmp_path: Path, table: Path) -> None:
    out = tmp_path / "out.csv"
    code = main(["anonymize", str(table), "-q", "age,zip", "--k", "3", "--method", "mondrian",
                 "-o", str(out), "--json"])  # fmt: skip
    assert code == 0
    assert pycanon.k_anonymity(pl.read_csv(out).to_pandas(), ["age", "zip"]) >= 3


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--k", "2", "-o", "SAME"], "is the input file"),
        (["--k", "2", "--hierarchy", "nationality=BADHIER", "-o", "OUT"], "is missing from"),
        (["--k", "2", "--hierarchy", "age=NONMONO", "-o", "OUT"], "not monotone"),
        (
            ["--k", "20", "--suppression", "0", "-o", "OUT", "--l", "4", "-s", "condition"],
            "at any node",
        ),
        (["-o", "OUT"], "at least one privacy model"),
        (["--k", "2", "--hierarchy", "age", "-o", "OUT"], "COLUMN=FILE"),
    ],
)
def test_bad_input_exits_2_and_leaves_the_input(tmp_path, table, capsys, extra, message) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("American,*\nRussian,*\n")
    nonmono = tmp_path / "nonmono.csv"
    ages = [28, 29, 21, 23, 50, 55, 47, 49, 31, 37, 36, 35]
    nonmono.write_text(
        "".join(f"{a},{'young' if a < 40 else 'old'},{'A' if a < 30 else 'B'},*\n" for a in ages)
    )
    replace = {
        "SAME": str(table),
        "OUT": str(tmp_path / "o.csv"),
        "BADHIER": str(bad),
        "NONMONO": str(nonmono),
    }
    args = [
        replace.get(a, a.replace("BADHIER", str(bad)).replace("NONMONO", str(nonmono)))
        for a in extra
    ]
    before = table.read_bytes()
    assert main(["anonymize", str(table), "-q", "zip,age,nationality", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1
    assert table.read_bytes() == before
    assert not (tmp_path / "o.csv").exists()
