"""The data site end to end: a real `veil site serve` process on 127.0.0.1, the
scientist's Client against it, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from sitekit import new_database, patients, populate, served

from veil.ledger import Ledger
from veil.site import Client, SiteError


def _story(url: str, tokens: dict) -> None:
    alice = Client(url, token=tokens["alice"])
    owner = Client(url, token=tokens["owner"])
    data = patients()

    # The catalogue: search by description, metadata with roles, the mock as a DataFrame.
    assert [d["name"] for d in alice.search("diabetes BMI")] == ["diabetes"]
    assert alice.search("no-such-word") == []
    roles = {c["name"]: c["role"] for c in alice.metadata("diabetes")["columns"]}
    assert roles == {
        "name": "identifier",
        "age": "quasi",
        "bmi": "sensitive",
        "sex": "quasi",
        "diabetic": "sensitive",
    }
    mock = alice.mock("diabetes")
    assert list(mock.columns) == data.columns and len(mock) == 40
    assert not set(mock["name"]) & set(data["name"].to_list())  # no real row

    # A DP mean, its interval covering the truth at 95% (one draw: fails 5% of runs at
    # most, so we check the looser fact that the value is within 3 interval half-widths).
    answer = alice.mean("diabetes", "bmi", bounds=(10, 60), epsilon=0.5)
    truth = float(data["bmi"].clip(10, 60).mean())
    half = (answer["ci_high"][0] - answer["ci_low"][0]) / 2
    assert abs(answer["values"][0] - truth) <= 3 * half
    grouped = alice.count("diabetes", epsilon=0.2, by="sex", delta=1e-9)
    assert sorted(grouped["labels"]) == ["F", "M"]
    status = alice.budget("diabetes")
    assert status["spender"] == "alice" and status["epsilon_spent"] == pytest.approx(0.7)
    assert "ledger" not in status

    # A code request: pending, run by the owner (result hidden from the scientist),
    # approved, then released.
    def analysis(df):
        return {"rows": len(df), "mean_age": round(float(df["age"].mean()), 6)}

    job = alice.request_code("diabetes", analysis, description="row count and mean age")
    assert job["status"] == "pending" and job["result"] is None
    with pytest.raises(SiteError, match="pending"):
        alice.result(job["id"])
    ran = owner._call("POST", f"/code-requests/{job['id']}/run")
    assert ran["status"] == "ran" and ran["result"]["rows"] == len(data)
    assert alice.request(job["id"])["result"] is None  # seen by the owner only
    owner._call("POST", f"/code-requests/{job['id']}/approve")
    assert alice.result(job["id"]) == {
        "rows": len(data),
        "mean_age": round(float(data["age"].mean()), 6),
    }
    log = owner._call("GET", "/audit")
    actions = [e["action"] for e in log]
    assert actions[0] == "release" and actions.count("query") == 2
    assert log[0]["actor"] == "boss" and log[0]["detail"]["user"] == "alice"


def test_end_to_end_sqlite(tmp_path: Path) -> None:
    tokens = populate(tmp_path)
    with served(tmp_path) as url:
        _story(url, tokens)
    with Ledger(tmp_path / "veil-ledger.db") as book:
        history = book.history("diabetes", spender="alice")
    assert [r.what for r in history.records] == ["mean(bmi)", "count() by sex"]


def test_end_to_end_postgresql(tmp_path: Path, postgres: str) -> None:
    database = new_database(postgres)
    tokens = populate(tmp_path, database)
    assert not (tmp_path / "site.db").exists()  # the metadata went to PostgreSQL
    with served(tmp_path, database) as url:
        _story(url, tokens)
    from sqlalchemy import create_engine, text

    engine = create_engine(database)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM code_requests")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM audit WHERE action='query'")).scalar() == 2
    engine.dispose()


def test_mock_rows_are_not_real_rows(site_state) -> None:
    state, _ = site_state
    real = pl.read_parquet(state / "data" / "diabetes.parquet")
    mock = pl.read_parquet(state / "mocks" / "diabetes.parquet")
    assert mock.join(real, on=real.columns, how="inner").height == 0
