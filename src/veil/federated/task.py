"""A federated task defined once: the model, local training and evaluation.

The same :class:`ClassificationTask` object drives every way veil runs a
federation: the in-process simulation, Flower's Ray simulation and a real
deployment of a server and client processes. Parameters travel as Flower does,
a list of NumPy arrays (the model's ``state_dict`` in order).

Local training is plain minibatch SGD (McMahan et al. 2017, "Communication-
efficient learning of deep networks from decentralized data", FedAvg) with
an optional proximal term ``mu / 2 * ||w - w_global||^2`` (Li et al. 2020,
"Federated optimization in heterogeneous networks", FedProx); the server
sends ``proximal_mu`` in the round's configuration.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from veil.errors import DataError, ParameterError

__all__ = ["ClassificationTask", "Evaluation", "check_update"]


@dataclass(frozen=True)
class Evaluation:
    """Loss, accuracy and class scores of a model on some rows."""

    loss: float
    accuracy: float
    n: int
    scores: np.ndarray


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Run torch on one thread: a site's small model loses far more to thread hand-offs
    than it gains (110 ms against 3 ms for a round of local training on digits here)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ParameterError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


class ClassificationTask:
    """A multilayer perceptron classifier trained locally with SGD: the unit every site runs.

    Parameters
    ----------
    n_features, n_classes
        Width of the input and number of classes.
    hidden
        Hidden layer widths; ``()`` is multinomial logistic regression.
    epochs
        Local passes over a client's rows per round (E in FedAvg).
    batch_size
        Local minibatch size (B in FedAvg).
    learning_rate
        SGD step (momentum 0.9).
    seed
        Seeds the initial weights and the local shuffles (never privacy noise).
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        *,
        hidden: Sequence[int] = (64,),
        epochs: int = 1,
        batch_size: int = 32,
        learning_rate: float = 0.05,
        seed: int = 0,
    ) -> None:
        self.n_features = _positive_int(n_features, "n_features")
        self.n_classes = _positive_int(n_classes, "n_classes")
        if self.n_classes < 2:
            raise ParameterError(f"a classifier needs at least 2 classes; got {n_classes}")
        self.hidden = tuple(_positive_int(h, "hidden layer width") for h in hidden)
        self.epochs = _positive_int(epochs, "epochs")
        self.batch_size = _positive_int(batch_size, "batch_size")
        if not (isinstance(learning_rate, (int, float)) and learning_rate > 0):
            raise ParameterError(f"learning_rate must be a positive number; got {learning_rate!r}")
        self.learning_rate = float(learning_rate)
        self.seed = int(seed)

    def to_dict(self) -> dict[str, Any]:
        """The task's settings, enough to rebuild it (sent to deployed clients)."""
        return {
            "n_features": self.n_features,
            "n_classes": self.n_classes,
            "hidden": list(self.hidden),
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClassificationTask:
        """The task :meth:`to_dict` described."""
        return cls(
            int(data["n_features"]),
            int(data["n_classes"]),
            hidden=tuple(int(h) for h in data.get("hidden", ())),
            epochs=int(data.get("epochs", 1)),
            batch_size=int(data.get("batch_size", 32)),
            learning_rate=float(data.get("learning_rate", 0.05)),
            seed=int(data.get("seed", 0)),
        )

    # -- the model ---------------------------------------------------------
    def model(self) -> nn.Module:
        """A freshly initialised model (the same weights for the same seed)."""
        gen = torch.Generator().manual_seed(self.seed)
        widths = [self.n_features, *self.hidden, self.n_classes]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(itertools.pairwise(widths)):
            linear = nn.Linear(a, b)
            with torch.no_grad():
                bound = 1.0 / math.sqrt(a)
                linear.weight.uniform_(-bound, bound, generator=gen)
                linear.bias.zero_()
            layers.append(linear)
            if i < len(widths) - 2:
                layers.append(nn.ReLU())
        return nn.Sequential(*layers)

    def initial_parameters(self) -> list[np.ndarray]:
        """The starting global model, as Flower's list of arrays."""
        return self.get_parameters(self.model())

    @staticmethod
    def get_parameters(model: nn.Module) -> list[np.ndarray]:
        return [t.detach().cpu().numpy().copy() for t in model.state_dict().values()]

    def set_parameters(self, model: nn.Module, parameters: Sequence[np.ndarray]) -> None:
        """Load ``parameters`` into ``model``; refuse a list of the wrong shapes."""
        check_update(parameters, self.shapes())
        state = model.state_dict()
        new = {
            k: torch.as_tensor(np.asarray(p), dtype=v.dtype)
            for (k, v), p in zip(state.items(), parameters, strict=True)
        }
        model.load_state_dict(new)

    def shapes(self) -> list[tuple[int, ...]]:
        """The shapes of the arrays of a model of this task, in order."""
        widths = [self.n_features, *self.hidden, self.n_classes]
        return [s for a, b in itertools.pairwise(widths) for s in ((b, a), (b,))]

    # -- local work --------------------------------------------------------
    def fit(
        self,
        parameters: Sequence[np.ndarray],
        X: np.ndarray,
        y: np.ndarray,
        *,
        proximal_mu: float = 0.0,
        round_seed: int = 0,
    ) -> tuple[list[np.ndarray], float]:
        """Train from ``parameters`` on (X, y) for ``epochs``; the new parameters and mean loss."""
        with _one_thread():
            return self._fit(parameters, X, y, proximal_mu, round_seed)

    def _fit(
        self,
        parameters: Sequence[np.ndarray],
        X: np.ndarray,
        y: np.ndarray,
        proximal_mu: float,
        round_seed: int,
    ) -> tuple[list[np.ndarray], float]:
        model = self.model()
        self.set_parameters(model, parameters)
        x = torch.as_tensor(X, dtype=torch.float32)
        t = torch.as_tensor(y, dtype=torch.long)
        anchor = [p.detach().clone() for p in model.parameters()] if proximal_mu > 0 else None
        optimizer = torch.optim.SGD(model.parameters(), lr=self.learning_rate, momentum=0.9)
        loss_fn = nn.CrossEntropyLoss()
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + round_seed)
        n, total, count = x.shape[0], 0.0, 0
        model.train()
        for _ in range(self.epochs):
            order = torch.randperm(n, generator=gen)
            for start in range(0, n, self.batch_size):
                idx = order[start : start + self.batch_size]
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(model(x[idx]), t[idx])
                total += float(loss.detach()) * idx.numel()
                count += idx.numel()
                if anchor is not None:
                    prox = sum(
                        ((p - a) ** 2).sum()
                        for p, a in zip(model.parameters(), anchor, strict=True)
                    )
                    loss = loss + proximal_mu / 2 * prox
                loss.backward()
                optimizer.step()
        return self.get_parameters(model), total / max(count, 1)

    def evaluate(
        self, parameters: Sequence[np.ndarray], X: np.ndarray, y: np.ndarray
    ) -> Evaluation:
        """Loss, accuracy and softmax scores of the model ``parameters`` on (X, y)."""
        with _one_thread():
            return self._evaluate(parameters, X, y)

    def _evaluate(
        self, parameters: Sequence[np.ndarray], X: np.ndarray, y: np.ndarray
    ) -> Evaluation:
        model = self.model()
        self.set_parameters(model, parameters)
        model.eval()
        with torch.no_grad():
            logits = model(torch.as_tensor(X, dtype=torch.float32))
            t = torch.as_tensor(y, dtype=torch.long)
            loss = float(nn.functional.cross_entropy(logits, t)) if len(y) else float("nan")
            scores = torch.softmax(logits, dim=1).numpy()
        accuracy = (
            float((scores.argmax(axis=1) == np.asarray(y)).mean()) if len(y) else float("nan")
        )
        return Evaluation(loss=loss, accuracy=accuracy, n=len(y), scores=scores)

    def check_data(self, X: np.ndarray, y: np.ndarray, *, where: str = "the data") -> None:
        """Refuse local data the model cannot use: wrong width, non-finite values, bad labels."""
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise DataError(
                f"{where} has {X.shape[1] if X.ndim == 2 else X.shape} features; the model takes "
                f"{self.n_features}: every site must have the same feature columns and the "
                "same category lists (--categories)"
            )
        if len(X) != len(y) or len(y) == 0:
            raise DataError(
                f"{where} has {len(X)} feature rows and {len(y)} labels; need >= 1 of each, equal"
            )
        if not np.isfinite(X).all():
            raise DataError(
                f"{where} holds NaN or infinite feature values; impute or drop them first"
            )
        if y.min() < 0 or y.max() >= self.n_classes:
            raise DataError(
                f"{where} has labels outside 0..{self.n_classes - 1}; give the class list so every "
                "site numbers the classes the same way"
            )


def check_update(parameters: Sequence[Any], shapes: Sequence[tuple[int, ...]]) -> None:
    """Refuse a model update of the wrong shapes or with NaN/infinite values.

    Raises
    ------
    DataError
        The update does not fit the model (a count or a shape differs) or holds
        a non-finite value.
    """
    if len(parameters) != len(shapes):
        raise DataError(f"the update has {len(parameters)} arrays; the model has {len(shapes)}")
    for i, (p, shape) in enumerate(zip(parameters, shapes, strict=True)):
        array = np.asarray(p)
        if tuple(array.shape) != tuple(shape):
            raise DataError(f"array {i} of the update has shape {array.shape}; expected {shape}")
        if not np.issubdtype(array.dtype, np.number) or not np.isfinite(array).all():
            raise DataError(f"array {i} of the update holds NaN, infinite or non-numeric values")
