"""`veil anonymize`: the command line writes the table and report, and refuses bad input."""

from __future__ import annotations

import json
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
    ("flag", "rows_out", "label"), [([], 4, "abc"), (["--gs-factor", "1"], 6, "*")]
)
def test_gs_factor_from_the_command_line(tmp_path, capsys, flag, rows_out, label) -> None:
    # Level 1 (abc / de, 2 rows suppressed) has the lower plain loss; at gs-factor 1 only
    # suppression costs, so the fully generalized level wins.
    source, groups, out = tmp_path / "c.csv", tmp_path / "groups.csv", tmp_path / "out.csv"
    source.write_text("c\na\na\nb\nc\nd\ne\n")
    groups.write_text("a,abc,*\nb,abc,*\nc,abc,*\nd,de,*\ne,de,*\n")
    code = main(["anonymize", str(source), "-q", "c", "--k", "3", "--suppression", "0.34",
                 "--hierarchy", f"c={groups}", "-o", str(out), "--json", *flag])  # fmt: skip
    assert code == 0
    record = json.loads(capsys.readouterr().out)
    assert record["gs_factor"] == (1.0 if flag else 0.5)
    assert record["rows_out"] == rows_out
    assert pl.read_csv(out)["c"].to_list()[0] == label


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
        (["--k", "2", "--gs-factor", "1.5", "-o", "OUT"], "gs_factor weighs"),
        (["--k", "2", "--gs-factor", "-0.5", "-o", "OUT"], "in [0, 1]"),
        (["--k", "2", "--gs-factor", "nan", "-o", "OUT"], "got nan"),
        (["--k", "2", "--method", "mondrian", "--gs-factor", "0.7", "-o", "OUT"], "Mondrian"),
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
