"""`veil site`: the owner's commands, their one-line errors (exit 2) and what they write."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import polars as pl
import pytest
from sitekit import mock_of, patients

from veil.cli.app import main
from veil.site import DataSite, SiteConfig
from veil.site.auth import Principal
from veil.site.code_requests import CodeSubmission, submit_request


def _veil(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    patients().write_csv(tmp_path / "patients.csv")
    mock_of(patients()).write_csv(tmp_path / "mock.csv")
    return tmp_path


def _add(capsys, folder: Path, *extra: str) -> tuple[int, str, str]:
    return _veil(
        capsys,
        "site",
        "add-dataset",
        "diabetes",
        str(folder / "patients.csv"),
        "--epsilon",
        "5",
        "--delta",
        "1e-6",
        "--identifier",
        "name",
        "-q",
        "age,sex",
        "-s",
        "diabetic",
        "--state",
        str(folder),
        *extra,
    )


def test_the_owner_s_commands_from_dataset_to_released_result(capsys, folder: Path) -> None:
    state = ["--state", str(folder)]
    code, out, _ = _add(
        capsys, folder, "--mock", str(folder / "mock.csv"), "--description", "Diabetes screening"
    )
    assert code == 0 and "registered" in out and "owner mock" in out
    code, token, _ = _veil(capsys, "site", "add-user", "alice", *state)
    token = token.strip()
    assert code == 0 and token.startswith("veil_")
    assert token.split("_", 2)[2].encode() not in (folder / "site.db").read_bytes()
    code, out, _ = _veil(
        capsys,
        "site",
        "budget",
        "diabetes",
        "alice",
        "--epsilon",
        "1",
        "--delta",
        "1e-7",
        "--json",
        *state,
    )
    assert code == 0 and json.loads(out)["spender"] == "alice"

    with DataSite(SiteConfig(state=folder)) as site:
        assert site.authenticate(token) == Principal("alice", "scientist")
        first = submit_request(
            site,
            Principal("alice", "scientist"),
            "diabetes",
            CodeSubmission(code="def analysis(df):\n    return len(df)\n"),
        )
        second = submit_request(
            site,
            Principal("alice", "scientist"),
            "diabetes",
            CodeSubmission(code="def analysis(df):\n    return 0\n"),
        )
    code, out, _ = _veil(capsys, "site", "requests", "--status", "pending", *state)
    assert code == 0 and [r["id"] for r in json.loads(out)] == [second["id"], first["id"]]
    code, out, _ = _veil(capsys, "site", "approve", str(first["id"]), "--yes", *state)
    assert code == 0 and '"result": 2000' in out and "approved" in out
    code, out, _ = _veil(capsys, "site", "deny", str(second["id"]), "--reason", "too vague", *state)
    assert code == 0 and "denied" in out
    code, out, _ = _veil(capsys, "site", "log", "--dataset", "diabetes", *state)
    actions = [e["action"] for e in json.loads(out)]
    assert actions[:2] == ["deny", "release"] and "add-dataset" in actions


def test_approve_asks_before_releasing(capsys, folder: Path, monkeypatch) -> None:
    _add(capsys, folder, "--mock", str(folder / "mock.csv"))
    with DataSite(SiteConfig(state=folder)) as site:
        site.add_user("alice")
        job = submit_request(
            site,
            Principal("alice", "scientist"),
            "diabetes",
            CodeSubmission(code="def analysis(df):\n    return 1\n"),
        )
    monkeypatch.setattr("typer.confirm", lambda *a, **k: False)
    code, out, err = _veil(capsys, "site", "approve", str(job["id"]), "--state", str(folder))
    assert code == 2 and '"result": 1' in out and "not released" in err
    with DataSite(SiteConfig(state=folder)) as site:
        assert site.log(limit=1)[0]["action"] == "run"  # ran and shown, never released


def test_a_synthetic_mock_is_charged_to_the_dataset(capsys, folder: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a small epsilon: the synthesizer says so
        code, out, _ = _add(
            capsys,
            folder,
            "--mock-epsilon",
            "1",
            "--mock-rows",
            "50",
            "--bounds",
            "age=0:120,bmi=10:60",
            "--seed",
            "3",
        )
    assert code == 0 and "synthetic mock" in out
    mock = pl.read_parquet(folder / "mocks" / "diabetes.parquet")
    assert mock.height == 50 and mock.columns == patients().columns
    assert mock["name"].str.starts_with("mock-").all()
    code, out, _ = _veil(capsys, "site", "budget", "diabetes", "--json", "--state", str(folder))
    assert json.loads(out)["epsilon_spent"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--mock", "MOCK", "-s", "weight"], "column 'weight' not found"),
        (["--mock-epsilon", "1", "--bounds", "age=0:120"], "needs public bounds"),
        (["--mock-epsilon", "1", "--bounds", "age=0-120"], "--bounds expects COLUMN=LOW:HIGH"),
        ([], "give the dataset a mock"),
        (["--mock", "MOCK", "--epsilon", "-1"], "epsilon"),
    ],
)
def test_add_dataset_refuses_bad_input_in_one_line_and_registers_nothing(
    capsys, folder: Path, args: list[str], says: str
) -> None:
    args = [str(folder / "mock.csv") if a == "MOCK" else a for a in args]
    code, _, err = _add(capsys, folder, *args)
    assert code == 2 and says in err and err.count("\n") == 1
    assert not (folder / "data" / "diabetes.parquet").exists()
    code, _, err = _veil(capsys, "site", "budget", "diabetes", "--state", str(folder))
    assert code == 2 and "unknown dataset 'diabetes'" in err


def test_other_mistakes_are_one_line(capsys, folder: Path) -> None:
    missing = str(folder / "nowhere")
    code, _, err = _veil(capsys, "site", "add-user", "bob", "--state", missing)
    assert code == 2 and "does not exist" in err
    code, _, err = _veil(capsys, "site", "approve", "7", "--yes", "--state", str(folder))
    assert code == 2 and "no code request 7" in err
    code, _, err = _veil(capsys, "site", "add-user", "no spaces", "--state", str(folder))
    assert code == 2 and "user name must be" in err
    code, _, err = _veil(capsys, "site", "serve", "--port", "0", "--state", str(folder))
    assert code == 2 and "--port" in err
    code, _, err = _veil(
        capsys, "site", "log", "--database", "nosuchdriver://x", "--state", str(folder)
    )
    assert code == 2 and "cannot be used" in err
