"""`veil ledger` and `veil dp query`: outputs, and every bad input -> one line, exit 2."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from veil.cli.app import main
from veil.ledger import SCHEMA_VERSION, Ledger


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "people.csv"
    rows = ["age,sex,income"] + [f"{20 + i % 60},{'FM'[i % 2]},{1000 + i}" for i in range(500)]
    data.write_text("\n".join(rows) + "\n")
    ledger = tmp_path / "veil-ledger.db"
    assert (
        main(
            [
                "ledger",
                "init",
                "people",
                "--epsilon",
                "1",
                "--delta",
                "1e-6",
                "--ledger",
                str(ledger),
                "--json",
            ]
        )
        == 0
    )
    return data, ledger


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_init_query_show_history(
    setup: tuple[Path, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data, ledger = setup
    capsys.readouterr()
    report = tmp_path / "out.html"
    code, out, _ = _run(
        [
            "dp",
            "query",
            str(data),
            "--dataset",
            "people",
            "--mean",
            "age",
            "--bounds",
            "0,120",
            "--epsilon",
            "0.5",
            "--ledger",
            str(ledger),
            "--json",
            "--report",
            str(report),
        ],
        capsys,
    )
    assert code == 0
    release = json.loads(out)
    assert release["what"] == "mean(age)" and release["epsilon"] == pytest.approx(0.5)
    assert release["ci_low"][0] <= release["value"] <= release["ci_high"][0]
    assert 'class="err"' in report.read_text()
    for extra in (
        ["--count"],
        ["--histogram", "sex", "--categories", "F,M"],
        ["--quantile", "age", "--q", "0.9", "--bounds", "0,120"],
        ["--count", "--group-by", "sex", "--delta", "1e-7"],
    ):
        code, out, err = _run(
            [
                "dp",
                "query",
                str(data),
                "--dataset",
                "people",
                "--epsilon",
                "0.1",
                "--ledger",
                str(ledger),
                "--json",
                *extra,
            ],
            capsys,
        )
        assert code == 0, err
    code, out, _ = _run(["ledger", "show", "people", "--ledger", str(ledger), "--json"], capsys)
    shown = json.loads(out)
    assert shown["epsilon_spent"] == pytest.approx(0.9)
    assert shown["epsilon_remaining"] == pytest.approx(0.1)
    code, out, _ = _run(["ledger", "history", "people", "--ledger", str(ledger), "--json"], capsys)
    assert code == 0 and len(json.loads(out)["history"]) == 5
    code, out, _ = _run(["ledger", "show", "people", "--ledger", str(ledger)], capsys)
    assert code == 0 and "people" in out


BAD = [
    (["--mean", "age", "--bounds", "0,120", "--epsilon", "0"], "epsilon"),
    (["--mean", "age", "--bounds", "0,120", "--epsilon", "-1"], "epsilon"),
    (["--mean", "age", "--bounds", "0,120", "--epsilon", "nan"], "epsilon"),
    (["--mean", "age", "--bounds", "0,120", "--epsilon", "inf"], "epsilon"),
    (["--mean", "age", "--bounds", "0,120", "--epsilon", "0.1", "--delta", "1"], "delta"),
    (["--mean", "age", "--bounds", "0,120", "--epsilon", "0.1", "--delta", "-0.1"], "delta"),
    (["--mean", "age", "--bounds", "120,0", "--epsilon", "0.1"], "reversed"),
    (["--mean", "age", "--epsilon", "0.1"], "needs bounds"),
    (["--mean", "age", "--bounds", "0", "--epsilon", "0.1"], "LOW,HIGH"),
    (["--mean", "nope", "--bounds", "0,1", "--epsilon", "0.1"], "not found"),
    (["--mean", "gap", "--bounds", "0,1", "--epsilon", "0.1"], "missing values"),
    (["--mean", "age", "--bounds", "0,120", "--epsilon", "2"], "left of 1"),
    (["--epsilon", "0.1"], "exactly one statistic"),
    (["--count", "--dataset", "other", "--epsilon", "0.1"], "not in ledger"),
]


@pytest.mark.parametrize(("args", "match"), BAD)
def test_bad_query_input(
    setup: tuple[Path, Path], capsys: pytest.CaptureFixture[str], args: list[str], match: str
) -> None:
    data, ledger = setup
    gap = data.with_name("gap.csv")
    gap.write_text(
        data.read_text().replace("age,sex,income", "age,sex,gap").replace(",1003\n", ",\n")
    )
    dataset = [] if "--dataset" in args else ["--dataset", "people"]
    capsys.readouterr()
    code, _out, err = _run(
        ["dp", "query", str(gap), *dataset, *args, "--ledger", str(ledger)], capsys
    )
    assert code == 2
    assert err.startswith("error:") and err.count("\n") == 1 and match in err
    with Ledger(ledger) as book:
        assert book.status("people").releases == 0


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_bad_ledgers(
    setup: tuple[Path, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data, ledger = setup
    query = ["dp", "query", str(data), "--dataset", "people", "--count", "--epsilon", "0.1"]
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"\x00garbage" * 500)
    newer = tmp_path / "newer.db"
    newer.write_bytes(ledger.read_bytes())
    conn = sqlite3.connect(newer)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    cases = [
        (corrupt, "corrupt"),
        (newer, "newer than this veil"),
        (tmp_path / "missing.db", "no ledger at"),
    ]
    for path, match in cases:
        before = _digest(path) if path.exists() else None
        for args in (query, ["ledger", "show", "people"], ["ledger", "history", "people"]):
            code, _, err = _run([*args, "--ledger", str(path)], capsys)
            assert code == 2 and match in err and err.count("\n") == 1
        assert (_digest(path) if path.exists() else None) == before
    # Locked: another process holds the write lock past --lock-timeout.
    holder = sqlite3.connect(ledger, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        code, _, err = _run([*query, "--ledger", str(ledger), "--lock-timeout", "0.2"], capsys)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert code == 2 and "locked" in err
    with Ledger(ledger) as book:
        assert book.status("people").releases == 0


def test_bad_init(setup: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _, ledger = setup
    for args, match in [
        (["people", "--epsilon", "1", "--delta", "0"], "already has a budget"),
        (["x", "--epsilon", "0", "--delta", "0"], "epsilon"),
        (["x", "--epsilon", "1", "--delta", "1.5"], "delta"),
    ]:
        code, _, err = _run(["ledger", "init", *args, "--ledger", str(ledger)], capsys)
        assert code == 2 and match in err
