"""Models a server evaluates on CKKS ciphertexts: dense layers and polynomial activations.

A model is a list of layers, each one CKKS can evaluate without the secret key:

- :class:`Dense` (``y = W x + b`` with plaintext weights): one level, since
  every product of a ciphertext by a plaintext weight is rescaled once;
- :class:`Polynomial` (``c0 + c1 h + ... + cd h^d`` elementwise, Horner's
  rule): d levels.

Linear and logistic regression are one :class:`Dense` layer; a small MLP in
the style of CryptoNets (Gilad-Bachrach et al. 2016) alternates :class:`Dense`
and :class:`Polynomial` layers. What the server returns is decrypted by the
client, who then applies the model's ``link`` exactly (sigmoid for logistic
regression, softmax for several classes); a server that must return a
probability itself evaluates a fitted polynomial instead (:meth:`HEModel.with_server_link`,
its error stated by :func:`veil.crypto.he.polynomials.sigmoid_polynomial`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import tenseal as ts
from scipy.special import expit, softmax

from veil.crypto.he.context import HEContext, HEParameters, parameters_for_depth
from veil.crypto.he.packing import EncryptedBatch
from veil.crypto.he.polynomials import sigmoid_polynomial
from veil.errors import DataError, ParameterError, ProtocolError

__all__ = ["LINKS", "Dense", "HEModel", "Polynomial", "apply_link"]

#: What the client applies to the decrypted outputs.
LINKS = ("identity", "sigmoid", "softmax")


def apply_link(link: str, outputs: np.ndarray) -> np.ndarray:
    """The client's last step, exact: sigmoid or softmax of the decrypted scores, or nothing."""
    if link == "sigmoid":
        return expit(outputs)
    if link == "softmax":
        return softmax(outputs, axis=1)
    if link == "identity":
        return outputs
    raise ParameterError(f"link must be one of {', '.join(LINKS)}; got {link!r}")


@dataclass(frozen=True)
class Dense:
    """``y = W x + b`` with plaintext ``weight`` (outputs x inputs) and ``bias``."""

    weight: np.ndarray
    bias: np.ndarray

    def __post_init__(self) -> None:
        w = np.atleast_2d(np.asarray(self.weight, dtype=np.float64))
        b = np.asarray(self.bias, dtype=np.float64).reshape(-1)
        if b.shape[0] != w.shape[0]:
            raise ParameterError(f"bias has {b.shape[0]} values for {w.shape[0]} outputs")
        if not (np.isfinite(w).all() and np.isfinite(b).all()):
            raise ParameterError("the layer's weights hold NaN or infinite values")
        object.__setattr__(self, "weight", w)
        object.__setattr__(self, "bias", b)

    depth = 1

    @property
    def n_inputs(self) -> int:
        return int(self.weight.shape[1])

    @property
    def n_outputs(self) -> int:
        return int(self.weight.shape[0])

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x @ self.weight.T + self.bias

    def encrypted(self, inputs: list[ts.CKKSVector]) -> list[ts.CKKSVector]:
        outputs = []
        for row, b in zip(self.weight, self.bias, strict=True):
            acc = None
            for x, w in zip(inputs, row, strict=True):
                if w == 0.0:
                    continue  # a zero weight adds nothing; skip its multiplication
                term = x * float(w)
                if acc is None:
                    acc = term
                else:
                    acc += term
            if acc is None:  # an all-zero row: an encrypted zero at the right level
                acc = inputs[0] * 0.0
            acc += float(b)
            outputs.append(acc)
        return outputs


@dataclass(frozen=True)
class Polynomial:
    """Elementwise ``c0 + c1 h + ... + cd h^d``; ``coefficients`` from the constant term up."""

    coefficients: tuple[float, ...]

    def __post_init__(self) -> None:
        c = [float(v) for v in self.coefficients]
        while len(c) > 1 and c[-1] == 0.0:
            c.pop()
        if len(c) < 2:
            raise ParameterError("a polynomial activation needs degree >= 1")
        if not np.isfinite(c).all():
            raise ParameterError("polynomial coefficients hold NaN or infinite values")
        object.__setattr__(self, "coefficients", tuple(c))

    @property
    def degree(self) -> int:
        return len(self.coefficients) - 1

    @property
    def depth(self) -> int:
        return self.degree

    def forward(self, h: np.ndarray) -> np.ndarray:
        return np.polynomial.polynomial.polyval(h, self.coefficients)

    def encrypted(self, inputs: list[ts.CKKSVector]) -> list[ts.CKKSVector]:
        c = self.coefficients
        outputs = []
        for h in inputs:
            # Horner: ((c_d h + c_{d-1}) h + ...) h + c_0, one level per step.
            acc = h * c[-1]
            acc += c[-2]
            for k in range(len(c) - 3, -1, -1):
                acc = acc * h
                acc += c[k]
            outputs.append(acc)
        return outputs


Layer = Dense | Polynomial


@dataclass
class HEModel:
    """A model the server evaluates on encrypted samples, and the client finishes.

    Parameters
    ----------
    layers
        :class:`Dense` and :class:`Polynomial` layers, applied in order.
    link
        Applied by the client after decryption: ``"identity"``, ``"sigmoid"``
        or ``"softmax"``.
    outputs
        Names of the result columns (``("probability",)`` for a binary classifier).
    feature_names
        The columns the model reads, in order, when known.
    approximation_error
        Largest error the model's polynomial approximations add on their
        stated input range (0 when the network is evaluated exactly).
    """

    layers: list[Layer]
    link: str = "identity"
    outputs: tuple[str, ...] = ("prediction",)
    feature_names: tuple[str, ...] | None = None
    approximation_error: float = 0.0
    description: str = field(default="")

    def __post_init__(self) -> None:
        if not self.layers:
            raise ParameterError("a model needs at least one layer")
        if not isinstance(self.layers[0], Dense):
            raise ParameterError("a model starts with a Dense layer")
        if self.link not in LINKS:
            raise ParameterError(f"link must be one of {', '.join(LINKS)}; got {self.link!r}")
        width = self.layers[0].n_inputs
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Dense):
                if layer.n_inputs != width:
                    raise ParameterError(
                        f"layer {i} takes {layer.n_inputs} inputs but receives {width}"
                    )
                width = layer.n_outputs
        if len(self.outputs) != width:
            raise ParameterError(f"{len(self.outputs)} output names for {width} outputs")
        if self.feature_names is not None and len(self.feature_names) != self.n_features:
            raise ParameterError(
                f"{len(self.feature_names)} feature names for {self.n_features} features"
            )

    @property
    def n_features(self) -> int:
        return self.layers[0].n_inputs

    @property
    def depth(self) -> int:
        """Levels of the CKKS modulus the encrypted evaluation consumes."""
        return sum(layer.depth for layer in self.layers)

    def parameters(self) -> HEParameters:
        """The smallest 128-bit secure CKKS parameters for this model's depth."""
        return parameters_for_depth(self.depth)

    def forward(self, X: np.ndarray) -> np.ndarray:
        """The plaintext network, exactly what the server computes under encryption."""
        h = np.asarray(X, dtype=np.float64)
        for layer in self.layers:
            h = layer.forward(h)
        return h

    def finish(self, outputs: np.ndarray) -> np.ndarray:
        """Apply the link to decrypted outputs (what the client does after decrypting)."""
        return apply_link(self.link, outputs)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Plaintext predictions: the reference the encrypted path is checked against."""
        return self.finish(self.forward(X))

    def evaluate(self, batch: EncryptedBatch, context: HEContext) -> EncryptedBatch:
        """Evaluate on ciphertexts (the server's work): needs only the public context.

        Raises
        ------
        ProtocolError
            The batch has another number of features than the model, or the
            context has fewer levels than the model's depth.
        """
        if batch.n_columns != self.n_features:
            raise ProtocolError(
                f"the request has {batch.n_columns} features; the model takes {self.n_features}"
            )
        if context.parameters.levels < self.depth:
            raise ProtocolError(
                f"the context has {context.parameters.levels} levels; the model needs "
                f"{self.depth}: create it with the parameters the server announces"
            )
        chunks = []
        for chunk in batch.chunks:
            h = chunk
            for layer in self.layers:
                h = layer.encrypted(h)
            chunks.append(h)
        return EncryptedBatch(batch.fingerprint, batch.n_samples, len(self.outputs), chunks)

    def with_server_link(self, *, degree: int = 3, bound: float = 8.0) -> HEModel:
        """This binary classifier returning probabilities from the server (a fitted sigmoid).

        The server appends a polynomial fitted to the sigmoid on ``[-bound, bound]``;
        its largest error there is added to :attr:`approximation_error`. Scores
        outside the range get no such bound: the polynomial diverges there.
        """
        if self.link != "sigmoid" or len(self.outputs) != 1:
            raise ParameterError("a server-side link exists only for binary logistic models")
        fit = sigmoid_polynomial(degree=degree, bound=bound)
        return HEModel(
            [*self.layers, Polynomial(fit.coefficients)],
            link="identity",
            outputs=self.outputs,
            feature_names=self.feature_names,
            approximation_error=self.approximation_error + fit.max_error,
            description=f"{self.description}; sigmoid as degree-{degree} polynomial on "
            f"[-{bound:g}, {bound:g}] (max error {fit.max_error:.3g})",
        )

    def info(self) -> dict[str, object]:
        """What the server announces: shape, link, parameters; never the weights."""
        return {
            "n_features": self.n_features,
            "feature_names": list(self.feature_names) if self.feature_names else None,
            "outputs": list(self.outputs),
            "link": self.link,
            "depth": self.depth,
            "approximation_error": self.approximation_error,
            "parameters": self.parameters().to_dict(),
            "description": self.description,
        }

    def check_features(self, X: np.ndarray) -> np.ndarray:
        """``X`` as a float array of this model's width, or a DataError saying what differs."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise DataError(
                f"the model takes {self.n_features} features per row; got shape {X.shape}"
            )
        return X
