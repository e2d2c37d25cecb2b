"""SafePub: its parameters against the formulas, its sampling statistically, its ledger entry."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pycanon.anonymity as pycanon
import pytest
from scipy import stats

from veil.anonymize import SafePub, safepub_parameters
from veil.cli.app import main
from veil.errors import BudgetExceededError, ParameterError
from veil.ledger import Ledger

from .conftest import ADULT_QUASI


def _d_brute_force(k: int, epsilon: float, beta: float, upto: int = 60_000) -> float:
    """d(k) of Li, Qardaji and Su 2012 by scanning n far beyond where the bound stops."""
    gamma = (math.exp(epsilon) - 1 + beta) / math.exp(epsilon)
    n = np.arange(max(1, math.ceil(k / gamma - 1)), upto)
    return float(stats.binom.sf(np.floor(n * gamma), n, beta).max())


@pytest.mark.parametrize(
    ("epsilon", "delta", "share"),
    [(1.0, 1e-5, 0.1), (1.0, 1e-6, 0.1), (0.5, 1e-5, 0.2), (2.0, 1e-5, 0.1), (0.1, 1e-4, 0.5)],
)
def test_parameters_follow_the_formulas(epsilon, delta, share) -> None:
    p = safepub_parameters(epsilon, delta, search_share=share, steps=50)
    # the budget: epsilon = epsilon_anon + epsilon_search, delta all to the anonymization
    assert p.epsilon_anon + p.epsilon_search == pytest.approx(epsilon, abs=1e-15)
    assert p.epsilon_search == pytest.approx(share * epsilon)
    assert p.epsilon_per_selection * (p.steps + 1) == pytest.approx(p.epsilon_search)
    assert p.beta == pytest.approx(1 - math.exp(-p.epsilon_anon))
    # k is the smallest integer whose d(k) is at most delta
    assert _d_brute_force(p.k, p.epsilon_anon, p.beta) <= delta
    assert _d_brute_force(p.k - 1, p.epsilon_anon, p.beta) > delta


def test_the_paper_s_example_budget() -> None:
    # epsilon = 1 with epsilon_search = 0.1 (SafePub's experiments): beta = 1 - e^-0.9.
    p = safepub_parameters(1.0, 1e-5, search_share=0.1)
    assert p.beta == pytest.approx(0.593430340259)
    assert p.k == 58


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.db"
    with Ledger(path, create=True) as book:
        book.add_dataset("people", epsilon=50.0, delta=1e-3)
    return path


def _one_class_table(tmp_path: Path, n: int) -> tuple[pl.DataFrame, dict[str, Path]]:
    hierarchy = tmp_path / "x.csv"
    hierarchy.write_text("a,*\n")
    return pl.DataFrame({"x": ["a"] * n, "y": np.arange(n)}), {"x": hierarchy}


def test_row_sampling_is_binomial(tmp_path: Path, ledger: Path) -> None:
    # One class holding every row: nothing is suppressed, so the released rows are the
    # sampled rows, Binomial(n, beta) in total over independent runs. A two-sided binomial
    # test rejecting at p < 1e-6 fails a correct sampler once in a million runs; with
    # 5 runs of 20,000 rows it detects a sampling probability off by 0.008 or more.
    n, runs = 20_000, 5
    table, hierarchies = _one_class_table(tmp_path, n)
    total, beta = 0, None
    for _ in range(runs):
        safepub = SafePub(1.0, 1e-5, hierarchies, steps=2)
        out = safepub.fit_transform(table, "x", dataset="people", ledger=ledger)
        beta = safepub.parameters_.beta
        total += out.height
        assert out["y"].is_unique().all()  # rows are kept or dropped, never repeated
    assert stats.binomtest(total, n * runs, beta).pvalue > 1e-6


def test_ledger_records_the_total_loss_and_its_split(tmp_path: Path, ledger: Path) -> None:
    table, hierarchies = _one_class_table(tmp_path, 500)
    safepub = SafePub(2.0, 1e-6, hierarchies, search_share=0.25, steps=3)
    safepub.fit(table, "x", dataset="people", ledger=ledger)
    with Ledger(ledger) as book:
        (record,) = book.history("people").records
    p = safepub_parameters(2.0, 1e-6, search_share=0.25, steps=3)
    assert record.state == "finished" and record.mechanism == "SafePub"
    assert record.loss.epsilon == pytest.approx(p.epsilon_anon + p.epsilon_search)
    assert record.loss.epsilon == pytest.approx(2.0) and record.loss.delta == 1e-6
    assert record.parameters["epsilon_anon"] == pytest.approx(1.5)
    assert record.parameters["epsilon_search"] == pytest.approx(0.5)
    assert record.parameters["k"] == p.k and record.parameters["beta"] == pytest.approx(p.beta)
    assert record.result["rows_out"] == safepub.result_.rows_out


def test_over_budget_draws_nothing(tmp_path: Path, ledger: Path) -> None:
    table, hierarchies = _one_class_table(tmp_path, 100)
    with Ledger(ledger) as book:
        book.add_dataset("small", epsilon=0.5, delta=1e-3)
    with pytest.raises(BudgetExceededError):
        SafePub(1.0, 1e-5, hierarchies).fit(table, "x", dataset="small", ledger=ledger)
    with Ledger(ledger) as book:
        assert book.history("small").records == []


def test_adult_release_is_k_anonymous(adult, adult_hierarchies, ledger) -> None:
    safepub = SafePub(1.0, 1e-5, adult_hierarchies, steps=30)
    out = safepub.fit_transform(adult, ADULT_QUASI, dataset="people", ledger=ledger)
    k = safepub.parameters_.k
    assert out.height > 0
    assert pycanon.k_anonymity(out.select(ADULT_QUASI).to_pandas(), ADULT_QUASI) >= k
    assert safepub.result_.smallest_class >= k
    assert set(safepub.levels_) == set(ADULT_QUASI)
    assert out.height < adult.height  # sampled: about beta of the rows at most


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epsilon": 0.0}, "epsilon must be a finite number > 0"),
        ({"epsilon": -1.0}, "epsilon must be a finite number > 0"),
        ({"delta": 0.0}, r"delta must be in \(0, 1\)"),
        ({"search_share": 1.0}, "search_share"),
        ({"steps": 0}, "steps must be an integer >= 1"),
        ({"epsilon": 60.0}, "use a smaller epsilon"),
        ({"hierarchies": {}}, "explicit hierarchy for every quasi-identifier"),
        ({"hierarchies": {"x": {"a": "b"}}}, "as a table"),
    ],
)
def test_bad_parameters_are_refused_before_any_spend(tmp_path, ledger, kwargs, message) -> None:
    table, hierarchies = _one_class_table(tmp_path, 50)
    args = {"epsilon": 1.0, "delta": 1e-5, "hierarchies": hierarchies, **kwargs}
    with pytest.raises(ParameterError, match=message):
        SafePub(**args).fit(table, "x", dataset="people", ledger=ledger)
    with Ledger(ledger) as book:
        assert book.history("people").records == []


def test_cli_safepub(tmp_path: Path, ledger: Path, capsys) -> None:
    table, hierarchies = _one_class_table(tmp_path, 300)
    source, out = tmp_path / "t.csv", tmp_path / "out.csv"
    table.write_csv(source)
    args = ["anonymize", str(source), "-q", "x", "--hierarchy", f"x={hierarchies['x']}",
            "--dp-epsilon", "1", "--dp-delta", "1e-5", "--dataset", "people",
            "--ledger", str(ledger), "-o", str(out), "--json"]  # fmt: skip
    assert main(args) == 0
    assert '"method": "SafePub"' in capsys.readouterr().out
    assert pl.read_csv(out).height > 0
    bad = [a if a != "1" else "0" for a in args]
    assert main(bad) == 2
    assert "epsilon must be a finite number > 0" in capsys.readouterr().err
    assert main([*args[:-3], "-o", str(tmp_path), "--json"]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert main([*args, "--k", "5"]) == 2
    assert "drop the other privacy models" in capsys.readouterr().err
