"""Intermittent clients: who is reachable each round, and stragglers cut by a deadline.

In the study veil reproduces (Sáinz-Pardo Díaz and López García 2023,
"Study of the performance and scalability of federated learning for medical
imaging with intermittent clients") sites drop in and out between rounds and
the round goes on with whoever answered. :class:`Availability` models that:
each client is reachable in a round with a probability (one for all, or one
per client), or by an explicit schedule; a reachable client may straggle, and
a straggler (or any client whose local work outlasts ``deadline`` seconds) is
dropped from the round. :class:`Intermittent` applies the model to any
strategy's choice of clients, so it works the same in every engine.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from flwr.common import Parameters

from veil.errors import ParameterError
from veil.federated.strategies import StrategyWrapper

__all__ = ["Availability", "Intermittent"]

log = logging.getLogger("veil.federated")


def _probability(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ParameterError(f"{name} must be a probability in [0, 1]; got {value!r}")
    return float(value)


@dataclass
class Availability:
    """Which clients answer in each round.

    Parameters
    ----------
    probability
        Chance that a client is reachable in a round: one number for all, or
        a sequence with one per client (by index).
    schedule
        Instead of chance: ``{round: [client indices reachable]}``; a round
        missing from it has every client reachable.
    straggler_probability
        Chance that a reachable client is too slow for the round's deadline
        (its update arrives late and is dropped).
    deadline
        Seconds a client may take for its local work; a slower one is dropped
        (measured in the in-process engine, the round timeout in deployment).
    seed
        Seeds the draws (reproducible simulations).
    """

    probability: float | Sequence[float] = 1.0
    schedule: Mapping[int, Sequence[int]] | None = None
    straggler_probability: float = 0.0
    deadline: float | None = None
    seed: int = 0
    _rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.probability, (int, float)):
            _probability(self.probability, "availability")
        else:
            self.probability = [_probability(p, "availability") for p in self.probability]
        _probability(self.straggler_probability, "straggler_probability")
        if self.deadline is not None and not self.deadline > 0:
            raise ParameterError(
                f"deadline must be a positive number of seconds; got {self.deadline!r}"
            )
        if self.schedule is not None:
            self.schedule = {int(r): [int(c) for c in cs] for r, cs in self.schedule.items()}
        self._rng = np.random.default_rng(self.seed)

    @property
    def always(self) -> bool:
        """True when every client always answers in time."""
        p = self.probability
        full = p == 1.0 if isinstance(p, float | int) else all(x == 1.0 for x in p)
        return full and self.schedule is None and self.straggler_probability == 0.0

    def answering(self, server_round: int, clients: Sequence[int]) -> list[int]:
        """The indices among ``clients`` that are reachable and not straggling this round."""
        if self.schedule is not None and server_round in self.schedule:
            allowed = set(self.schedule[server_round])
            up = [c for c in clients if c in allowed]
        else:
            p = self.probability
            chance = np.array(
                [p if isinstance(p, float | int) else p[c] for c in clients], dtype=float
            )
            up = [
                c
                for c, keep in zip(clients, self._rng.random(len(clients)) < chance, strict=True)
                if keep
            ]
        if self.straggler_probability > 0:
            slow = self._rng.random(len(up)) < self.straggler_probability
            up = [c for c, s in zip(up, slow, strict=True) if not s]
        return up

    def to_dict(self) -> dict[str, Any]:
        return {
            "probability": self.probability
            if isinstance(self.probability, float | int)
            else list(self.probability),
            "schedule": None
            if self.schedule is None
            else {str(k): list(v) for k, v in self.schedule.items()},
            "straggler_probability": self.straggler_probability,
            "deadline": self.deadline,
        }


class Intermittent(StrategyWrapper):
    """Keeps, of the clients a strategy picks, only those :class:`Availability` lets answer.

    The wrapped strategy then aggregates whoever answered (Flower's
    strategies accept a round with fewer results). Clients are named by
    their index ``int(proxy.cid)``; the ones dropped are recorded per round.
    """

    def __init__(self, strategy: Any, availability: Availability) -> None:
        super().__init__(strategy)
        self.availability = availability
        self.dropped: dict[int, list[str]] = {}

    def configure_fit(self, server_round: int, parameters: Parameters, client_manager: Any) -> Any:
        chosen = self.strategy.configure_fit(server_round, parameters, client_manager)
        # Clients are numbered by their rank among all connected ones (0, 1, ...),
        # whatever ids the engine gives them.
        rank = {cid: i for i, cid in enumerate(sorted(client_manager.all(), key=int))}
        index = {rank[proxy.cid]: (proxy, ins) for proxy, ins in chosen}
        up = set(self.availability.answering(server_round, sorted(index)))
        self.dropped[server_round] = [str(c) for c in sorted(index) if c not in up]
        if self.dropped[server_round]:
            log.info(
                "round %d: clients %s did not answer", server_round, self.dropped[server_round]
            )
        return [index[c] for c in sorted(index) if c in up]
