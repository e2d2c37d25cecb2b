"""`veil train` and `veil audit` end to end, and every bad input -> one line, exit 2."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from veil.cli.app import main
from veil.ledger import Ledger


def _write_table(path: Path, n: int = 1200, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n)
    hours = rng.integers(10, 60, n)
    sex = rng.choice(["F", "M"], n)
    score = (age - 45) / 20 + (hours - 35) / 15 + np.where(sex == "F", 0.5, -0.5)
    income = np.where(score + rng.normal(0, 0.3, n) > 0, ">50K", "<=50K")
    lines = ["age,hours,sex,income"] + [
        f"{a},{h},{s},{i}" for a, h, s, i in zip(age, hours, sex, income, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


BASE = [
    "--target",
    "income",
    "--bounds",
    "age=0:120,hours=0:100",
    "--epochs",
    "10",
    "--batch-size",
    "64",
]


def test_train_json_report_model_and_audit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _write_table(tmp_path / "people.csv")
    before = hashlib.sha256(data.read_bytes()).hexdigest()
    ledger = tmp_path / "ledger.db"
    assert (
        main(
            [
                "ledger",
                "init",
                "people",
                "--epsilon",
                "5",
                "--delta",
                "1e-5",
                "--ledger",
                str(ledger),
            ]
        )
        == 0
    )
    capsys.readouterr()
    model, report = tmp_path / "model.pt", tmp_path / "train.html"
    code, out, err = _run(
        [
            "train",
            str(data),
            *BASE,
            "--epsilon",
            "3",
            "--model",
            "logistic",
            "-o",
            str(model),
            "--dataset",
            "people",
            "--ledger",
            str(ledger),
            "--audit",
            "--report",
            str(report),
            "--curve",
            "1,8",
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    result = json.loads(out)
    for key in ("epsilon", "delta", "accuracy", "baseline_accuracy"):
        assert isinstance(result[key], float)
    assert 2.9 < result["epsilon"] <= 3.0
    assert result["accuracy"] > 0.6
    assert {"auc", "epsilon_lower_bound"} <= set(result["audit"])
    assert [p["epsilon"] for p in result["curve"]] == [1.0, 3.0, 8.0]
    html = report.read_text()
    assert "Privacy-utility curve" in html and "Membership inference" in html
    assert "<svg" in html
    with Ledger(ledger) as book:
        status = book.status("people")
        assert status.releases == 1 and 2.9 < status.epsilon_spent <= 3.0
    assert hashlib.sha256(data.read_bytes()).hexdigest() == before

    code, out, err = _run(
        [
            "audit",
            str(model),
            "--train",
            str(data),
            "--holdout",
            str(_write_table(tmp_path / "other.csv", seed=5)),
            "--target",
            "income",
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    audit = json.loads(out)
    assert audit["epsilon"] == pytest.approx(result["epsilon"])
    assert 0.0 <= audit["audit"]["auc"] <= 1.0


def _one_line_exit_2(args: list[str], capsys: pytest.CaptureFixture[str], match: str) -> None:
    code, _, err = _run(args, capsys)
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert match in err, err


def test_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _write_table(tmp_path / "people.csv", n=300)
    train = ["train", str(data)]
    _one_line_exit_2([*train, *BASE, "--epsilon", "0"], capsys, "epsilon")
    _one_line_exit_2([*train, "--target", "nope", "--epsilon", "1"], capsys, "'nope'")
    _one_line_exit_2([*train, *BASE, "--epsilon", "1", "--model", "svm"], capsys, "mlp")
    _one_line_exit_2([*train, *BASE, "--epsilon", "1", "-o", str(data)], capsys, "input")
    _one_line_exit_2(
        [*train, *BASE, "--epsilon", "1", "--ledger", str(tmp_path / "l.db")], capsys, "--dataset"
    )
    _one_line_exit_2([*train, *BASE, "--epsilon", "1", "--bounds", "age"], capsys, "LOW:HIGH")
    nan = tmp_path / "nan.csv"
    nan.write_text(data.read_text().replace(",<=50K\n", ",\n", 3))
    _one_line_exit_2(["train", str(nan), *BASE, "--epsilon", "1"], capsys, "missing value")
    single = tmp_path / "single.csv"
    single.write_text(data.read_text().replace(">50K", "<=50K"))
    _one_line_exit_2(["train", str(single), *BASE, "--epsilon", "1"], capsys, "single class")
    unreachable = [*train, *BASE, "--epsilon", "0.0001", "--batch-size", "300", "--epochs", "50"]
    _one_line_exit_2(unreachable, capsys, "epsilon")
    fake = tmp_path / "fake.pt"
    fake.write_bytes(b"\x00not a model")
    _one_line_exit_2(
        ["audit", str(fake), "--train", str(data), "--holdout", str(data), "--target", "income"],
        capsys,
        "not a veil model file",
    )
    assert not (tmp_path / "model.pt").exists()


def test_refused_budget_leaves_no_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _write_table(tmp_path / "people.csv", n=300)
    ledger = tmp_path / "ledger.db"
    assert (
        main(
            [
                "ledger",
                "init",
                "people",
                "--epsilon",
                "0.5",
                "--delta",
                "1e-5",
                "--ledger",
                str(ledger),
            ]
        )
        == 0
    )
    capsys.readouterr()
    model, report = tmp_path / "m.pt", tmp_path / "r.html"
    args = ["train", str(data), *BASE, "--epsilon", "1", "-o", str(model), "--report", str(report)]
    _one_line_exit_2([*args, "--dataset", "people", "--ledger", str(ledger)], capsys, "budget")
    assert not model.exists() and not report.exists()


def test_a_refused_table_spends_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _write_table(tmp_path / "people.csv", n=300)
    lines = data.read_text().splitlines()
    empty = tmp_path / "empty_column.csv"
    empty.write_text("\n".join([lines[0] + ",note"] + [line + "," for line in lines[1:]]) + "\n")
    ledger = tmp_path / "ledger.db"
    assert (
        main(
            [
                "ledger",
                "init",
                "people",
                "--epsilon",
                "5",
                "--delta",
                "1e-5",
                "--ledger",
                str(ledger),
            ]
        )
        == 0
    )
    capsys.readouterr()
    model = tmp_path / "m.pt"
    args = ["train", str(empty), *BASE, "--epsilon", "1", "-o", str(model)]
    _one_line_exit_2([*args, "--dataset", "people", "--ledger", str(ledger)], capsys, "'note'")
    with Ledger(ledger) as book:
        assert book.status("people").releases == 0
    assert not model.exists()
