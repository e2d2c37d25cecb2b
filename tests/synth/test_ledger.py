"""The synthesizers and the ledger: reserved before measuring, refused before any noise."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from veil.errors import BudgetExceededError
from veil.ledger import Ledger
from veil.privacy import PrivacyLoss, compose
from veil.synth import IndependentMarginals
from veil.synth.measurements import Meter, calibrate_rho

from .conftest import BOUNDS, CATEGORIES


@pytest.fixture
def book(tmp_path: Path) -> Ledger:
    ledger = Ledger(tmp_path / "ledger.db", create=True)
    ledger.add_dataset("toy", epsilon=1.0, delta=1e-6)
    yield ledger
    ledger.close()


def test_reserved_before_the_first_measurement(
    book: Ledger, table: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    measure = Meter.measure

    def spy(self: Meter, *args: object, **kwargs: object) -> object:
        seen.append(book.history("toy").records[-1].state)
        return measure(self, *args, **kwargs)

    monkeypatch.setattr(Meter, "measure", spy)
    IndependentMarginals(
        epsilon=0.6, delta=1e-6, bounds=BOUNDS, categories=CATEGORIES, ledger=book, dataset="toy"
    ).fit(table)
    assert seen and set(seen) == {"reserved"}
    record = book.history("toy").records[-1]
    assert record.state == "finished"
    # At the dataset's own delta the ledger spends exactly the epsilon asked for.
    assert book.status("toy").epsilon_spent == pytest.approx(0.6, rel=1e-6)


def test_private_selection_is_charged_as_epsilon_delta(book: Ledger, table: pl.DataFrame) -> None:
    # Text columns without categories are selected privately: (epsilon, delta)-DP.
    IndependentMarginals(epsilon=0.5, delta=1e-7, ledger=book, dataset="toy").fit(table)
    record = book.history("toy").records[-1]
    assert record.loss.epsilon == 0.5 and record.loss.delta == 1e-7 and record.loss.rho is None
    assert book.status("toy").epsilon_spent == pytest.approx(0.5, rel=1e-9)


def test_refused_budget_measures_nothing(
    book: Ledger, table: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("noise drawn for a refused release")

    monkeypatch.setattr(Meter, "measure", forbidden)
    monkeypatch.setattr(Meter, "noisy_counts", forbidden)
    with pytest.raises(BudgetExceededError, match="refused before any noise"):
        IndependentMarginals(epsilon=2.0, ledger=book, dataset="toy").fit(table)
    assert book.history("toy").records == []


def test_failed_fit_gives_the_reservation_back(
    book: Ledger, table: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(IndependentMarginals, "_fit_model", broken)
    with pytest.raises(RuntimeError):
        IndependentMarginals(
            epsilon=0.5, bounds=BOUNDS, categories=CATEGORIES, ledger=book, dataset="toy"
        ).fit(table)
    assert book.history("toy").records[-1].state == "cancelled"


@pytest.mark.parametrize(("epsilon", "delta"), [(0.1, 1e-9), (1.0, 1e-6), (3.0, 1e-9), (8.0, 1e-5)])
def test_calibrated_rho_spends_the_epsilon_asked(epsilon: float, delta: float) -> None:
    rho = calibrate_rho(epsilon, delta)
    spent = compose([PrivacyLoss.zcdp(rho)], delta).epsilon
    assert spent <= epsilon
    assert spent == pytest.approx(epsilon, rel=1e-6)
    # A larger rho would overspend: it is the largest that fits.
    assert compose([PrivacyLoss.zcdp(rho * (1 + 1e-4))], delta).epsilon > epsilon
