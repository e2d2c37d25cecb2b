"""Poisson sampling of DP-SGD batches from a securely seeded generator.

Each record joins each step's batch independently with probability q, so the
batch size varies (Binomial(n, q)) and may be zero; this is the sampling the
privacy amplification of the accountants assumes (Abadi et al. 2016; Mironov,
Talwar and Zhang 2019), unlike shuffled fixed-size batches. The coins come
from a torch generator reseeded with 64 fresh bits from the operating system
(:func:`veil.randomness.random_bytes`) at every step: never from a user's seed.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from veil.errors import ParameterError
from veil.randomness import random_bytes

__all__ = ["PoissonSampler", "secure_generator"]


def secure_generator(device: torch.device | str = "cpu") -> torch.Generator:
    """A torch generator on ``device`` seeded from the OS's cryptographic source."""
    gen = torch.Generator(device=device)
    reseed(gen)
    return gen


def reseed(gen: torch.Generator) -> None:
    """Give ``gen`` 64 fresh bits from the operating system."""
    gen.manual_seed(int.from_bytes(random_bytes(8), "little") >> 1)


class PoissonSampler:
    """Index batches for ``steps`` steps, each row in each batch with probability ``q``.

    The comparison ``U < q`` uses double-precision uniforms (53 random bits),
    so each row's inclusion probability is q to within 2**-53.

    Parameters
    ----------
    n
        Number of rows.
    sampling_probability
        q in (0, 1].
    steps
        How many batches to draw.
    device
        Where the index tensors live.
    """

    def __init__(
        self, n: int, sampling_probability: float, steps: int, *, device: torch.device | str = "cpu"
    ) -> None:
        if n < 1:
            raise ParameterError(f"Poisson sampling needs at least one row; got n = {n}")
        if not 0.0 < sampling_probability <= 1.0:
            raise ParameterError(
                f"sampling_probability must be in (0, 1]; got {sampling_probability!r}"
            )
        self.n, self.q, self.steps = n, float(sampling_probability), int(steps)
        self.generator = secure_generator(device)
        self.device = device

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[torch.Tensor]:
        for _ in range(self.steps):
            reseed(self.generator)
            u = torch.rand(
                self.n, generator=self.generator, dtype=torch.float64, device=self.device
            )
            yield torch.nonzero(u < self.q).squeeze(1)
