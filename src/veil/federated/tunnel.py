"""Flower's messages carried over a deployment's gRPC stream: SecAgg+ across processes.

Flower's SecAgg+ (``SecAggPlusWorkflow`` on the server, ``secaggplus_mod`` on
the clients) is a conversation of Flower ``Message`` objects, four per client
and round, that Flower's legacy bidirectional gRPC stream (the one a veil
deployment uses, with TLS and veil's signed-challenge admission) has no
message type for. The deployment keeps that stream and carries each
``Message``, serialized by Flower's own protobuf serde, in one field of a
``FitIns`` and each reply in one metric of the ``FitRes``. The protocol is
Flower's, unchanged: :class:`ProxyGrid` is a ``Grid`` whose nodes are the
authenticated clients connected to the server, and a client hands every
message it unwraps (:func:`relay`) to Flower's ``ClientApp`` with
``secaggplus_mod``.

The server decides who sent a reply (the node it asked), never the reply's
own claim; a reply that does not parse, answers another message, or (at the
masked-vector stage) does not have the model's shapes is logged and treated
as a dropout, which SecAgg+ recovers from while enough clients remain.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from typing import Any

import numpy as np
from flwr.app import Message

from veil.errors import ProtocolError
from veil.federated.apps import ServingGrid, message_stage

__all__ = ["TUNNEL_KEY", "ProxyGrid", "masked_vector_screen", "relay", "unwrap", "wrap"]

log = logging.getLogger("veil.federated")

TUNNEL_KEY = "veil-message"  # the FitIns config entry / FitRes metric holding a Message


def wrap(msg: Message) -> bytes:
    """``msg`` as bytes: Flower's protobuf form of the whole message, metadata included."""
    from flwr.common.serde import message_to_proto

    return message_to_proto(msg).SerializeToString()


def unwrap(data: Any, *, where: str) -> Message:
    """The ``Message`` in ``data`` (bytes from :func:`wrap`); :class:`ProtocolError` if none."""
    from flwr.common.serde import message_from_proto
    from flwr.proto.message_pb2 import Message as MessageProto
    from google.protobuf.message import DecodeError

    if not isinstance(data, bytes):
        raise ProtocolError(f"malformed message from {where}: expected bytes in {TUNNEL_KEY!r}")
    proto = MessageProto()
    try:
        proto.ParseFromString(data)
        return message_from_proto(proto)
    except (DecodeError, ValueError, TypeError, KeyError) as err:
        raise ProtocolError(f"malformed message from {where}: {err}") from None


def masked_vector_screen(shapes: Sequence[tuple[int, ...]]) -> Callable[[Message], str | None]:
    """A check of SecAgg+ masked vectors: ``[(1,)] + shapes``, integers; the reason if not.

    SecAgg+ sums the masked vectors it collects; one of the wrong shape would
    break the sum for everybody, so it is refused before it reaches the workflow.
    """
    from flwr.common import bytes_to_ndarray

    expected = [(1,), *map(tuple, shapes)]

    def screen(reply: Message) -> str | None:
        if not reply.has_content():
            return None
        for record in reply.content.config_records.values():
            if "masked_params" not in record:
                continue
            try:
                arrays = [bytes_to_ndarray(b) for b in record["masked_params"]]  # type: ignore[union-attr]
            except Exception as err:  # numpy's own parse errors vary
                return f"its masked vector does not parse ({type(err).__name__})"
            got = [a.shape for a in arrays]
            if got != expected:
                return f"its masked vector has shapes {got}, the model's are {expected}"
            if not all(np.issubdtype(a.dtype, np.integer) for a in arrays):
                return "its masked vector is not integer (SecAgg+ masks are)"
        return None

    return screen


class ProxyGrid(ServingGrid):
    """A Flower ``Grid`` over the clients connected to a deployment's gRPC server.

    Parameters
    ----------
    manager
        The server's client manager; its clients (admitted after signing the
        challenge) are this grid's nodes, numbered 1, 2... as they are first seen.
    min_clients
        Nodes to wait for before the first round.
    screen
        Checks each reply; a reason (str) drops it as if the node had not answered.
    wait_seconds
        How long to wait for ``min_clients`` before giving up.
    """

    def __init__(
        self,
        manager: Any,
        *,
        min_clients: int,
        screen: Callable[[Message], str | None] | None = None,
        wait_seconds: float = 86400.0,
    ) -> None:
        super().__init__()
        self.manager = manager
        self.min_clients = min_clients
        self.screen = screen
        self.wait_seconds = wait_seconds
        self.received: list[Message] = []
        self.rejected: list[str] = []
        self._ids: dict[str, int] = {}
        self._proxies: dict[int, Any] = {}
        self._pending: dict[str, Future[Message]] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="veil-grid")
        self._started = False

    def get_node_ids(self) -> Iterable[int]:
        if not self._started:
            if not self.manager.wait_for(self.min_clients, timeout=self.wait_seconds):
                raise ProtocolError(
                    f"{self.min_clients} clients did not connect within {self.wait_seconds:.0f} s"
                )
            self._started = True
        with self._lock:
            live = self.manager.all()
            for cid in live:
                if cid not in self._ids:
                    self._ids[cid] = len(self._ids) + 1
            self._proxies = {self._ids[cid]: proxy for cid, proxy in live.items()}
            return list(self._proxies)

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        ids = []
        for msg in messages:
            self.stamp(msg)
            node = msg.metadata.dst_node_id
            proxy = self._proxies.get(node)
            future: Future[Message] = Future()
            if proxy is None:
                future.set_exception(ProtocolError(f"node {node} is not connected"))
            else:
                future = self._pool.submit(self._exchange, proxy, node, msg)
            self._pending[msg.metadata.message_id] = future
            ids.append(msg.metadata.message_id)
        return ids

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        out = []
        for mid in message_ids:
            future = self._pending.get(mid)
            if future is None or not future.done():
                continue
            del self._pending[mid]
            try:
                out.append(future.result())
            except Exception as err:  # a dropout, a broken stream or a refused reply
                log.warning("no reply to message %s: %s", mid[:8], err)
        self.received.extend(out)
        return out

    def send_and_receive(
        self, messages: Iterable[Message], *, timeout: float | None = None
    ) -> Iterable[Message]:
        ids = list(self.push_messages(messages))
        wait_futures([self._pending[i] for i in ids], timeout=timeout)
        return self.pull_messages(ids)

    def _exchange(self, proxy: Any, node: int, msg: Message) -> Message:
        """Send ``msg`` to ``proxy`` inside a FitIns; its checked reply."""
        from flwr.common import FitIns, Parameters

        ins = FitIns(Parameters(tensors=[], tensor_type=""), {TUNNEL_KEY: wrap(msg)})
        timeout = msg.metadata.ttl if msg.metadata.ttl and msg.metadata.ttl < 1e9 else None
        res = proxy.fit(ins, timeout, None)
        where = f"client {proxy.cid}"
        reply = unwrap(res.metrics.get(TUNNEL_KEY), where=where)
        if reply.metadata.reply_to_message_id != msg.metadata.message_id:
            raise self._refuse(where, "it answered another message")
        reply.metadata.__dict__["_src_node_id"] = node  # who we asked, whatever it claims
        reason = self.screen(reply) if self.screen is not None else None
        if reason is not None:
            raise self._refuse(where, f"{reason} (stage {message_stage(msg)})")
        return reply

    def _refuse(self, where: str, reason: str) -> ProtocolError:
        log.warning("reply from %s rejected: %s", where, reason)
        self.rejected.append(f"{where}: {reason}")
        return ProtocolError(f"{where}: {reason}")

    def close(self, timeout: float = 10.0) -> None:
        """Tell every connected client that the run is over, then stop the workers."""
        from flwr.common import ReconnectIns

        for proxy in list(self.manager.all().values()):
            try:
                proxy.reconnect(ReconnectIns(seconds=None), timeout, None)
            except Exception as err:  # already gone
                log.info("client %s did not take the goodbye: %s", proxy.cid, err)
        self._pool.shutdown(wait=False, cancel_futures=True)


def relay(app: Any, context: Any, data: Any) -> bytes:
    """Client side: unwrap the server's message, run ``app`` on it, wrap the reply."""
    msg = unwrap(data, where="the server")
    return wrap(app(msg, context))
