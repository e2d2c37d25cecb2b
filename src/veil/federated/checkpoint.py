"""A checkpoint after every round, so that a restarted server resumes where it stopped.

One ``.npz`` file holds the global model, the round it closes, the history
so far and the server's own state (FedAdam/FedYogi's moments, DP-FedAvg's
adaptive clipping norm). It is written to a temporary file and renamed, so a
crash mid-write leaves the previous round's checkpoint intact.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from veil.errors import DataError

__all__ = ["Checkpoint", "RoundState"]

# Server-side optimizer state of Flower's FedOpt family (FedAdam, FedYogi, FedAdagrad).
_ARRAY_STATE = ("current_weights", "m_t", "v_t")


@dataclass
class RoundState:
    """What a resumed server needs: the model after ``round``, the history, the server state."""

    round: int
    parameters: list[np.ndarray]
    history: list[dict[str, Any]] = field(default_factory=list)
    arrays: dict[str, list[np.ndarray]] = field(default_factory=dict)
    values: dict[str, float] = field(default_factory=dict)


def _chain(strategy: Any) -> list[Any]:
    out = [strategy]
    while hasattr(out[-1], "__dict__") and "strategy" in vars(out[-1]):
        out.append(vars(out[-1])["strategy"])
    return out


class Checkpoint:
    """The checkpoint file at ``path``: :meth:`save` after each round, :meth:`load` to resume."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def exists(self) -> bool:
        return self.path.is_file()

    def save(self, state: RoundState) -> None:
        """Write ``state`` atomically (temporary file, then rename)."""
        payload: dict[str, Any] = {f"p{i}": a for i, a in enumerate(state.parameters)}
        for name, arrays in state.arrays.items():
            for i, a in enumerate(arrays):
                payload[f"s_{name}_{i}"] = a
        meta = {
            "round": state.round,
            "n_parameters": len(state.parameters),
            "arrays": {k: len(v) for k, v in state.arrays.items()},
            "values": state.values,
            "history": state.history,
        }
        payload["meta"] = np.frombuffer(json.dumps(meta, default=float).encode(), dtype=np.uint8)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **payload)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load(self) -> RoundState:
        """The state saved last.

        Raises
        ------
        DataError
            The file is not a veil federated checkpoint.
        """
        try:
            with np.load(self.path) as data:
                meta = json.loads(bytes(data["meta"]).decode())
                params = [data[f"p{i}"] for i in range(meta["n_parameters"])]
                arrays = {
                    k: [data[f"s_{k}_{i}"] for i in range(n)] for k, n in meta["arrays"].items()
                }
        except (OSError, KeyError, ValueError) as err:
            raise DataError(
                f"{str(self.path)!r} is not a veil federated checkpoint ({err}); remove it or "
                "point --checkpoint elsewhere to start afresh"
            ) from None
        return RoundState(
            round=int(meta["round"]),
            parameters=params,
            history=list(meta["history"]),
            arrays=arrays,
            values={k: float(v) for k, v in meta["values"].items()},
        )

    @staticmethod
    def capture(
        strategy: Any,
        server_round: int,
        parameters: list[np.ndarray],
        history: list[dict[str, Any]],
    ) -> RoundState:
        """The state of ``strategy`` (and every wrapper in it) after ``server_round``."""
        arrays: dict[str, list[np.ndarray]] = {}
        values: dict[str, float] = {}
        for layer in _chain(strategy):
            for name in _ARRAY_STATE:
                value = vars(layer).get(name)
                if value is not None:
                    arrays[name] = [np.asarray(a) for a in value]
            if "clipping_norm" in vars(layer):
                values["clipping_norm"] = float(vars(layer)["clipping_norm"])
        return RoundState(
            server_round, [np.asarray(p) for p in parameters], list(history), arrays, values
        )

    @staticmethod
    def restore(strategy: Any, state: RoundState) -> None:
        """Put the saved server state back into ``strategy`` and its wrappers."""
        for layer in _chain(strategy):
            for name, arrays in state.arrays.items():
                if name in vars(layer):
                    setattr(layer, name, [a.copy() for a in arrays])
            if "clipping_norm" in vars(layer) and "clipping_norm" in state.values:
                layer.clipping_norm = state.values["clipping_norm"]
