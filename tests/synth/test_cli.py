"""`veil synth`: end to end with --json and --report; every bad input is one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from veil.cli.app import main
from veil.ledger import Ledger

from .conftest import structured


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("synth") / "people.csv"
    structured(3000, seed=5).write_csv(path)
    return path


def test_end_to_end_with_ledger_json_and_report(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "ledger.db"
    with Ledger(ledger, create=True) as book:
        book.add_dataset("people", epsilon=5.0, delta=1e-6)
    out, report = tmp_path / "synth.csv", tmp_path / "report.html"
    args = [
        "synth", str(data), "--epsilon", "2", "--delta", "1e-6", "--method", "independent",
        "-n", "1000", "-o", str(out), "--target", "d", "--bounds", "c=0:100",
        "--dataset", "people", "--ledger", str(ledger), "--report", str(report), "--json",
        "--seed", "1",
    ]  # fmt: skip
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["epsilon"] == 2.0 and result["method"] == "independent"
    for key in ("tvd_2way", "tstr_auc", "trtr_auc", "membership_attack_auc"):
        assert 0.0 <= result[key] <= 1.0
    synthetic = pl.read_csv(out)
    assert synthetic.shape == (1000, 4) and synthetic.columns == ["a", "b", "c", "d"]
    html = report.read_text()
    assert "<svg" in html and "Fidelity" in html and "Utility" in html and "Privacy" in html
    with Ledger(ledger) as book:
        assert book.status("people").epsilon_spent == pytest.approx(2.0, rel=1e-6)


def test_mst_default_prints_a_table(data: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "s.parquet"
    code = main(["synth", str(data), "--epsilon", "3", "-o", str(out), "--bounds", "c=0:100"])
    assert code == 0
    assert "synthetic table written" in capsys.readouterr().out
    assert pl.read_parquet(out).height == 2400  # the rows fitted on (80%)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--method", "gan"], "unknown method 'gan'"),
        (["--epsilon", "0"], "epsilon must be positive"),
        (["--epsilon", "-1"], "epsilon must be positive"),
        (["--delta", "0"], "delta > 0"),
        (["--bounds", "c=5"], "COLUMN=LOW:HIGH"),
        (["--bounds", "zzz=0:1"], "zzz"),
        (["--ledger", "x.db"], "--ledger needs --dataset"),
        (["--holdout", "1.5"], "holdout"),
        (["--rounds", "5"], "--rounds applies to --method aim only"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    data: Path, tmp_path: Path, capsys, extra: list[str], message: str
) -> None:
    base = ["synth", str(data), "--epsilon", "1", "-o", str(tmp_path / "o.csv")]
    assert main(base + extra) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and message in err
    assert not (tmp_path / "o.csv").exists()


def test_all_missing_column_and_unwritable_output(data: Path, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.csv"
    pl.read_csv(data).with_columns(pl.lit(None, dtype=pl.Float64).alias("gone")).write_csv(bad)
    assert main(["synth", str(bad), "--epsilon", "1", "-o", str(tmp_path / "o.csv")]) == 2
    assert "only missing values" in capsys.readouterr().err
    assert main(["synth", str(data), "--epsilon", "1", "-o", str(data)]) == 2
    assert "error:" in capsys.readouterr().err


def test_small_epsilon_warns_on_one_line(data: Path, tmp_path: Path, capsys) -> None:
    args = ["synth", str(data), "--epsilon", "0.01", "--method", "independent", "--bins", "50"]
    code = main([*args, "--bounds", "c=0:100", "-o", str(tmp_path / "o.csv"), "--json"])
    assert code == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning:") and "expected total variation" in err[0]
