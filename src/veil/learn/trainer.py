"""DP-SGD: train any PyTorch model with per-sample clipping, Gaussian noise and an epsilon.

Abadi et al. (2016), "Deep learning with differential privacy": at each step
every record joins the batch with probability q (Poisson sampling), each
sample's gradient is clipped to norm at most C (``max_grad_norm``), Gaussian
noise of standard deviation sigma C is added to the sum, and the sum is divided
by the expected batch size q n. The whole run is ``steps`` Poisson-sampled
Gaussian mechanisms, whose epsilon the spine's accountants compute; with a
ledger, that loss is reserved before the first step.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from veil.errors import ParameterError
from veil.learn.calibration import calibrate_noise_multiplier, dp_sgd_epsilon
from veil.learn.data import as_tensors
from veil.learn.grad_sample import CLIPPING_MODES, GradSampler
from veil.learn.losses import as_loss, target_dtype
from veil.learn.progress import EpochProgress
from veil.learn.sampling import PoissonSampler, reseed, secure_generator
from veil.privacy import PoissonSampledGaussianEvent, PrivacyLoss, check_delta, get_accountant

__all__ = ["OPTIMIZERS", "DPTrainer", "TrainingResult", "make_optimizer"]

#: Optimizers by name: Adam, or SGD with momentum 0.9.
OPTIMIZERS = ("adam", "sgd")


def make_optimizer(name: str, params: list[Tensor], learning_rate: float) -> torch.optim.Optimizer:
    """The optimizer called ``name`` over ``params``."""
    if name == "adam":
        return torch.optim.Adam(params, lr=learning_rate)
    if name == "sgd":
        return torch.optim.SGD(params, lr=learning_rate, momentum=0.9)
    raise ParameterError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {name!r}")


def _positive(value: Any, name: str, *, integer: bool = False) -> Any:
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok or not value > 0 or not math.isfinite(value):
        kind = "a positive integer" if integer else "a positive number"
        raise ParameterError(f"{name} must be {kind}; got {value!r}")
    return value


@dataclass(frozen=True)
class TrainingResult:
    """What a DP-SGD run trained and what it spent.

    ``history`` holds one dict per epoch (epoch, loss, seconds); its loss is
    the mean training loss measured on the private rows without noise: for the
    data holder's monitoring, not for publication. ``event`` and ``loss`` are
    the spine's description of the spend (what the ledger records).
    """

    model: nn.Module
    epsilon: float
    delta: float
    noise_multiplier: float
    max_grad_norm: float
    sampling_probability: float
    steps: int
    epochs: int
    batch_size: int
    accountant: str
    event: PoissonSampledGaussianEvent
    loss: PrivacyLoss
    history: list[dict[str, Any]] = field(default_factory=list)
    reservation_id: int | None = None
    samples_per_second: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Everything but the model, JSON-ready."""
        return {
            "epsilon": self.epsilon,
            "delta": self.delta,
            "noise_multiplier": self.noise_multiplier,
            "max_grad_norm": self.max_grad_norm,
            "sampling_probability": self.sampling_probability,
            "steps": self.steps,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "accountant": self.accountant,
            "event": self.event.to_dict(),
            "loss": self.loss.to_dict(),
            "history": [dict(h) for h in self.history],
            "reservation_id": self.reservation_id,
            "samples_per_second": self.samples_per_second,
        }


class DPTrainer:
    """Trains a PyTorch model with DP-SGD and reports (or reserves) its epsilon.

    Parameters
    ----------
    epsilon
        Target epsilon: the noise multiplier is calibrated to land at or just
        under it (:func:`~veil.learn.calibrate_noise_multiplier`). Give this or
        ``noise_multiplier``.
    delta
        The delta of the guarantee; keep it below 1 / number of rows.
    noise_multiplier
        sigma: the noise's standard deviation is ``sigma * max_grad_norm``.
    max_grad_norm
        C: each sample's gradient is clipped to L2 norm at most C.
    batch_size
        The EXPECTED batch size: each row joins each step with probability
        q = batch_size / n, so batches vary in size (Poisson sampling).
    epochs
        Steps = epochs * round(1 / q).
    learning_rate, optimizer
        "adam" or "sgd" (momentum 0.9).
    accountant
        A name in :data:`veil.privacy.ACCOUNTANTS` that bounds DP-SGD: "pld" or "rdp".
    clipping
        "auto" (book-keeping / ghost norms where a rule exists, ``torch.func``
        elsewhere) or "functorch" (``torch.func`` for the whole model).
    loss
        "cross_entropy", "bce", "mse" or a callable(out, y) giving one loss per sample.
    ledger, dataset, spender, what
        With a ledger (a :class:`~veil.ledger.Ledger` or its path), the loss is
        reserved for ``dataset`` before the first step and finished after.
    progress
        True for a progress bar on stderr, or a callable(epoch, metrics),
        called with epoch 0 before the first step and then after each epoch.
    seed
        Seeds only the model's own randomness during training (dropout);
        never the Poisson sampling or the noise, which come from the
        operating system's secure source.

    Raises
    ------
    ParameterError
        Both or neither of ``epsilon`` and ``noise_multiplier``, or a value out of range.
    """

    def __init__(
        self,
        *,
        epsilon: float | None = None,
        delta: float = 1e-5,
        noise_multiplier: float | None = None,
        max_grad_norm: float = 1.0,
        batch_size: int = 256,
        epochs: int = 10,
        learning_rate: float = 1e-3,
        optimizer: str = "adam",
        accountant: str = "pld",
        clipping: str = "auto",
        loss: str | Callable[[Tensor, Tensor], Tensor] = "cross_entropy",
        ledger: Any = None,
        dataset: str | None = None,
        spender: str | None = None,
        what: str = "DP-SGD training",
        progress: bool | Callable[[int, dict[str, Any]], None] = False,
        seed: int | None = None,
    ) -> None:
        if (epsilon is None) == (noise_multiplier is None):
            raise ParameterError(
                "give exactly one of epsilon (the noise is calibrated for it) and "
                f"noise_multiplier; got epsilon={epsilon!r}, noise_multiplier={noise_multiplier!r}"
            )
        self.epsilon = None if epsilon is None else float(_positive(epsilon, "epsilon"))
        self.noise_multiplier = (
            None
            if noise_multiplier is None
            else float(_positive(noise_multiplier, "noise_multiplier"))
        )
        self.delta = check_delta(delta)
        if not 0.0 < self.delta < 1.0:
            raise ParameterError(f"DP-SGD needs 0 < delta < 1 (e.g. 1e-5); got {delta!r}")
        self.max_grad_norm = float(_positive(max_grad_norm, "max_grad_norm"))
        self.batch_size = _positive(batch_size, "batch_size", integer=True)
        self.epochs = _positive(epochs, "epochs", integer=True)
        self.learning_rate = float(_positive(learning_rate, "learning_rate"))
        if optimizer not in OPTIMIZERS:
            raise ParameterError(
                f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {optimizer!r}"
            )
        self.optimizer = optimizer
        get_accountant(accountant)
        self.accountant = accountant
        if clipping not in CLIPPING_MODES:
            raise ParameterError(
                f"clipping must be one of {', '.join(CLIPPING_MODES)}; got {clipping!r}"
            )
        self.clipping = clipping
        self.loss = loss
        self._loss_fn = as_loss(loss)
        if ledger is not None and not dataset:
            raise ParameterError("a ledger needs the dataset name to charge: give dataset=...")
        self.ledger, self.dataset, self.spender, self.what = ledger, dataset, spender, what
        self.progress = progress
        self.seed = seed

    def privacy(self, n: int) -> tuple[float, float, int, float]:
        """(noise multiplier, sampling probability, steps, epsilon) for ``n`` rows."""
        if self.batch_size > n:
            raise ParameterError(
                f"batch_size {self.batch_size} is larger than the {n} rows; use at most {n}"
            )
        q = self.batch_size / n
        steps = self.epochs * max(1, round(1 / q))
        if self.noise_multiplier is None:
            sigma = calibrate_noise_multiplier(
                self.epsilon,  # type: ignore[arg-type]
                delta=self.delta,
                sampling_probability=q,
                steps=steps,
                accountant=self.accountant,
            )
        else:
            sigma = self.noise_multiplier
        eps = dp_sgd_epsilon(
            sigma, delta=self.delta, sampling_probability=q, steps=steps, accountant=self.accountant
        )
        if not math.isfinite(eps):
            raise ParameterError(
                f"accountant {self.accountant!r} gives no finite epsilon for noise_multiplier "
                f"{sigma:g}; use more noise or accountant 'pld'"
            )
        return sigma, q, steps, eps

    def fit(self, model: nn.Module, X: Any, y: Any) -> TrainingResult:
        """Train ``model`` in place on (X, y) with DP-SGD; the result carries it and its epsilon.

        Raises
        ------
        ParameterError
            The model has a layer DP-SGD cannot clip (BatchNorm: use GroupNorm),
            or the target epsilon is unreachable.
        DataError
            NaN, infinite or non-numeric values, or X and y of different lengths.
        BudgetExceededError
            The ledger refuses the spend; nothing was trained.
        """
        sampler = GradSampler(model, clipping=self.clipping)
        try:
            return self._fit(model, sampler, X, y)
        finally:
            sampler.remove()

    def _fit(self, model: nn.Module, sampler: GradSampler, X: Any, y: Any) -> TrainingResult:
        device = sampler.params[0].device
        x, t = as_tensors(X, y, target=target_dtype(self.loss), device=device)
        n = x.shape[0]
        sigma, q, steps, eps = self.privacy(n)
        event = PoissonSampledGaussianEvent(
            noise_multiplier=sigma, sampling_probability=q, steps=steps
        )
        loss = PrivacyLoss(epsilon=eps, delta=self.delta, event=event)
        parameters = {
            "noise_multiplier": sigma,
            "max_grad_norm": self.max_grad_norm,
            "sampling_probability": q,
            "steps": steps,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "accountant": self.accountant,
        }
        book, owned, reservation = None, False, None
        if self.ledger is not None:
            from veil.ledger import as_ledger

            book, owned = as_ledger(self.ledger)
            try:
                reservation = book.reserve(
                    self.dataset,  # type: ignore[arg-type]
                    loss,
                    what=self.what,
                    mechanism="DP-SGD (Poisson-sampled Gaussian)",
                    parameters=parameters,
                    spender=self.spender,
                )
            except BaseException:
                if owned:
                    book.close()
                raise
        try:
            # If training fails from here on, the reservation is deliberately NOT
            # cancelled: noise has been drawn and a partly trained model may already
            # exist (in memory, in a checkpoint), so the spend stays counted.
            history, rate = self._train(model, sampler, x, t, sigma, q, steps)
            result = TrainingResult(
                model=model,
                epsilon=eps,
                delta=self.delta,
                noise_multiplier=sigma,
                max_grad_norm=self.max_grad_norm,
                sampling_probability=q,
                steps=steps,
                epochs=self.epochs,
                batch_size=self.batch_size,
                accountant=self.accountant,
                event=event,
                loss=loss,
                history=history,
                reservation_id=None if reservation is None else reservation.id,
                samples_per_second=rate,
            )
            if book is not None:
                summary = {k: v for k, v in result.to_dict().items() if k not in ("event", "loss")}
                book.finish(reservation, summary)  # type: ignore[arg-type]
            return result
        finally:
            if owned:
                book.close()  # type: ignore[union-attr]

    def _train(
        self,
        model: nn.Module,
        sampler: GradSampler,
        x: Tensor,
        t: Tensor,
        sigma: float,
        q: float,
        steps: int,
    ) -> tuple[list[dict[str, Any]], float]:
        params = sampler.params
        device = params[0].device
        # One flat buffer per dtype holds every gradient, so the noise is one draw and one add.
        flats: dict[torch.dtype, Tensor] = {}
        for dtype in {p.dtype for p in params}:
            flats[dtype] = torch.zeros(
                sum(p.numel() for p in params if p.dtype == dtype), dtype=dtype, device=device
            )
        offsets = dict.fromkeys(flats, 0)
        views = []
        for p in params:
            start = offsets[p.dtype]
            view = flats[p.dtype][start : start + p.numel()].view_as(p)
            offsets[p.dtype] += p.numel()
            p.grad = view
            views.append(view)
        noises = {dtype: torch.empty_like(flat) for dtype, flat in flats.items()}
        noise_gen = secure_generator(device)
        optimizer = make_optimizer(self.optimizer, params, self.learning_rate)
        expected = q * x.shape[0]
        std, scale = sigma * self.max_grad_norm, 1.0 / expected
        per_epoch = steps // self.epochs
        batches = iter(PoissonSampler(x.shape[0], q, steps, device=device))
        report = EpochProgress(self.progress, self.epochs, self.what)
        history: list[dict[str, Any]] = []
        seen, busy = 0, 0.0
        rng = (
            torch.random.fork_rng(devices=[]) if self.seed is not None else contextlib.nullcontext()
        )
        model.train()
        try:
            with rng:
                if self.seed is not None:
                    torch.manual_seed(self.seed)
                report(0, {"epoch": 0, "steps": 0})
                for epoch in range(1, self.epochs + 1):
                    start, total, count = time.perf_counter(), 0.0, 0
                    for _ in range(per_epoch):
                        idx = next(batches)
                        if idx.numel():
                            sums, losses = sampler.clipped_sum(
                                x[idx], t[idx], self._loss_fn, self.max_grad_norm
                            )
                            total += float(losses.sum())
                            count += idx.numel()
                        else:  # an empty batch still releases noise
                            sums = [None] * len(params)
                        for view, s in zip(views, sums, strict=True):
                            if s is None:
                                view.zero_()
                            else:
                                view.copy_(s)
                        for dtype, flat in flats.items():
                            reseed(noise_gen)
                            torch.randn(
                                flat.shape,
                                generator=noise_gen,
                                dtype=dtype,
                                device=device,
                                out=noises[dtype],
                            )
                            flat.add_(noises[dtype], alpha=std).mul_(scale)
                        optimizer.step()
                    seconds = time.perf_counter() - start
                    seen, busy = seen + count, busy + seconds
                    metrics = {"epoch": epoch, "loss": total / max(count, 1), "seconds": seconds}
                    history.append(metrics)
                    report(epoch, metrics)
        finally:
            report.close()
            for p in params:
                p.grad = None
        return history, seen / busy if busy > 0 else 0.0
