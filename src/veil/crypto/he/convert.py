"""One call from a trained scikit-learn or PyTorch model to an :class:`HEModel`.

What converts:

- scikit-learn: linear regressors (``LinearRegression``, ``Ridge``, ``Lasso``,
  ``ElasticNet``, ``SGDRegressor``...: any estimator with ``coef_`` and
  ``intercept_`` and no ``classes_``), logistic classifiers
  (``LogisticRegression``, binary or multi-class with its softmax;
  binary ``SGDClassifier(loss="log_loss")``), and a
  ``Pipeline`` of a ``StandardScaler`` before one of them (the scaler is
  folded into the weights: ``w / sigma`` and ``b - sum(w mu / sigma)``);
- PyTorch: an ``nn.Sequential`` of ``nn.Linear`` layers and activations.
  :class:`~veil.crypto.he.activation.PolynomialActivation` converts exactly;
  ``nn.Identity`` and ``nn.Dropout`` are skipped (inference); a final
  ``nn.Sigmoid`` (one output) or ``nn.Softmax`` becomes the client's link,
  exact; ``ReLU``, ``Sigmoid``, ``Tanh``, ``GELU``, ``SiLU`` inside the network are
  replaced by a fitted polynomial only when ``approximate=(degree, bound)`` is
  given, and the model's ``approximation_error`` states the fit's error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import erf, expit

from veil.crypto.he.models import Dense, HEModel, Polynomial
from veil.crypto.he.polynomials import fit_polynomial
from veil.errors import DataError, ParameterError

__all__ = ["from_sklearn", "from_torch", "load_model"]


def _names(estimator: Any) -> tuple[str, ...] | None:
    names = getattr(estimator, "feature_names_in_", None)
    return tuple(str(n) for n in names) if names is not None else None


def from_sklearn(estimator: Any) -> HEModel:
    """Convert a fitted scikit-learn linear model (or scaler + linear model pipeline).

    Raises
    ------
    ParameterError
        The estimator is not fitted, not linear, a classifier without a
        logistic loss, or a one-versus-rest multi-class classifier.
    """
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    mean = scale = None
    names = _names(estimator)
    if isinstance(estimator, Pipeline):
        steps = [s for _, s in estimator.steps if s is not None and s != "passthrough"]
        if len(steps) == 2 and isinstance(steps[0], StandardScaler):
            scaler = steps[0]
            mean = scaler.mean_ if scaler.with_mean else None
            scale = scaler.scale_ if scaler.with_std else None
            estimator = steps[1]
        elif len(steps) == 1:
            estimator = steps[0]
        else:
            raise ParameterError(
                "only a Pipeline of StandardScaler then one linear model converts; got "
                + " -> ".join(type(s).__name__ for s in steps)
            )
    if not hasattr(estimator, "coef_") or not hasattr(estimator, "intercept_"):
        raise ParameterError(
            f"{type(estimator).__name__} is not a fitted linear model (no coef_/intercept_): "
            "fit it first, or use LinearRegression, Ridge, LogisticRegression..."
        )
    w = np.atleast_2d(np.asarray(estimator.coef_, dtype=np.float64))
    b = np.atleast_1d(np.asarray(estimator.intercept_, dtype=np.float64)).reshape(-1)
    if b.size == 1 and w.shape[0] > 1:
        b = np.repeat(b, w.shape[0])
    if scale is not None:
        w = w / scale
    if mean is not None:
        b = b - w @ mean
    names = names or _names(estimator)
    classes = getattr(estimator, "classes_", None)
    kind = type(estimator).__name__
    if classes is None:
        outputs = (
            ("prediction",)
            if w.shape[0] == 1
            else tuple(f"prediction_{i}" for i in range(w.shape[0]))
        )
        return HEModel(
            [Dense(w, b)],
            link="identity",
            outputs=outputs,
            feature_names=names,
            description=f"scikit-learn {kind}",
        )
    if len(classes) > 2:
        if kind != "LogisticRegression":
            raise ParameterError(
                f"{kind} has {len(classes)} classes, scored one-versus-rest (no softmax): "
                "use LogisticRegression, whose multi-class probabilities are a softmax"
            )
        return HEModel(
            [Dense(w, b)],
            link="softmax",
            outputs=tuple(f"probability_{c}" for c in classes),
            feature_names=names,
            description=f"scikit-learn {kind} ({len(classes)} classes, softmax)",
        )
    loss = getattr(estimator, "loss", "log_loss")
    if kind != "LogisticRegression" and loss not in ("log_loss", "log"):
        raise ParameterError(
            f"{kind} with loss {loss!r} has no probability; use LogisticRegression or "
            "SGDClassifier(loss='log_loss')"
        )
    return HEModel(
        [Dense(w, b)],
        link="sigmoid",
        outputs=("probability",),
        feature_names=names,
        description=f"scikit-learn {kind} (probability of class {classes[1]!r})",
    )


_APPROXIMABLE = {
    "ReLU": lambda x: np.maximum(x, 0.0),
    "Sigmoid": expit,
    "Tanh": np.tanh,
    "GELU": lambda x: 0.5 * x * (1.0 + erf(x / np.sqrt(2.0))),
    "SiLU": lambda x: x * expit(x),
}


def from_torch(module: Any, *, approximate: tuple[int, float] | None = None) -> HEModel:
    """Convert an ``nn.Sequential`` of ``nn.Linear`` layers and activations.

    Parameters
    ----------
    module
        The trained network (``nn.Sequential``, or a single ``nn.Linear``).
    approximate
        ``(degree, bound)``: replace each ReLU/Sigmoid/Tanh/GELU/SiLU inside the
        network by its Chebyshev interpolant on ``[-bound, bound]``; the
        largest fit error goes to ``approximation_error``. Without it such a
        layer is refused: the encrypted network would not be the trained one.

    Raises
    ------
    ParameterError
        A layer that does not convert, or a non-polynomial activation without
        ``approximate``.
    """
    from torch import nn

    from veil.crypto.he.activation import PolynomialActivation

    mods = list(module) if isinstance(module, nn.Sequential) else [module]
    layers: list[Dense | Polynomial] = []
    link, error, notes = "identity", 0.0, []
    for i, m in enumerate(mods):
        last = i == len(mods) - 1
        name = type(m).__name__
        if isinstance(m, nn.Linear):
            w = m.weight.detach().double().numpy()
            b = m.bias.detach().double().numpy() if m.bias is not None else np.zeros(w.shape[0])
            layers.append(Dense(w, b))
        elif isinstance(m, PolynomialActivation):
            layers.append(Polynomial(tuple(m.coefficients.detach().double().tolist())))
        elif isinstance(m, nn.Identity | nn.Dropout):
            continue
        elif last and isinstance(m, nn.Sigmoid):
            link = "sigmoid"
        elif last and isinstance(m, nn.Softmax | nn.LogSoftmax):
            link = "softmax"
        elif name in _APPROXIMABLE:
            if approximate is None:
                raise ParameterError(
                    f"layer {i} ({name}) is not a polynomial: train with "
                    "veil.crypto.he.PolynomialActivation, or pass approximate=(degree, bound) "
                    "to replace it by a fitted polynomial (its error is stated)"
                )
            degree, bound = approximate
            fit = fit_polynomial(_APPROXIMABLE[name], degree=int(degree), bound=float(bound))
            layers.append(Polynomial(fit.coefficients))
            error = max(error, fit.max_error)
            notes.append(f"{name} as degree-{degree} polynomial on [-{bound:g}, {bound:g}]")
        else:
            raise ParameterError(
                f"layer {i} ({name}) does not convert: use nn.Linear, "
                "veil.crypto.he.PolynomialActivation, and a final nn.Sigmoid/nn.Softmax"
            )
    if not layers or not isinstance(layers[0], Dense):
        raise ParameterError("the network must start with an nn.Linear layer")
    width = next(layer.n_outputs for layer in reversed(layers) if isinstance(layer, Dense))
    if link == "sigmoid" and width == 1:
        outputs: tuple[str, ...] = ("probability",)
    elif link in ("sigmoid", "softmax"):
        outputs = tuple(f"probability_{k}" for k in range(width))
    else:
        outputs = ("prediction",) if width == 1 else tuple(f"prediction_{k}" for k in range(width))
    desc = "PyTorch " + " -> ".join(type(m).__name__ for m in mods)
    if notes:
        desc += f" ({'; '.join(notes)}, max error {error:.3g} per activation)"
    return HEModel(layers, link=link, outputs=outputs, approximation_error=error, description=desc)


def load_model(path: str | Path, *, approximate: tuple[int, float] | None = None) -> HEModel:
    """Load a scikit-learn model saved with joblib, or a ``torch.save``'d network, and convert it.

    ``.pt``/``.pth`` files are read with PyTorch, anything else with joblib.
    Both formats are pickles: loading runs code from the file, so serve only
    models you trust.

    Raises
    ------
    DataError
        The file is missing or is neither format.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"model file {str(path)!r} does not exist")
    if path.suffix.lower() in (".pt", ".pth"):
        import torch

        try:
            model = torch.load(path, weights_only=False, map_location="cpu")
        except Exception as err:  # torch raises many types on a bad file
            raise DataError(
                f"{str(path)!r} is not a PyTorch model file ({type(err).__name__})"
            ) from None
        if isinstance(model, dict):
            raise DataError(
                f"{str(path)!r} holds a state_dict; save the module itself: torch.save(model, path)"
            )
        return from_torch(model, approximate=approximate)
    import joblib

    try:
        model = joblib.load(path)
    except Exception as err:  # joblib/pickle raise many types on a bad file
        raise DataError(
            f"{str(path)!r} is not a joblib model file ({type(err).__name__})"
        ) from None
    return from_sklearn(model)
