"""`veil crypto` commands: outputs, and every bad input -> one line on stderr, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import polars as pl
import pytest
from sklearn.linear_model import LogisticRegression

from veil.cli.app import main


def _one_line_error(capsys, pattern: str) -> None:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    assert pattern in err, err


@pytest.fixture
def owners(tmp_path: Path) -> list[Path]:
    paths = []
    for k, rows in enumerate([[(1, 10.0), (2, 20.0)], [(3, 30.0)], [(4, 40.0)]]):
        p = tmp_path / f"site{k}.csv"
        p.write_text("visits,cost\n" + "".join(f"{a},{b}\n" for a, b in rows))
        paths.append(p)
    return paths


def test_mpc_sum_prints_and_writes_totals(owners, tmp_path, capsys) -> None:
    out = tmp_path / "totals.csv"
    args = ["crypto", "mpc-sum", *map(str, owners), "-c", "visits,cost", "-o", str(out), "--json"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["count"] == 4 and result["owners"] == 3
    assert result["sums"] == {"visits": 10.0, "cost": 100.0}
    table = pl.read_csv(out)
    assert table["column"].to_list() == ["visits", "cost"]
    assert table["mean"].to_list() == [2.5, 25.0]


@pytest.mark.parametrize(
    ("extra", "pattern"),
    [
        (["-c", "visits,missing"], "column 'missing' not found"),
        (["-c", " , "], "--columns names no column"),
        (["-c", "visits", "--timeout", "0"], "--timeout must be > 0"),
    ],
)
def test_mpc_sum_bad_input(owners, capsys, extra, pattern) -> None:
    assert main(["crypto", "mpc-sum", *map(str, owners), *extra]) == 2
    _one_line_error(capsys, pattern)


def test_mpc_sum_refuses_bad_files_and_outputs_before_any_party_starts(owners, capsys) -> None:
    assert main(["crypto", "mpc-sum", str(owners[0]), "-c", "visits"]) == 2
    _one_line_error(capsys, "at least 2 owners")
    assert main(["crypto", "mpc-sum", str(owners[0]), "nope.csv", "-c", "visits"]) == 2
    _one_line_error(capsys, "does not exist")
    before = owners[1].read_text()
    args = ["crypto", "mpc-sum", *map(str, owners), "-c", "visits", "-o", str(owners[1])]
    assert main(args) == 2
    _one_line_error(capsys, "is the input file")
    assert owners[1].read_text() == before


def test_mpc_predict_scores_with_a_shared_logistic_model(tmp_path, capsys) -> None:
    import pandas as pd

    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    est = LogisticRegression().fit(X, (X["a"] + X["b"] > 0).astype(int))
    joblib.dump(est, tmp_path / "m.joblib")
    X[["c", "a", "b"]].to_csv(tmp_path / "rows.csv", index=False)  # columns picked by name
    out = tmp_path / "p.csv"
    args = ["crypto", "mpc-predict", str(tmp_path / "m.joblib"), str(tmp_path / "rows.csv")]
    assert main([*args, "-o", str(out), "--parties", "2"]) == 0
    got = pl.read_csv(out)["probability"].to_numpy()
    # Rounding inputs and weights to 2^-16 and one truncation move a score by well
    # under 1e-4 here (sum |x| 2^-17 + sum |w| 2^-17 + 2^-16); probabilities by a quarter of it.
    np.testing.assert_allclose(got, est.predict_proba(X)[:, 1], atol=1e-4)
    assert main([*args, "-o", str(out), "--parties", "5"]) == 2
    _one_line_error(capsys, "n_parties must be 2 or 3")
    (tmp_path / "short.csv").write_text("a,b\n1,2\n")
    args[-1] = str(tmp_path / "short.csv")
    assert main([*args, "-o", str(out)]) == 2
    _one_line_error(capsys, "column 'c' the model reads is not in")


def test_predict_bad_input(tmp_path, capsys) -> None:
    data = tmp_path / "rows.csv"
    data.write_text("a,b\n1,2\n")
    assert main(["crypto", "predict", str(data), "--server", "http://x", "-o", str(data)]) == 2
    _one_line_error(capsys, "is the input file")
    out = tmp_path / "out.csv"
    args = ["crypto", "predict", str(data), "--server", "http://127.0.0.1:9", "-o", str(out)]
    assert main([*args, "--timeout", "2"]) == 2
    _one_line_error(capsys, "cannot reach the HE server")
    assert not out.exists()
    args = [
        "crypto",
        "predict",
        str(tmp_path / "missing.csv"),
        "--server",
        "http://x",
        "-o",
        str(out),
    ]
    assert main(args) == 2
    _one_line_error(capsys, "missing.csv")


def test_serve_bad_input(tmp_path, capsys) -> None:
    assert main(["crypto", "serve", str(tmp_path / "none.joblib")]) == 2
    _one_line_error(capsys, "does not exist")
    bad = tmp_path / "bad.joblib"
    bad.write_text("junk")
    assert main(["crypto", "serve", str(bad)]) == 2
    _one_line_error(capsys, "not a joblib model file")
    rng = np.random.default_rng(0)
    model = tmp_path / "m.joblib"
    joblib.dump(LogisticRegression().fit(rng.normal(size=(20, 2)), np.arange(20) % 2), model)
    assert main(["crypto", "serve", str(model), "--port", "70000"]) == 2
    _one_line_error(capsys, "--port must be in")
    assert main(["crypto", "serve", str(model), "--server-sigmoid", "three"]) == 2
    _one_line_error(capsys, "--server-sigmoid must be DEGREE,BOUND")


def test_he_commands_without_tenseal_say_which_extra_to_install(
    monkeypatch, tmp_path, capsys
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "tenseal", None)  # what a missing package looks like
    data = tmp_path / "rows.csv"
    data.write_text("a\n1\n")
    args = ["crypto", "predict", str(data), "--server", "http://x", "-o", str(tmp_path / "o.csv")]
    assert main(args) == 2
    _one_line_error(capsys, "pip install 'veil[crypto]'")
    assert main(["crypto", "serve", str(data)]) == 2
    _one_line_error(capsys, "needs TenSEAL")
