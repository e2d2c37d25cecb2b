"""Saving and loading veil's trained table models as plain, safely loadable files.

A model file is a ``torch.save`` of a dictionary holding only tensors, text and
numbers: the network's weights, the encoder's schema, the classes and the
privacy it cost. It is read back with ``torch.load(weights_only=True)``, which
refuses pickled code, so opening a model file from someone else cannot run
anything. A file that is not such a dictionary is refused with a clear error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from veil.errors import DataError
from veil.learn.estimators import DPLogisticRegression, DPMLPClassifier
from veil.learn.preprocessing import FeatureEncoder
from veil.privacy import PrivacyLoss

__all__ = ["FORMAT", "load_model", "save_model"]

FORMAT = "veil-model/1"
_KINDS = {"logistic": DPLogisticRegression, "mlp": DPMLPClassifier}


def save_model(model: Any, path: str | os.PathLike[str]) -> None:
    """Write a fitted :class:`DPMLPClassifier` or :class:`DPLogisticRegression` atomically."""
    import torch

    from veil.io import atomic_path

    model._fitted()
    meta = {
        "kind": model.kind,
        "hidden_layer_sizes": list(getattr(model, "hidden_layer_sizes", []) or []),
        "classes": [str(c) for c in model.classes_],
        "features": model.feature_names_in_,
        "encoder": model.encoder_.to_dict(),
        "privacy": model.privacy_.to_dict() if model.privacy_ is not None else None,
        "public": model.public_,
        "training": {
            "noise_multiplier": getattr(model, "noise_multiplier_", None),
            "max_grad_norm": model.max_grad_norm,
            "batch_size": model.batch_size,
            "epochs": model.epochs,
        },
    }
    payload = {
        "format": FORMAT,
        "meta": json.dumps(meta, default=float),
        "state": {k: v.detach().cpu() for k, v in model.model_.state_dict().items()},
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_model(path: str | os.PathLike[str]) -> DPMLPClassifier | DPLogisticRegression:
    """Read a model written by :func:`save_model`, ready to ``predict``.

    Raises
    ------
    DataError
        The file is missing, unreadable, or not a veil model file.
    """
    import torch

    target = Path(path)
    if not target.is_file():
        raise DataError(f"model file {str(target)!r} does not exist or is not a file")
    try:
        payload = torch.load(target, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many kinds on foreign bytes
        raise DataError(
            f"{str(target)!r} is not a veil model file (written by `veil train -o`): "
            f"{str(err).splitlines()[0][:120]}"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise DataError(
            f"{str(target)!r} is not a veil model file (written by `veil train -o`); its "
            "format mark is missing"
        )
    try:
        meta = json.loads(payload["meta"])
        cls = _KINDS[meta["kind"]]
        if cls is DPMLPClassifier:
            model: Any = DPMLPClassifier(tuple(meta["hidden_layer_sizes"]))
        else:
            model = DPLogisticRegression()
        model.encoder_ = FeatureEncoder.from_dict(meta["encoder"])
        model.classes_ = np.asarray(meta["classes"], dtype=object)
        model.feature_names_in_ = list(meta["features"])
        model.n_features_in_ = len(model.feature_names_in_)
        network = model._network(model.encoder_.width, len(model.classes_))
        network.load_state_dict(payload["state"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise DataError(
            f"{str(target)!r} is a damaged veil model file: {str(err).splitlines()[0][:120]}"
        ) from None
    model.model_ = network.eval()
    privacy = meta.get("privacy")
    model.privacy_ = (
        PrivacyLoss(
            epsilon=privacy["epsilon"],
            delta=privacy["delta"],
            rho=privacy.get("rho"),
            event=privacy.get("event"),
        )
        if privacy
        else None
    )
    model.public_ = list(meta.get("public", []))
    for key, value in meta.get("training", {}).items():
        if key == "noise_multiplier":
            model.noise_multiplier_ = value
        else:
            setattr(model, key, value)
    return model
