"""DP-SGD: veil against the non-private loop and Opacus 1.6 (hooks, ghost clipping), side by side.

Two models of issue #17: the MLP (inputs-256-256-2, expected batch 256) on
Adult with one-hot features, and a small CNN on scikit-learn's digits (8x8
images). For each: samples per second of the non-private loop, veil's
DP-SGD, Opacus' default hooks mode and its ghost clipping (all at the same
noise multiplier, clipping norm, batch size and number of steps), and test
accuracy at epsilon 1, 3 and 8. Then the accountant line: the PLD epsilon of
the MNIST-sized setting and its time.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from torch import nn

from harness import SHARED_DATA, markdown_table, side_by_side, update_section
from veil.learn import DPTrainer, dp_sgd_epsilon, train_non_private
from veil.learn.calibration import calibrate_noise_multiplier

EPSILONS = (1.0, 3.0, 8.0)
DELTA = 1e-5
BATCH = 256
QUICK = bool(os.environ.get("VEIL_BENCH_QUICK"))
# One intra-op thread by default: on a shared 2-core machine torch's second thread
# spin-waits behind other processes and every method slows down 10-20x, erratically.
THREADS = int(os.environ.get("VEIL_BENCH_THREADS", "1"))


def adult() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Adult, every column one-hot or standardised (train statistics), split 80/20 (seed 0)."""
    data = pd.read_csv(SHARED_DATA / "adult.csv", skipinitialspace=True)
    y = (data.pop("salary-class").str.strip().str.startswith(">50K")).to_numpy(np.int64)
    numeric = data.select_dtypes("number").columns
    X = pd.get_dummies(data, columns=[c for c in data.columns if c not in numeric], dtype=float)
    order = np.random.default_rng(0).permutation(len(X))
    cut = int(0.8 * len(X))
    train, test = order[:cut], order[cut:]
    X = X.to_numpy(np.float64)
    cols = list(range(len(numeric)))  # get_dummies keeps the numeric columns first
    mean, std = X[train][:, cols].mean(0), X[train][:, cols].std(0) + 1e-9
    X[:, cols] = (X[:, cols] - mean) / std
    X = X.astype(np.float32)
    return X[train], y[train], X[test], y[test]


def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits as [n, 1, 8, 8] in [0, 1], split 80/20 (seed 0)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    X = (d.images / 16.0).astype(np.float32)[:, None]
    order = np.random.default_rng(0).permutation(len(X))
    cut = int(0.8 * len(X))
    return X[order[:cut]], d.target[order[:cut]], X[order[cut:]], d.target[order[cut:]]


def mlp(d: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(d, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 2)
    )


def cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, 10),
    )


def accuracy(model: nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with torch.no_grad():
        return float((model(torch.from_numpy(X)).argmax(1).numpy() == y).mean())


def _opacus(
    model: nn.Module,
    X: np.ndarray,
    y: np.ndarray,
    *,
    mode: str,
    sigma: float,
    clip: float,
    lr: float,
) -> Callable[[], int]:
    """Opacus' PrivacyEngine on (X, y), Poisson sampling, same sigma and clip: an epoch a call."""
    from opacus import PrivacyEngine

    data = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    loader = torch.utils.data.DataLoader(data, batch_size=BATCH)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        engine = PrivacyEngine(accountant="prv")
        if mode == "ghost":
            model, optimizer, criterion, loader = engine.make_private(
                module=model,
                optimizer=optimizer,
                criterion=nn.CrossEntropyLoss(),
                data_loader=loader,
                noise_multiplier=sigma,
                max_grad_norm=clip,
                grad_sample_mode="ghost",
            )
        else:
            model, optimizer, loader = engine.make_private(
                module=model,
                optimizer=optimizer,
                data_loader=loader,
                noise_multiplier=sigma,
                max_grad_norm=clip,
            )
            criterion = nn.CrossEntropyLoss()

    def epoch() -> int:
        seen = 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for xb, yb in loader:
                optimizer.zero_grad()
                criterion(model(xb), yb).backward()
                optimizer.step()
                seen += len(xb)
        return seen

    return epoch


def throughput(
    make: Callable[[], nn.Module],
    X: np.ndarray,
    y: np.ndarray,
    *,
    sigma: float,
    clip: float,
    lr: float,
) -> dict[str, float]:
    """Samples/s of each method over the same rows, timed round-robin (median of 5)."""
    # About 40 batches a call (6 for Opacus hooks), as whole epochs of the same rows.
    per_epoch = max(1, round(len(X) / BATCH))
    calls = {"non-private": 40, "veil DP-SGD": 40, "Opacus hooks": 6, "Opacus ghost": 40}
    rows = {name: min(len(X), k * BATCH) for name, k in calls.items()}
    epochs = {name: max(1, k // per_epoch) for name, k in calls.items()}
    fns: dict[str, Callable[[], object]] = {}
    torch.manual_seed(0)
    plain = make()
    n = rows["non-private"]
    fns["non-private"] = lambda: train_non_private(
        plain, X[:n], y[:n], epochs=epochs["non-private"], batch_size=BATCH, learning_rate=lr
    )
    dp = make()
    trainer = DPTrainer(
        noise_multiplier=sigma,
        max_grad_norm=clip,
        batch_size=BATCH,
        epochs=epochs["veil DP-SGD"],
        learning_rate=lr,
    )
    m = rows["veil DP-SGD"]
    fns["veil DP-SGD"] = lambda: trainer.fit(dp, X[:m], y[:m])
    for mode in ("hooks", "ghost"):
        name = f"Opacus {mode}"
        k = rows[name]
        one = _opacus(make(), X[:k], y[:k], mode=mode, sigma=sigma, clip=clip, lr=lr)
        fns[name] = lambda one=one, e=epochs[name]: [one() for _ in range(e)]
    times = side_by_side(fns, repeat=1 if QUICK else 5, warmup=1)
    return {name: rows[name] * epochs[name] / t for name, t in times.items()}


def run_model(
    name: str,
    make: Callable[[], nn.Module],
    data: tuple[np.ndarray, ...],
    *,
    epochs: int,
    lr: float,
    clip: float,
    dp_lr: float,
) -> tuple[list[list[object]], dict[str, object]]:
    X, y, Xt, yt = data
    q = BATCH / len(X)
    steps = epochs * round(1 / q)
    sigmas = {
        eps: calibrate_noise_multiplier(eps, delta=DELTA, sampling_probability=q, steps=steps)
        for eps in EPSILONS
    }
    speed = throughput(make, X, y, sigma=sigmas[3.0], clip=clip, lr=dp_lr)
    torch.manual_seed(0)
    model = make()
    train_non_private(model, X, y, epochs=epochs, batch_size=BATCH, learning_rate=lr, seed=0)
    base = accuracy(model, Xt, yt)
    acc: dict[str, dict[float, float]] = {"veil DP-SGD": {}, "Opacus": {}}
    for eps in EPSILONS:
        torch.manual_seed(0)
        model = make()
        DPTrainer(
            noise_multiplier=sigmas[eps],
            max_grad_norm=clip,
            batch_size=BATCH,
            epochs=epochs,
            learning_rate=dp_lr,
        ).fit(model, X, y)
        acc["veil DP-SGD"][eps] = accuracy(model, Xt, yt)
        torch.manual_seed(0)
        model = make()
        run = _opacus(model, X, y, mode="ghost", sigma=sigmas[eps], clip=clip, lr=dp_lr)
        for _ in range(epochs):
            run()
        acc["Opacus"][eps] = accuracy(model, Xt, yt)
    rows: list[list[object]] = []
    for label, rate in speed.items():
        accs = (
            acc["Opacus" if label.startswith("Opacus") else label] if label != "non-private" else {}
        )
        rows.append(
            [
                name,
                label,
                f"{rate:,.0f}",
                f"{rate / speed['non-private']:.2f}",
                *(f"{accs[e]:.3f}" if accs else "" for e in EPSILONS),
                f"{base:.3f}" if label == "non-private" else "",
            ]
        )
    info = {"sigmas": sigmas, "steps": steps, "q": q, "base": base, "acc": acc, "speed": speed}
    return rows, info


def main() -> None:
    logging.getLogger("absl").setLevel(logging.ERROR)
    torch.set_num_threads(THREADS)
    epochs = 1 if QUICK else 5
    adult_data = adult()
    width = adult_data[0].shape[1]
    rows, a = run_model(
        f"MLP {width}-256-256-2, Adult",
        lambda: mlp(width),
        adult_data,
        epochs=epochs,
        lr=1e-3,
        clip=1.0,
        dp_lr=2e-3,
    )
    cnn_epochs = 4 * epochs
    cnn_rows, c = run_model(
        "CNN, digits",
        cnn,
        digits(),
        epochs=cnn_epochs,
        lr=3e-3,
        clip=1.0,
        dp_lr=3e-3,
    )
    rows += cnn_rows
    q, steps = 256 / 60000, int(60 * 60000 / 256)
    dp_sgd_epsilon.cache_clear()
    start = time.perf_counter()
    eps = dp_sgd_epsilon(1.1, delta=DELTA, sampling_probability=q, steps=steps)
    pld_ms = (time.perf_counter() - start) * 1e3
    table = markdown_table(
        [
            "model",
            "training",
            "samples/s",
            "ratio to non-private",
            *(f"accuracy at ε={e:g}" for e in EPSILONS),
            "accuracy, no DP",
        ],
        rows,
    )
    gap = a["base"] - a["acc"]["veil DP-SGD"][3.0]
    sig = ", ".join(f"{s:.3f}" for s in a["sigmas"].values())
    csig = ", ".join(f"{s:.3f}" for s in c["sigmas"].values())
    md = f"""## Private learning (`benchmarks/bench_learn.py`)

DP-SGD against the non-private loop and Opacus 1.6 in its default hooks mode and
its ghost clipping (`grad_sample_mode="ghost"`), on the issue's two models: an MLP
{width}-256-256-2 on Adult (one-hot categories and standardised numbers: {width}
inputs, 80/20 split) and a small CNN (conv 16, conv 32, max-pool, linear) on
scikit-learn's digits. Expected batch 256 with Poisson sampling, clipping norm 1,
delta {DELTA:g}, Adam. Samples/s: each method trains on the same rows (about
40 batches a call as whole epochs, 6 for Opacus hooks), the methods called in
turn, median of 5; the DP methods use the noise multiplier of epsilon 3.
Accuracy on the held-out 20% after {epochs} epochs on Adult (lr 1e-3 without
DP, 2e-3 with) and {cnn_epochs} on digits (lr 3e-3), with the noise multipliers
calibrated by PLD for epsilon 1, 3 and 8 (Adult: {sig}; digits: {csig}).
Opacus' accuracy is that of its ghost mode (its hooks mode computes the same
update); its loader samples at rate 1/len(loader), a little below 256/n on
digits. {THREADS} torch thread(s): on a shared 2-core machine a second
intra-op thread makes every method erratically slower.

{table}

At epsilon 3 veil's DP-SGD on Adult reaches {a["acc"]["veil DP-SGD"][3.0]:.3f} against
{a["base"]:.3f} without DP ({-100 * gap:+.1f} points). Each accuracy is one run: the
noise moves it by about a point on Adult and by several on digits at epsilon 1.
Accountant: the PLD epsilon of DP-SGD with q = 256/60000, sigma 1.1, 60
epochs ({steps:,} steps), delta 1e-5 is {eps:.4f}, computed in {pld_ms:.0f} ms.
"""
    print(md)
    if not QUICK:
        update_section("learn", md)


if __name__ == "__main__":
    main()
