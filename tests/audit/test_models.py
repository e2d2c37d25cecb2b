"""The attacks on real models: an overfitting MLP is caught, a DP-SGD one is not.

The non-private models are trained with a seeded full-batch loop, so those
assertions are deterministic. DP-SGD draws its noise from the secure source
(unseeded), so the DP assertions are statistical: they are made at confidence
1 - 1e-6, i.e. a correct DP trainer fails them with probability below 1e-6
(for the one-run audit this follows from Steinke et al.'s theorem alone; the
loss-threshold bound additionally treats the examples as independent trials).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from veil.audit import lira_attack, logit_confidence, loss_threshold_attack, one_run_audit
from veil.learn import DPTrainer

N, D = 400, 20
STRICT = 1 - 1e-6


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """400 rows, labels a noisy linear rule (so held-out rows are hard), half used to train."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, D)).astype(np.float32)
    y = ((X @ rng.normal(size=D) + rng.normal(scale=3.0, size=N)) > 0).astype(np.int64)
    members = np.zeros(N, dtype=bool)
    members[rng.permutation(N)[: N // 2]] = True
    return X, y, members


def _mlp(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(D, 128), torch.nn.ReLU(), torch.nn.Linear(128, 2))


def train_overfit(X: np.ndarray, y: np.ndarray, seed: int = 0) -> torch.nn.Module:
    """300 full-batch Adam steps: fits 200 noisy rows almost perfectly."""
    model = _mlp(seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    for _ in range(300):
        opt.zero_grad()
        F.cross_entropy(model(xt), yt).backward()
        opt.step()
    return model


def losses(model: torch.nn.Module, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        out = model(torch.as_tensor(X))
        return F.cross_entropy(out, torch.as_tensor(y), reduction="none").numpy()


def confidences(model: torch.nn.Module, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return logit_confidence(model(torch.as_tensor(X)).numpy(), y)


def train_dp(X: np.ndarray, y: np.ndarray, epsilon: float = 1.0) -> torch.nn.Module:
    trainer = DPTrainer(
        epsilon=epsilon,
        delta=1e-5,
        max_grad_norm=1.0,
        batch_size=64,
        epochs=20,
        learning_rate=1e-2,
    )
    result = trainer.fit(_mlp(0), X, y)
    assert result.epsilon <= epsilon + 1e-9
    return result.model


def test_overfitting_model_is_caught_and_lira_is_stronger_at_low_fpr(data) -> None:
    X, y, members = data
    target = train_overfit(X[members], y[members])
    loss = losses(target, X, y)
    by_loss = loss_threshold_attack(loss[members], loss[~members])
    assert by_loss.auc > 0.6
    assert by_loss.epsilon_lower_bound > 0
    lira = lira_attack(
        train_overfit,
        confidences,
        X,
        y,
        target_members=members,
        target_model=target,
        n_shadows=8,
        seed=0,
    )
    assert lira.attack == "lira_online"
    assert lira.auc > 0.6 and lira.epsilon_lower_bound > 0
    for rate in (0.001, 0.01):
        assert lira.tpr_at_fpr[rate] >= by_loss.tpr_at_fpr[rate]
    assert lira.tpr_at_fpr[0.01] > 0.1  # identifies members at 1% FPR, which the loss cannot
    offline = lira_attack(
        train_overfit,
        confidences,
        X,
        y,
        target_members=members,
        target_model=target,
        n_shadows=4,
        online=False,
        seed=0,
    )
    assert offline.attack == "lira_offline" and offline.auc > 0.6


def test_dp_model_keeps_the_lower_bound_below_its_epsilon(data) -> None:
    X, y, members = data
    epsilon = 1.0
    model = train_dp(X[members], y[members], epsilon)
    loss = losses(model, X, y)
    audit = loss_threshold_attack(loss[members], loss[~members], confidence=STRICT)
    assert audit.epsilon_lower_bound <= epsilon
    lira = lira_attack(
        lambda Xt, yt: train_dp(Xt, yt, epsilon),
        confidences,
        X,
        y,
        target_members=members,
        target_model=model,
        n_shadows=4,
        confidence=STRICT,
        seed=0,
    )
    assert lira.epsilon_lower_bound <= epsilon
    # the one-run audit: half of 200 canary rows trained on, the rest fixed
    one_run = one_run_audit(
        lambda Xt, yt: train_dp(Xt, yt, epsilon),
        lambda m, Xc, yc: -losses(m, Xc, yc),
        X,
        y,
        canaries=np.arange(200),
        confidence=STRICT,
        delta=1e-5,
        seed=0,
    )
    assert one_run.epsilon_lower_bound <= epsilon
    # the same audit on the overfitting trainer does prove leakage
    leaky = one_run_audit(
        train_overfit,
        lambda m, Xc, yc: -losses(m, Xc, yc),
        X,
        y,
        canaries=np.arange(200),
        seed=0,
    )
    assert leaky.epsilon_lower_bound > 0.3
