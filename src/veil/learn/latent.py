"""Latent representations of a table: PCA or an autoencoder, and DP noise on the latents.

Sharing a k-dimensional code instead of the rows keeps much of the data's
usefulness for learning (a model on Adult's PCA or autoencoder latents
reaches an AUC close to one on the raw table), but a code is **not
anonymous by construction**: each latent row is a deterministic function of
one person's row, so whoever knows the encoder and some of a person's
attributes can look for the nearest code. :mod:`veil.learn.latent_attack`
measures that; :func:`add_latent_noise` is the protection with a proof.

Columns are encoded by :class:`~veil.learn.preprocessing.FeatureEncoder`
(numeric columns clipped and scaled to [-1, 1], categorical ones one-hot),
with bounds and categories given by the user or read from the data and
reported as treated as public.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from veil.errors import ParameterError
from veil.io import to_polars
from veil.learn.preprocessing import FeatureEncoder
from veil.privacy import PrivacyLoss

__all__ = ["LatentEncoder", "add_latent_noise"]

METHODS = ("pca", "autoencoder")


def _frame(data: Any) -> pl.DataFrame:
    frame, _ = to_polars(data)
    assert isinstance(frame, pl.DataFrame)
    return frame


class LatentEncoder:
    """Fit PCA or an autoencoder on a table; ``transform`` rows to ``n_components`` numbers.

    Parameters
    ----------
    method
        ``"pca"`` (principal components of the encoded table; Pearson 1901)
        or ``"autoencoder"`` (a PyTorch MLP trained to reconstruct the
        encoded row through a k-unit bottleneck; Hinton and Salakhutdinov 2006).
    n_components
        k, the size of the code.
    bounds, categories
        For :class:`~veil.learn.preprocessing.FeatureEncoder`. Numeric columns
        without bounds take the data's min and max, **treated as public**
        (listed in ``public_``).
    hidden, epochs, batch_size, learning_rate
        The autoencoder's width and training (Adam, mean squared error).
    epsilon, delta
        Train the autoencoder with DP-SGD (:class:`~veil.learn.DPTrainer`) to
        this budget: the encoder then reveals little about any training row.
        The latents of the training rows are still each row's function:
        noise them with :func:`add_latent_noise` for a guarantee on them.
    seed
        Non-private randomness: initialisation and batch order.
    """

    def __init__(
        self,
        method: str = "pca",
        n_components: int = 8,
        *,
        bounds: Mapping[str, Any] | None = None,
        categories: Mapping[str, Sequence[Any]] | None = None,
        hidden: int = 64,
        epochs: int = 30,
        batch_size: int = 256,
        learning_rate: float = 1e-3,
        epsilon: float | None = None,
        delta: float = 1e-5,
        seed: int | None = 0,
    ) -> None:
        self.method = method
        self.n_components = n_components
        self.bounds = dict(bounds or {})
        self.categories = dict(categories or {})
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.epsilon = epsilon
        self.delta = delta
        self.seed = seed

    def _check(self) -> None:
        if self.method not in METHODS:
            raise ParameterError(f"method must be one of {', '.join(METHODS)}; got {self.method!r}")
        if not isinstance(self.n_components, int) or self.n_components < 1:
            raise ParameterError(
                f"n_components must be a positive integer; got {self.n_components!r}"
            )

    def fit(self, data: Any) -> LatentEncoder:
        """Encode the table's columns and fit the projection (all columns are features)."""
        self._check()
        frame = _frame(data)
        bounds = dict(self.bounds)
        read = []
        for name in frame.columns:
            series = frame[name]
            numeric = series.dtype.is_numeric() or series.dtype == pl.Boolean
            if numeric and name not in bounds and name not in self.categories:
                values = series.cast(pl.Float64).drop_nulls()
                if values.len() == 0:
                    continue  # FeatureEncoder names the empty column
                low, high = float(values.min()), float(values.max())  # type: ignore[arg-type]
                bounds[name] = (low, high if high > low else low + 1.0)
                read.append(name)
        self.encoder_ = FeatureEncoder(bounds=bounds, categories=self.categories).fit(frame)
        self.public_ = [
            f"the bounds of {name!r} were read from the data and treated as public" for name in read
        ] + [n for n in self.encoder_.public() if "read from the data" in n]
        x = self.encoder_.transform(frame).astype(np.float64)
        if self.n_components > x.shape[1]:
            raise ParameterError(
                f"n_components={self.n_components} exceeds the {x.shape[1]} encoded features"
            )
        self.training_loss_: PrivacyLoss | None = None
        if self.method == "pca":
            self.mean_ = x.mean(axis=0)
            _, singular, vt = np.linalg.svd(x - self.mean_, full_matrices=False)
            self.components_ = vt[: self.n_components]
            variance = singular**2
            self.explained_variance_ratio_ = variance[: self.n_components] / variance.sum()
        else:
            self._fit_autoencoder(x.astype(np.float32))
        return self

    def _fit_autoencoder(self, x: np.ndarray) -> None:
        import torch
        from torch import nn

        from veil.learn.baseline import train_non_private
        from veil.learn.trainer import DPTrainer

        if self.seed is not None:
            gen_state = torch.random.get_rng_state()
            torch.manual_seed(self.seed)
        d, k, h = x.shape[1], self.n_components, self.hidden
        self.encoder_net_ = nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, k))
        decoder = nn.Sequential(nn.Linear(k, h), nn.ReLU(), nn.Linear(h, d))
        if self.seed is not None:
            torch.random.set_rng_state(gen_state)
        model = nn.Sequential(self.encoder_net_, decoder)
        if self.epsilon is None:
            train_non_private(
                model, x, x, epochs=self.epochs, batch_size=self.batch_size,
                learning_rate=self.learning_rate, loss="mse", seed=self.seed,
            )  # fmt: skip
        else:
            result = DPTrainer(
                epsilon=self.epsilon, delta=self.delta, batch_size=self.batch_size,
                epochs=self.epochs, learning_rate=self.learning_rate, loss="mse",
                seed=self.seed, what="DP autoencoder for latent codes",
            ).fit(model, x, x)  # fmt: skip
            self.training_loss_ = result.loss
        model.eval()
        with torch.no_grad():
            out = model(torch.from_numpy(x)).numpy()
        self.reconstruction_error_ = float(np.mean((out - x) ** 2))

    def encode(self, data: Any) -> np.ndarray:
        """The encoded features (FeatureEncoder's model inputs) of a table."""
        return self.encoder_.transform(_frame(data))

    def project(self, x: np.ndarray) -> np.ndarray:
        """Latent codes of already encoded features (what the linkage attack uses)."""
        if not hasattr(self, "encoder_"):
            raise ParameterError("the LatentEncoder is not fitted; call fit first")
        if self.method == "pca":
            return (np.asarray(x, dtype=np.float64) - self.mean_) @ self.components_.T
        import torch

        with torch.no_grad():
            return (
                self.encoder_net_(torch.as_tensor(x, dtype=torch.float32))
                .numpy()
                .astype(np.float64)
            )

    def transform(self, data: Any) -> np.ndarray:
        """The ``n_components`` latent numbers of each row."""
        return self.project(self.encode(data))

    def fit_transform(self, data: Any) -> np.ndarray:
        return self.fit(data).transform(data)


def add_latent_noise(
    latents: np.ndarray, *, epsilon: float, delta: float, clip: float
) -> tuple[np.ndarray, PrivacyLoss]:
    """Clip each code to L2 norm ``clip``, add Gaussian noise: (epsilon, delta)-DP per row.

    What it guarantees: each row's code, clipped, moves by at most 2 * clip
    in L2 norm when that person's row is replaced by any other, so the
    Gaussian mechanism calibrated to sensitivity 2 * clip (OpenDP's sampler,
    via :class:`veil.dp.mechanisms.GaussianMechanism`; Dwork and Roth 2014,
    Balle and Wang 2018 for the tight calibration) makes the released codes
    (epsilon, delta)-DP with respect to replacing one row, **given the
    encoder**. The encoder itself, fitted on the same rows, is not covered:
    fit it on public data, or train the autoencoder with DP-SGD
    (``LatentEncoder(epsilon=...)``) and add its loss.

    Returns
    -------
    (noisy latents, PrivacyLoss of the release)
    """
    from veil.dp.mechanisms import GaussianMechanism

    if not (isinstance(clip, (int, float)) and math.isfinite(clip) and clip > 0):
        raise ParameterError(f"clip must be a positive number; got {clip!r}")
    z = np.asarray(latents, dtype=np.float64)
    if z.ndim != 2:
        raise ParameterError(f"latents must be a 2-D array (rows x k); got shape {z.shape}")
    norms = np.linalg.norm(z, axis=1, keepdims=True)
    clipped = z * np.minimum(1.0, clip / np.maximum(norms, 1e-300))
    mechanism = GaussianMechanism(sensitivity=2.0 * clip, epsilon=epsilon, delta=delta)
    noisy = mechanism(clipped.ravel()).reshape(z.shape)
    return noisy, mechanism.privacy_loss
