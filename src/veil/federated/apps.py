"""The task as Flower apps: one client and one server app for every engine.

:class:`SiteClient` is a Flower ``NumPyClient`` over a task and one site's
rows; :func:`client_app` and :func:`server_app` wrap it and a strategy into
Flower's ``ClientApp`` and ``ServerApp``, the same objects Flower's Ray
simulation, veil's :class:`LocalGrid` and a deployment run. With
``secagg=True`` the server aggregates through Flower's SecAgg+ workflow
(Bell et al. 2020, "Secure single-server aggregation with (poly)logarithmic
overhead"; the client side is ``secaggplus_mod``), so the strategy only ever
receives the masked sum's result.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from uuid import uuid4

import numpy as np
from flwr.app import Message, RecordDict
from flwr.client import NumPyClient
from flwr.serverapp.grid import Grid

from veil.errors import ParameterError
from veil.federated.local_privacy import LocalPrivacy
from veil.federated.task import ClassificationTask

__all__ = ["LocalGrid", "ServingGrid", "SiteClient", "client_app", "message_stage", "server_app"]

log = logging.getLogger("veil.federated")


class SiteClient(NumPyClient):
    """One site: trains the task on its own rows, sends back only the model.

    Parameters
    ----------
    task
        The shared task.
    X, y
        The site's features and labels (never leave the site).
    local
        The site's own local DP (:mod:`veil.federated.local_privacy`): every
        update it sends is clipped and noised by it, whatever the server asks.
    """

    def __init__(
        self,
        task: ClassificationTask,
        X: np.ndarray,
        y: np.ndarray,
        *,
        local: LocalPrivacy | None = None,
    ) -> None:
        self.task, self.X, self.y = task, X, y
        self.local = local

    def get_parameters(self, config: dict[str, Any]) -> list[np.ndarray]:
        return self.task.initial_parameters()

    def fit(
        self, parameters: list[np.ndarray], config: dict[str, Any]
    ) -> tuple[list[np.ndarray], int, dict[str, Any]]:
        new, loss = self.task.fit(
            parameters,
            self.X,
            self.y,
            proximal_mu=float(config.get("proximal_mu", 0.0)),
            round_seed=int(config.get("server_round", 0)),
        )
        if "clip_norm" in config:  # client-level DP: the site bounds its own influence too
            from veil.federated.privacy import clip_update

            new = clip_update(new, list(parameters), float(config["clip_norm"]))
        if self.local is not None:  # local DP: the site's own clip and noise, whatever was asked
            # Nothing else computed from the rows leaves: no size (weight 1), no loss.
            return self.local.privatize(new, list(parameters)), 1, {}
        return new, len(self.y), {"loss": float(loss)}

    def evaluate(
        self, parameters: list[np.ndarray], config: dict[str, Any]
    ) -> tuple[float, int, dict[str, Any]]:
        if self.local is not None:
            raise ParameterError(
                "this site uses local DP: it reports no loss or accuracy on its own rows; "
                "evaluate on a test table the server holds (--test)"
            )
        ev = self.task.evaluate(parameters, self.X, self.y)
        return ev.loss, ev.n, {"accuracy": ev.accuracy}


def client_app(make_client: Callable[[int], NumPyClient], *, secagg: bool = False) -> Any:
    """A Flower ``ClientApp`` whose node ``partition-id`` picks the site ``make_client`` builds."""
    from flwr.client import ClientApp
    from flwr.client.mod import secaggplus_mod

    def client_fn(context: Any) -> Any:
        return make_client(int(context.node_config["partition-id"])).to_client()

    return ClientApp(client_fn=client_fn, mods=[secaggplus_mod] if secagg else [])


def server_app(
    strategy: Any,
    rounds: int,
    *,
    secagg: bool = False,
    num_shares: int | float = 1.0,
    reconstruction_threshold: int | float = 0.67,
    clipping_range: float = 8.0,
    quantization_range: int = 4194304,
    round_timeout: float | None = None,
) -> Any:
    """A Flower ``ServerApp`` running ``strategy`` for ``rounds`` rounds, SecAgg+ if asked.

    ``num_shares`` and ``reconstruction_threshold`` are SecAgg+'s (a fraction
    of the sampled clients, or a count): the sum is recovered while at least
    the threshold of share holders stay, so up to 1 - threshold of them may
    drop out mid-round. Updates are clipped to ``clipping_range`` and
    quantized over ``quantization_range`` levels before masking.
    """
    from flwr.server import LegacyContext, ServerApp, ServerConfig
    from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow

    app = ServerApp()

    @app.main()
    def main(grid: Grid, context: Any) -> None:
        legacy = LegacyContext(
            context=context,
            config=ServerConfig(num_rounds=rounds, round_timeout=round_timeout),
            strategy=strategy,
        )
        fit = (
            SecAggPlusWorkflow(
                num_shares=num_shares,
                reconstruction_threshold=reconstruction_threshold,
                clipping_range=clipping_range,
                quantization_range=quantization_range,
                timeout=round_timeout,
            )
            if secagg
            else None
        )
        DefaultWorkflow(fit_workflow=fit)(grid, legacy)

    return app


def message_stage(msg: Message) -> str:
    """The SecAgg+ stage a message asks for, or its message type."""
    for record in msg.content.config_records.values():
        if "stage" in record:
            return str(record["stage"])
    return str(msg.metadata.message_type)


class ServingGrid(Grid):
    """What every veil ``Grid`` shares: the run, message creation, serving a ``ServerApp``."""

    def __init__(self) -> None:
        from flwr.supercore.run import Run

        self._run = Run.create_empty(1)

    def set_run(self, run: Any) -> None:
        self._run = run

    @property
    def run(self) -> Any:
        return self._run

    def create_message(
        self,
        content: RecordDict,
        message_type: str,
        dst_node_id: int,
        group_id: str,
        ttl: float | None = None,
    ) -> Message:
        return Message(content, dst_node_id, message_type, ttl=ttl, group_id=group_id)

    @staticmethod
    def stamp(msg: Message) -> None:
        """Give an outgoing message its id, the server as sender and the run."""
        msg.metadata.__dict__["_message_id"] = str(uuid4())
        msg.metadata.__dict__["_src_node_id"] = 0
        msg.metadata.__dict__["_run_id"] = 1

    def serve(self, app: Any) -> None:
        """Run the ``ServerApp`` ``app`` to its end over this grid."""
        from flwr.app import Context
        from flwr.supercore.task_identity import TaskIdentity

        # Messages built by the workflows take their run and sender from this identity.
        TaskIdentity.run_id, TaskIdentity.node_id, TaskIdentity.task_id = 1, 0, 1
        app(self, Context(run_id=1, node_id=0, node_config={}, state=RecordDict(), run_config={}))


class LocalGrid(ServingGrid):
    """Flower's ``Grid`` delivering messages to client apps in this process, synchronously.

    Runs a ``ServerApp`` and its workflows (SecAgg+ included) unchanged
    without a SuperLink or Ray. Every message the server receives is kept in
    :attr:`received` (to inspect what the server saw); ``drop`` maps a
    SecAgg+ stage (``"setup"``, ``"share_keys"``, ``"collect_masked_vectors"``,
    ``"unmask"``) or a message type (``"train"``) to node ids that do not
    answer it (a dropout at that point of the protocol).
    """

    def __init__(
        self, app: Any, nodes: int, *, drop: dict[str, Sequence[int]] | None = None
    ) -> None:
        from flwr.app import Context

        super().__init__()
        self.app = app
        self.node_ids = list(range(1, nodes + 1))
        self.contexts = {
            nid: Context(
                run_id=1,
                node_id=nid,
                node_config={"partition-id": nid - 1, "num-partitions": nodes},
                state=RecordDict(),
                run_config={},
            )
            for nid in self.node_ids
        }
        self.drop = {k: set(v) for k, v in (drop or {}).items()}
        self.received: list[Message] = []
        self._replies: dict[str, Message] = {}

    def get_node_ids(self) -> Iterable[int]:
        return list(self.node_ids)

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        ids = []
        for msg in messages:
            self.stamp(msg)
            ids.append(msg.metadata.message_id)
            node = msg.metadata.dst_node_id
            if node in self.drop.get(message_stage(msg), ()):
                continue
            # A transport hands each side its own copy (the workflows share content objects).
            reply = copy.deepcopy(self.app(copy.deepcopy(msg), self.contexts[node]))
            reply.metadata.__dict__["_src_node_id"] = node
            self._replies[msg.metadata.message_id] = reply
        return ids

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        out = [self._replies.pop(i) for i in message_ids if i in self._replies]
        self.received.extend(out)
        return out

    def send_and_receive(
        self, messages: Iterable[Message], *, timeout: float | None = None
    ) -> Iterable[Message]:
        return self.pull_messages(self.push_messages(messages))
