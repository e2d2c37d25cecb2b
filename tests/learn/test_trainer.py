"""DPTrainer: the noise it adds, bad input, the ledger around training, and that it learns."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from veil.errors import BudgetExceededError, DataError, ParameterError
from veil.learn import DPTrainer, TrainingResult, train_non_private
from veil.ledger import Ledger
from veil.privacy import PoissonSampledGaussianEvent


def _separable(n: int = 1500, d: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X[:, 0] - X[:, 1] > 0).astype(np.int64)
    return X, y


def _mlp(d: int = 8) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(d, 16), nn.ReLU(), nn.Linear(16, 2))


def _zero_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return 0.0 * out.sum(1)  # every per-sample gradient is exactly zero


def test_noise_is_gaussian_with_std_sigma_c_over_expected_batch() -> None:
    """One step on all rows (q = 1) with zero gradients: the update is the noise alone.

    With SGD the first step moves each parameter by -lr * sigma * C * z / B. The
    40,200 coordinates are tested against N(0, (sigma C / B)^2) by Kolmogorov-Smirnov,
    rejecting at p < 1e-6 (a false failure once in a million runs). At that level
    the critical distance is about 0.0135, so a standard deviation off by 6% or
    more (a wrong divisor, C or sigma) is caught (its largest CDF distance is
    about 0.24 times the relative error).
    """
    torch.manual_seed(0)
    model = nn.Linear(200, 200)
    before = torch.cat([p.detach().clone().reshape(-1) for p in model.parameters()])
    n, sigma, c, lr = 50, 1.7, 0.3, 0.1
    X, y = np.random.default_rng(0).normal(size=(n, 200)), np.zeros((n, 200))
    trainer = DPTrainer(
        noise_multiplier=sigma,
        max_grad_norm=c,
        batch_size=n,
        epochs=1,
        learning_rate=lr,
        optimizer="sgd",
        loss=_zero_loss,
    )
    result = trainer.fit(model, X, y)
    assert result.steps == 1 and result.sampling_probability == 1.0
    after = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    z = ((before - after) / lr).double().numpy()
    assert stats.kstest(z, "norm", args=(0.0, sigma * c / n)).pvalue > 1e-6


def test_result_and_epsilon() -> None:
    X, y = _separable(400)
    result = DPTrainer(noise_multiplier=1.0, batch_size=40, epochs=2, learning_rate=1e-2).fit(
        _mlp(), X, y
    )
    assert isinstance(result, TrainingResult)
    assert (result.steps, result.sampling_probability) == (20, 0.1)
    assert result.event == PoissonSampledGaussianEvent(1.0, 0.1, 20)
    assert result.loss.epsilon == result.epsilon and result.loss.delta == 1e-5
    assert [h["epoch"] for h in result.history] == [1, 2]
    d = result.to_dict()
    assert d["epsilon"] == result.epsilon and "model" not in d
    assert result.samples_per_second > 0 and result.reservation_id is None


def test_a_small_dp_model_learns() -> None:
    """Separable data (the sign of x0 - x1) at sigma 1.0 (epsilon under 5): accuracy
    well above chance. Over 30 runs the accuracy was 0.978 on average (sd 0.007,
    lowest 0.962); the bound 0.8 is over 25 standard deviations below that mean.
    """
    X, y = _separable(2000, seed=1)
    model = _mlp()
    result = DPTrainer(
        noise_multiplier=1.0, max_grad_norm=1.0, batch_size=100, epochs=4, learning_rate=2e-2
    ).fit(model, X[:1500], y[:1500])
    assert result.epsilon < 5
    with torch.no_grad():
        accuracy = (model(torch.from_numpy(X[1500:])).argmax(1).numpy() == y[1500:]).mean()
    assert accuracy > 0.8


def test_non_private_baseline_learns() -> None:
    X, y = _separable(1000, seed=2)
    model = train_non_private(_mlp(), X, y, epochs=3, batch_size=50, learning_rate=1e-2, seed=0)
    with torch.no_grad():
        assert (model(torch.from_numpy(X)).argmax(1).numpy() == y).mean() > 0.9


def test_batch_norm_refused_naming_group_norm() -> None:
    model = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
    X, y = _separable(100)
    with pytest.raises(ParameterError, match=r"GroupNorm\(num_groups, 8\)"):
        DPTrainer(noise_multiplier=1.0, batch_size=10).fit(model, X, y)


def test_nan_in_x_or_y_is_a_data_error() -> None:
    X, y = _separable(100)
    bad = X.copy()
    bad[3, 2] = np.nan
    trainer = DPTrainer(noise_multiplier=1.0, batch_size=10, epochs=1)
    with pytest.raises(DataError, match="NaN"):
        trainer.fit(_mlp(), bad, y)
    with pytest.raises(DataError, match="NaN"):
        trainer.fit(_mlp(), X, np.where(np.arange(100) == 5, np.nan, y.astype(float)))
    with pytest.raises(DataError, match="rows"):
        trainer.fit(_mlp(), X, y[:50])


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({}, "exactly one of epsilon"),
        ({"epsilon": 1.0, "noise_multiplier": 1.0}, "exactly one of epsilon"),
        ({"noise_multiplier": 1.0, "batch_size": 0}, "batch_size"),
        ({"noise_multiplier": 1.0, "optimizer": "rmsprop"}, "optimizer"),
        ({"noise_multiplier": 1.0, "loss": "hinge"}, "loss"),
        ({"noise_multiplier": 1.0, "accountant": "nope"}, "accountant"),
        ({"noise_multiplier": 1.0, "ledger": "x.db"}, "dataset"),
        ({"noise_multiplier": 1.0, "delta": 0.0}, "delta"),
        ({"noise_multiplier": 1.0, "clipping": "ghost"}, "clipping"),
    ],
)
def test_bad_parameters(kwargs: dict, word: str) -> None:
    with pytest.raises(ParameterError, match=word):
        DPTrainer(**kwargs)


def test_functorch_clipping_and_bce_loss_train() -> None:
    X, y = _separable(300)
    model = nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 1))
    result = DPTrainer(
        noise_multiplier=1.0, batch_size=30, epochs=1, loss="bce", clipping="functorch"
    ).fit(model, X, y.astype(np.float32))
    assert result.steps == 10 and np.isfinite(result.history[0]["loss"])


def test_batch_larger_than_data() -> None:
    X, y = _separable(30)
    with pytest.raises(ParameterError, match="batch_size"):
        DPTrainer(noise_multiplier=1.0, batch_size=64).fit(_mlp(), X, y)


def _ledger(tmp_path: Path, epsilon: float) -> Path:
    path = tmp_path / "ledger.db"
    with Ledger(path, create=True) as book:
        book.add_dataset("patients", epsilon=epsilon, delta=1e-5)
    return path


def test_ledger_reserved_before_the_first_step_and_finished_after(tmp_path: Path) -> None:
    path = _ledger(tmp_path, 10.0)
    seen: list[tuple[int, int, float]] = []

    def progress(epoch: int, metrics: dict) -> None:
        with Ledger(path) as book:
            status = book.status("patients")
        seen.append((epoch, status.reserved, status.epsilon_spent))

    X, y = _separable(200)
    result = DPTrainer(
        noise_multiplier=1.0,
        batch_size=20,
        epochs=2,
        ledger=path,
        dataset="patients",
        progress=progress,
    ).fit(_mlp(), X, y)
    assert seen[0][0] == 0 and seen[0][1] == 1  # reserved before any step ran
    assert seen[0][2] == pytest.approx(result.epsilon, rel=1e-6)
    with Ledger(path) as book:
        status = book.status("patients")
        record = book.history("patients").records[-1]
    assert status.reserved == 0 and status.releases == 1
    assert record.state == "finished" and record.id == result.reservation_id
    assert record.mechanism == "DP-SGD (Poisson-sampled Gaussian)"
    assert record.result["epsilon"] == result.epsilon


def test_budget_exceeded_trains_nothing(tmp_path: Path) -> None:
    path = _ledger(tmp_path, 0.5)
    model = _mlp()
    before = [p.detach().clone() for p in model.parameters()]
    X, y = _separable(200)
    trainer = DPTrainer(
        noise_multiplier=0.8, batch_size=20, epochs=3, ledger=path, dataset="patients"
    )
    with pytest.raises(BudgetExceededError):
        trainer.fit(model, X, y)
    for b, p in zip(before, model.parameters(), strict=True):
        assert torch.equal(b, p)
    with Ledger(path) as book:
        assert book.status("patients").releases == 0


def test_run_killed_midway_stays_counted(tmp_path: Path) -> None:
    path = _ledger(tmp_path, 10.0)
    script = textwrap.dedent(
        f"""
        import os, signal
        import numpy as np, torch
        from torch import nn
        from veil.learn import DPTrainer

        def die(epoch, metrics):
            if epoch == 1:
                os.kill(os.getpid(), signal.SIGKILL)

        X = np.random.default_rng(0).normal(size=(200, 4)).astype(np.float32)
        y = (X[:, 0] > 0).astype(np.int64)
        DPTrainer(noise_multiplier=1.0, batch_size=20, epochs=5, ledger={str(path)!r},
                  dataset="patients", progress=die).fit(nn.Linear(4, 2), X, y)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    with Ledger(path) as book:
        status = book.status("patients")
    assert status.reserved == 1 and status.epsilon_spent > 0
    assert os.path.exists(path)
