"""Scikit-learn style classifiers for tables, trained with DP-SGD and charged to a ledger.

``DPLogisticRegression`` and ``DPMLPClassifier`` take a table and a target the
way scikit-learn's estimators do (``fit`` / ``predict`` / ``predict_proba`` /
``score``), and differ from them in three ways a data steward needs:

* the whole fit is differentially private: preprocessing included (bounds are
  given or estimated with DP, category sets given or reported as public,
  :mod:`veil.learn.preprocessing`), then DP-SGD (:class:`~veil.learn.DPTrainer`);
* the total loss is known before the first row is read and reserved in the
  ledger when one is given, so a refused budget trains nothing and a crash
  leaves the spend counted;
* ``privacy_`` says what was spent and ``public_`` what was assumed public.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from veil.errors import ColumnError, DataError, ParameterError
from veil.learn.preprocessing import FeatureEncoder
from veil.privacy import PoissonSampledGaussianEvent, PrivacyLoss, check_delta, check_epsilon, then

__all__ = ["DPLogisticRegression", "DPMLPClassifier", "as_features", "as_target"]


def as_features(X: Any) -> pl.DataFrame:
    """The feature table as polars: pandas/polars/pyarrow tables, or a 2-D array."""
    if isinstance(X, (np.ndarray, list)):
        array = np.asarray(X)
        if array.ndim != 2:
            raise DataError(f"X must be a table or a 2-D array; got {array.ndim} dimension(s)")
        return pl.DataFrame({f"x{i}": array[:, i] for i in range(array.shape[1])})
    from veil.io import read_table

    return read_table(X)


def as_target(y: Any, n: int) -> np.ndarray:
    """The labels as a 1-D object array of length ``n``, refusing missing values."""
    if isinstance(y, pl.Series):
        values = y.to_list()
    elif hasattr(y, "to_numpy"):
        values = list(y.to_numpy())
    else:
        values = list(np.asarray(y).ravel())
    if len(values) != n:
        raise DataError(f"y has {len(values)} labels for {n} rows; give one label per row")
    bad = sum(1 for v in values if v is None or (isinstance(v, float) and math.isnan(v)))
    if bad:
        raise DataError(
            f"the target has {bad} missing value(s) (NaN or empty); drop those rows or fill "
            "their labels first"
        )
    return np.asarray(values, dtype=object)


class _DPClassifier:
    """Shared fit/predict of the DP classifiers; subclasses build the network."""

    def __init__(
        self,
        *,
        epsilon: float = 1.0,
        delta: float = 1e-5,
        max_grad_norm: float = 1.0,
        batch_size: int = 256,
        epochs: int = 10,
        learning_rate: float = 1e-3,
        bounds: Mapping[str, Any] | None = None,
        categories: Mapping[str, Sequence[Any]] | None = None,
        bounds_fraction: float = 0.05,
        accountant: str = "pld",
        ledger: Any = None,
        dataset: str | None = None,
        spender: str | None = None,
        seed: int | None = None,
        progress: Any = False,
    ) -> None:
        self.epsilon = epsilon
        self.delta = delta
        self.max_grad_norm = max_grad_norm
        self.batch_size = batch_size
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.bounds = bounds
        self.categories = categories
        self.bounds_fraction = bounds_fraction
        self.accountant = accountant
        self.ledger = ledger
        self.dataset = dataset
        self.spender = spender
        self.seed = seed
        self.progress = progress

    # -- what subclasses provide -------------------------------------------------------
    def _network(self, n_inputs: int, n_classes: int) -> Any:
        raise NotImplementedError

    @property
    def kind(self) -> str:
        raise NotImplementedError

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters (scikit-learn's estimator contract)."""
        import inspect

        names = [
            p
            for p in inspect.signature(type(self).__init__).parameters
            if p not in ("self", "args", "kwargs")
        ]
        return {name: getattr(self, name) for name in names}

    def set_params(self, **params: Any) -> _DPClassifier:
        for key, value in params.items():
            if key not in self.get_params():
                raise ParameterError(f"{type(self).__name__} has no parameter {key!r}")
            setattr(self, key, value)
        return self

    # -- fitting ---------------------------------------------------------------------------
    def _check(self) -> tuple[float, float]:
        eps = check_epsilon(self.epsilon)
        delta = check_delta(self.delta)
        if delta <= 0:
            raise ParameterError("DP-SGD needs delta > 0 (e.g. 1e-5, below 1 / number of rows)")
        if not 0.0 < float(self.bounds_fraction) < 1.0:
            raise ParameterError(
                f"bounds_fraction must be in (0, 1), the share of epsilon spent on estimating "
                f"bounds; got {self.bounds_fraction!r}"
            )
        for name in ("batch_size", "epochs"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ParameterError(f"{name} must be a positive integer; got {value!r}")
        if self.ledger is not None and not self.dataset:
            raise ParameterError("a ledger needs the dataset's name to charge (dataset=...)")
        return eps, delta

    def _plan(
        self, frame: pl.DataFrame, n: int, eps: float, delta: float
    ) -> tuple[FeatureEncoder, float, PoissonSampledGaussianEvent, PrivacyLoss]:
        """Everything the privacy loss depends on, decided before any private value is read.

        The number of rows is treated as public, as in Opacus and TF Privacy: it sets
        the sampling rate. The column types (not values) decide which bounds are
        estimated.
        """
        from veil.learn import calibrate_noise_multiplier

        encoder = FeatureEncoder(
            bounds=dict(self.bounds or {}), categories=dict(self.categories or {})
        )
        if encoder.needs_bounds(frame):
            encoder.bounds_epsilon = eps * float(self.bounds_fraction)
        bounds_eps = encoder.bounds_epsilon
        # The checks fit would make later, now: a table it refuses costs no budget.
        encoder.validate(frame)
        batch = min(int(self.batch_size), n)
        q = batch / n
        steps = int(self.epochs) * max(1, round(1 / q))
        sigma = calibrate_noise_multiplier(
            eps - bounds_eps,
            delta=delta,
            sampling_probability=q,
            steps=steps,
            accountant=self.accountant,
        )
        event = PoissonSampledGaussianEvent(
            noise_multiplier=sigma, sampling_probability=q, steps=steps
        )
        sgd = PrivacyLoss.from_event(event, delta=delta)
        loss = then(PrivacyLoss.pure(bounds_eps), sgd) if bounds_eps else sgd
        return encoder, sigma, event, loss

    def fit(self, X: Any, y: Any) -> _DPClassifier:
        """Train on the table ``X`` and labels ``y`` with differential privacy.

        Raises
        ------
        BudgetExceededError
            The ledger refuses the loss; nothing was read or trained.
        DataError
            Missing labels, a single class, a feature with no usable values.
        """
        import torch

        from veil.learn import DPTrainer

        eps, delta = self._check()
        frame = as_features(X)
        n = frame.height
        if n < 2:
            raise DataError(f"need at least 2 rows to train; got {n}")
        labels = as_target(y, n)
        classes = sorted({str(v) for v in labels})
        if len(classes) < 2:
            raise DataError(
                f"the target has a single class ({classes[0]!r}); a classifier needs at least two"
            )
        encoder, sigma, event, loss = self._plan(frame, n, eps, delta)
        book, owned, reservation = None, False, None
        if self.ledger is not None:
            from veil.ledger import as_ledger

            book, owned = as_ledger(self.ledger)
        try:
            if book is not None:
                reservation = book.reserve(
                    self.dataset,  # type: ignore[arg-type]
                    loss,
                    what=f"{self.kind} model (DP-SGD)",
                    mechanism="DP-SGD (Poisson-sampled Gaussian)"
                    + (" + DP bounds (discrete Laplace)" if encoder.bounds_epsilon else ""),
                    parameters=self._ledger_parameters(sigma, event),
                    spender=self.spender,
                )
            # From here on the loss is counted: a crash or an error keeps it reserved
            # (noise may have been drawn and a partial model may exist).
            encoder.fit(frame)
            features = encoder.transform(frame)
            index = {c: i for i, c in enumerate(classes)}
            targets = np.array([index[str(v)] for v in labels], dtype=np.int64)
            if self.seed is not None:
                torch.manual_seed(self.seed)
            network = self._network(encoder.width, len(classes))
            trainer = DPTrainer(
                noise_multiplier=sigma,
                delta=delta,
                max_grad_norm=self.max_grad_norm,
                batch_size=min(int(self.batch_size), n),
                epochs=self.epochs,
                learning_rate=self.learning_rate,
                accountant=self.accountant,
                progress=self.progress,
                seed=self.seed,
            )
            result = trainer.fit(network, features, targets)
            if result.steps != event.steps or not math.isclose(
                result.sampling_probability, event.sampling_probability
            ):
                raise AssertionError("the trainer ran other steps than the loss reserved")
        except BaseException:
            if owned and book is not None:
                book.close()
            raise
        self.model_ = result.model.eval()
        self.encoder_ = encoder
        self.classes_ = np.asarray(classes, dtype=object)
        self.n_features_in_ = frame.width
        self.feature_names_in_ = list(frame.columns)
        self.training_ = result
        self.noise_multiplier_ = sigma
        self.privacy_ = loss
        shown = ", ".join(classes[:10]) + ("..." if len(classes) > 10 else "")
        self.public_ = [
            *encoder.public(),
            f"the number of rows ({n:,}) and the class labels ({shown}) were treated as public",
        ]
        if book is not None and reservation is not None:
            try:
                book.finish(reservation, {"epsilon": loss.epsilon, "delta": loss.delta})
            finally:
                if owned:
                    book.close()
        self.release_id_ = reservation.id if reservation is not None else None
        return self

    def _ledger_parameters(self, sigma: float, event: PoissonSampledGaussianEvent) -> dict:
        return {
            "model": self.kind,
            "noise_multiplier": sigma,
            "max_grad_norm": self.max_grad_norm,
            "sampling_probability": event.sampling_probability,
            "steps": event.steps,
            "epochs": self.epochs,
            "bounds_fraction": self.bounds_fraction,
        }

    # -- predicting -----------------------------------------------------------------------
    def _fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise ParameterError(f"this {type(self).__name__} is not fitted; call fit first")

    def _inputs(self, X: Any) -> Any:
        import torch

        self._fitted()
        frame = as_features(X)
        if isinstance(X, np.ndarray) and frame.width == len(self.feature_names_in_):
            frame.columns = self.feature_names_in_
        return torch.from_numpy(self.encoder_.transform(frame))

    def decision_function(self, X: Any) -> np.ndarray:
        """The network's logits, one column per class."""
        import torch

        with torch.no_grad():
            return self.model_(self._inputs(X)).double().numpy()

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        logits = self.decision_function(X)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each row."""
        self._fitted()
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]

    def score(self, X: Any, y: Any) -> float:
        """Accuracy on ``X``, ``y`` (labels compared as text, as they were at fit)."""
        truth = np.asarray([str(v) for v in as_target(y, len(self.predict(X)))], dtype=object)
        return float(np.mean(self.predict(X).astype(str) == truth.astype(str)))

    def example_losses(self, X: Any, y: Any) -> np.ndarray:
        """Cross-entropy of each row: what a membership-inference attack looks at."""
        proba = self.predict_proba(X)
        index = {str(c): i for i, c in enumerate(self.classes_)}
        labels = as_target(y, proba.shape[0])
        missing = sorted({str(v) for v in labels} - set(index))
        if missing:
            raise ColumnError(f"labels {missing[:5]} were not seen in training")
        rows = np.array([index[str(v)] for v in labels])
        return -np.log(np.clip(proba[np.arange(len(rows)), rows], 1e-12, 1.0))


class DPLogisticRegression(_DPClassifier):
    """Multinomial logistic regression trained with DP-SGD (a linear layer, softmax loss).

    Parameters are those of :class:`DPMLPClassifier` without the hidden layers:
    ``epsilon`` and ``delta`` are the total loss (bounds estimation included),
    ``max_grad_norm`` the per-example clipping norm, ``batch_size`` the expected
    (Poisson) batch size, ``bounds`` / ``categories`` the public schema,
    ``bounds_fraction`` the share of epsilon spent on bounds not given, and
    ``ledger`` / ``dataset`` / ``spender`` where the spend is reserved.
    Abadi et al. 2016 (DP-SGD); Chaudhuri, Monteleoni and Sarwate 2011 for why
    a private linear model needs its inputs bounded.
    """

    def __init__(
        self,
        *,
        epsilon: float = 1.0,
        delta: float = 1e-5,
        max_grad_norm: float = 1.0,
        batch_size: int = 256,
        epochs: int = 10,
        learning_rate: float = 1e-2,
        bounds: Mapping[str, Any] | None = None,
        categories: Mapping[str, Sequence[Any]] | None = None,
        bounds_fraction: float = 0.05,
        accountant: str = "pld",
        ledger: Any = None,
        dataset: str | None = None,
        spender: str | None = None,
        seed: int | None = None,
        progress: Any = False,
    ) -> None:
        super().__init__(
            epsilon=epsilon,
            delta=delta,
            max_grad_norm=max_grad_norm,
            batch_size=batch_size,
            epochs=epochs,
            learning_rate=learning_rate,
            bounds=bounds,
            categories=categories,
            bounds_fraction=bounds_fraction,
            accountant=accountant,
            ledger=ledger,
            dataset=dataset,
            spender=spender,
            seed=seed,
            progress=progress,
        )

    kind = "logistic"  # type: ignore[assignment]

    def _network(self, n_inputs: int, n_classes: int) -> Any:
        from torch import nn

        return nn.Linear(n_inputs, n_classes)


class DPMLPClassifier(_DPClassifier):
    """A multi-layer perceptron (ReLU) trained with DP-SGD, like scikit-learn's MLPClassifier.

    Parameters
    ----------
    hidden_layer_sizes
        Widths of the hidden layers, e.g. ``(256, 256)``.
    epsilon, delta
        The total privacy loss of the fit, bounds estimation included.
    max_grad_norm, batch_size, epochs, learning_rate
        DP-SGD's clipping norm, expected Poisson batch size, passes and Adam's step.
    bounds, categories, bounds_fraction
        The public schema (see :class:`~veil.learn.preprocessing.FeatureEncoder`).
    ledger, dataset, spender
        Where the loss is reserved before training.
    seed
        For the weights' initialisation only; never for the privacy noise.
    """

    def __init__(
        self,
        hidden_layer_sizes: Sequence[int] = (256, 256),
        *,
        epsilon: float = 1.0,
        delta: float = 1e-5,
        max_grad_norm: float = 1.0,
        batch_size: int = 256,
        epochs: int = 10,
        learning_rate: float = 1e-3,
        bounds: Mapping[str, Any] | None = None,
        categories: Mapping[str, Sequence[Any]] | None = None,
        bounds_fraction: float = 0.05,
        accountant: str = "pld",
        ledger: Any = None,
        dataset: str | None = None,
        spender: str | None = None,
        seed: int | None = None,
        progress: Any = False,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        super().__init__(
            epsilon=epsilon,
            delta=delta,
            max_grad_norm=max_grad_norm,
            batch_size=batch_size,
            epochs=epochs,
            learning_rate=learning_rate,
            bounds=bounds,
            categories=categories,
            bounds_fraction=bounds_fraction,
            accountant=accountant,
            ledger=ledger,
            dataset=dataset,
            spender=spender,
            seed=seed,
            progress=progress,
        )

    kind = "mlp"  # type: ignore[assignment]

    def _network(self, n_inputs: int, n_classes: int) -> Any:
        from torch import nn

        sizes = [int(s) for s in self.hidden_layer_sizes]
        if not sizes or min(sizes) < 1:
            raise ParameterError(
                f"hidden_layer_sizes must be positive widths, e.g. (256, 256); got "
                f"{self.hidden_layer_sizes!r}"
            )
        layers: list[Any] = []
        width = n_inputs
        for size in sizes:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        layers.append(nn.Linear(width, n_classes))
        return nn.Sequential(*layers)
