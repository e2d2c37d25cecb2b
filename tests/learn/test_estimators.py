"""The DP classifiers for tables: they learn, charge the ledger first, refuse bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from veil.errors import BudgetExceededError, DataError, ParameterError
from veil.learn import DPLogisticRegression, DPMLPClassifier
from veil.learn.model_io import load_model, save_model
from veil.ledger import Ledger


def _separable(n: int = 3000, seed: int = 0) -> tuple[pl.DataFrame, np.ndarray]:
    """Two numeric features and one category; the label is a clear function of them."""
    rng = np.random.default_rng(seed)
    x1 = rng.uniform(-1, 1, n)
    x2 = rng.uniform(-1, 1, n)
    group = rng.choice(["a", "b"], n)
    score = 2 * x1 - x2 + np.where(group == "a", 0.8, -0.8)
    label = np.where(score > 0, "yes", "no")
    return pl.DataFrame({"x1": x1, "x2": x2, "group": group}), label


BOUNDS = {"x1": (-1, 1), "x2": (-1, 1)}


@pytest.mark.parametrize("cls", [DPLogisticRegression, DPMLPClassifier])
def test_learns_a_separable_task_privately(cls: type) -> None:
    X, y = _separable()
    params = {"hidden_layer_sizes": (16,)} if cls is DPMLPClassifier else {}
    model = cls(**params, epsilon=3.0, delta=1e-5, bounds=BOUNDS, epochs=5, batch_size=128, seed=0)
    model.fit(X, y)
    X_test, y_test = _separable(1000, seed=1)
    # A guess scores 50%; the task is learnable to ~100%. Noise at epsilon 3 on 3,000
    # rows costs a few points, never 30.
    assert model.score(X_test, y_test) > 0.8
    proba = model.predict_proba(X_test)
    assert proba.shape == (1000, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-9)
    assert set(model.predict(X_test)) <= {"no", "yes"}
    assert list(model.classes_) == ["no", "yes"]
    assert model.privacy_.epsilon <= 3.0 + 1e-9
    assert model.privacy_.epsilon > 2.9  # calibrated to the target, not far under it
    assert any("'group'" in note and "public" in note for note in model.public_)


def test_bounds_estimation_is_charged_within_epsilon() -> None:
    X, y = _separable()
    model = DPLogisticRegression(epsilon=2.0, epochs=2, bounds_fraction=0.1, seed=0).fit(X, y)
    specs = {s.name: s for s in model.encoder_.specs}
    assert specs["x1"].source == "dp" and specs["x2"].source == "dp"
    assert specs["x1"].epsilon == pytest.approx(0.1)  # 10% of 2, split over two columns
    assert model.privacy_.epsilon <= 2.0 + 1e-9


def test_ledger_reserved_before_training_and_refusal_trains_nothing(tmp_path: Path) -> None:
    X, y = _separable(1000)
    path = tmp_path / "ledger.db"
    with Ledger(path, create=True) as book:
        book.add_dataset("d", epsilon=2.5, delta=1e-5)
    seen = []

    def progress(epoch: int, metrics: dict) -> None:
        # Called during training: the spend must already be in the ledger.
        with Ledger(path) as book:
            seen.append(book.status("d").epsilon_spent)

    model = DPLogisticRegression(
        epsilon=2.0, bounds=BOUNDS, epochs=2, ledger=path, dataset="d", progress=progress
    )
    model.fit(X, y)
    # The ledger composes the entry with its best accountant: at most the loss stated.
    eps = model.privacy_.epsilon
    assert seen and all(0.9 * eps < s <= eps + 1e-9 for s in seen)
    with Ledger(path) as book:
        assert book.history("d").records[-1].state == "finished"
    again = DPLogisticRegression(epsilon=2.0, bounds=BOUNDS, epochs=2, ledger=path, dataset="d")
    with pytest.raises(BudgetExceededError):
        again.fit(X, y)
    assert not hasattr(again, "model_")


def test_bad_input() -> None:
    X, y = _separable(200)
    with pytest.raises(DataError, match="missing value"):
        DPLogisticRegression(bounds=BOUNDS).fit(X, np.where(np.arange(200) == 3, None, y))
    with pytest.raises(DataError, match="single class"):
        DPLogisticRegression(bounds=BOUNDS).fit(X, np.full(200, "yes"))
    with pytest.raises(ParameterError, match="epsilon"):
        DPLogisticRegression(epsilon=0, bounds=BOUNDS).fit(X, y)
    with pytest.raises(ParameterError, match="delta > 0"):
        DPLogisticRegression(delta=0, bounds=BOUNDS).fit(X, y)
    with pytest.raises(ParameterError, match="not fitted"):
        DPLogisticRegression().predict(X)


def test_save_and_load(tmp_path: Path) -> None:
    X, y = _separable(1000)
    model = DPMLPClassifier((8,), epsilon=4.0, bounds=BOUNDS, epochs=2, seed=0).fit(X, y)
    path = tmp_path / "model.pt"
    save_model(model, path)
    again = load_model(path)
    np.testing.assert_allclose(again.predict_proba(X), model.predict_proba(X), rtol=1e-6)
    assert again.privacy_.epsilon == pytest.approx(model.privacy_.epsilon)
    assert again.public_ == model.public_
    not_a_model = tmp_path / "x.pt"
    not_a_model.write_text("hello")
    with pytest.raises(DataError, match="not a veil model file"):
        load_model(not_a_model)
