"""`veil ledger grant`, spenders in `show`/`history`/`dp query`, and unfinished entries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from veil.cli.app import main
from veil.ledger import Ledger
from veil.privacy import PrivacyLoss


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    path = tmp_path / "l.db"
    with Ledger(path, create=True) as book:
        book.add_dataset("people", epsilon=1.0, delta=1e-6)
    return path


def test_grant_and_spend_as_a_spender(
    ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "people.csv"
    data.write_text("age\n" + "\n".join(str(20 + i % 50) for i in range(300)) + "\n")
    at = ["--ledger", str(ledger)]
    code, out, _ = _run(["ledger", "grant", "people", "alice", "--epsilon", "0.3",
                         "--delta", "0", *at, "--json"], capsys)  # fmt: skip
    assert code == 0 and json.loads(out)["spender"] == "alice"
    query = ["dp", "query", str(data), "--dataset", "people", "--count", "--spender", "alice", *at]
    assert _run([*query, "--epsilon", "0.2"], capsys)[0] == 0
    code, _, err = _run([*query, "--epsilon", "0.2"], capsys)
    assert code == 2 and "spender 'alice' of dataset 'people'" in err and err.count("\n") == 1
    code, out, _ = _run(["ledger", "show", "people", "--spender", "alice", *at, "--json"], capsys)
    shown = json.loads(out)
    assert shown["epsilon"] == 0.3 and shown["epsilon_spent"] == pytest.approx(0.2)
    code, out, _ = _run(["ledger", "history", "people", *at, "--json"], capsys)
    assert [(e["spender"], e["state"]) for e in json.loads(out)["history"]] == [
        ("alice", "finished")
    ]
    code, _, err = _run(["ledger", "grant", "people", "bob", "--epsilon", "5",
                         "--delta", "0", *at], capsys)  # fmt: skip
    assert code == 2 and "has only epsilon=1" in err


def test_history_shows_unfinished_reservations(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Ledger(ledger) as book:
        book.reserve("people", PrivacyLoss.pure(0.4), what="DP-SGD fit", mechanism="DP-SGD")
    code, out, _ = _run(["ledger", "history", "people", "--ledger", str(ledger)], capsys)
    assert code == 0 and "Reserved and unfinished" in out and "entries 1." in out
    code, out, _ = _run(["ledger", "show", "people", "--ledger", str(ledger)], capsys)
    assert code == 0 and "1 of the 1 releases are reserved" in " ".join(out.split())
