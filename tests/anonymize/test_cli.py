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


def test_adult_with_anjana_hierarchies_from_the_command_line(
    tmp_path: Path, shared_data: Path, adult_hierarchies: dict[str, Path], capsys
) -> None:
    # UCI Adult's values start with a space (" Bachelors"); ANJANA's hierarchy
    # files do not. --strip makes them match, and the release is ARX's node.
    out = tmp_path / "out.csv"
    hierarchies = [a for c, p in adult_hierarchies.items() for a in ("--hierarchy", f"{c}={p}")]
    quasi = ",".join(adult_hierarchies)
    args = ["anonymize", str(shared_data / "adult.csv"), "-q", quasi, "-s", "salary-class",
            "--k", "10", *hierarchies, "-o", str(out), "--json"]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "value ' " in err and "--strip removes the spaces" in err
    assert main([*args, "--strip"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["suppressed"] == 1380
    assert record["levels"] == {"age": 4, "education": 2, "marital-status": 0,
                                "occupation": 1, "sex": 0, "native-country": 1}  # fmt: skip
    released = pl.read_csv(out, infer_schema=False)
    assert released.height == 32561 - 1380
    assert released["workclass"][0] == "State-gov"  # stripped everywhere


def test_column_names_holding_a_comma(tmp_path: Path, capsys) -> None:
    source, out = tmp_path / "t.csv", tmp_path / "out.csv"
    rows = [f'"{c}",{a},{d}' for c, a, d in
            [("Boston, MA", 30, "flu"), ("Boston, MA", 31, "hiv"), ("Austin, TX", 40, "flu"),
             ("Austin, TX", 41, "cold")]]  # fmt: skip
    source.write_text('"city, state",age,disease\n' + "\n".join(rows) + "\n")
    for quasi in (['"city, state",age'], ["city, state", "-q", "age"], ["city, state,age"]):
        args = ["anonymize", str(source), "-q", *quasi, "-s", "disease", "--k", "2", "--json",
                "--hierarchy", "age=interval:10", "-o", str(out)]  # fmt: skip
        assert main(args) == 0, quasi
        assert json.loads(capsys.readouterr().out)["quasi"] == ["city, state", "age"]
    assert main(["anonymize", str(source), "-q", "city", "--k", "2", "-o", str(out)]) == 2
    assert "'city'" in capsys.readouterr().err


def test_dates_keep_their_form_and_take_a_date_hierarchy(tmp_path: Path, capsys) -> None:
    source, out = tmp_path / "visits.csv", tmp_path / "out.csv"
    rows = ["visit,zip,seen,disease"] + [
        f"{d:02d}/0{m}/2015,0213{d % 2},2015-0{m}-{d:02d},{'flu' if d % 3 else 'hiv'}"
        for m in (1, 2) for d in range(10, 20)
    ]  # fmt: skip
    source.write_text("\n".join(rows) + "\n")
    args = ["anonymize", str(source), "-q", "visit,zip", "-s", "disease", "--k", "5",
            "--hierarchy", "visit=date:month,year", "-o", str(out), "--json"]  # fmt: skip
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["levels"]["visit"] >= 1
    released = pl.read_csv(out, infer_schema=False)
    assert set(released["visit"]) <= {"2015-01", "2015-02", "2015", "*"}
    assert released["zip"].str.starts_with("0213").all()  # leading zeros kept
    # A date column that is not generalized is written back as it came.
    original = pl.read_csv(source, infer_schema=False)
    assert released["seen"].to_list() == original["seen"].to_list()
    # Named with a format: 01/02 read month first.
    source.write_text("when,disease\n01/02/2015,flu\n01/02/2015,hiv\n")
    args = ["anonymize", str(source), "-q", "when", "--k", "2", "-o", str(out)]
    assert main([*args, "--hierarchy", "when=date:month,year"]) == 2
    assert "--dates COLUMN=FORMAT" in capsys.readouterr().err
    assert main([*args, "--hierarchy", "when=date:month,year", "--dates", "when=%m/%d/%Y"]) == 0
    assert pl.read_csv(out, infer_schema=False)["when"].to_list() == ["01/02/2015"] * 2
