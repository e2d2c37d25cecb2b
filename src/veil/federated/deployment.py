"""A real deployment: a server process and client processes over Flower's gRPC, TLS on.

The server is Flower's gRPC server (the bidirectional-streaming Fleet API
behind ``flwr.server.start_server``) running the same strategy and wrappers
as a simulation; each site runs Flower's gRPC client over its own rows.
Both sides use the certificates :func:`make_certificates` writes: a CA, the
server's TLS certificate for the given hosts, and one ECDSA key pair per
client. Clients are authenticated before they are given work: on connection
the server sends a fresh random challenge through Flower's ``get_properties``
message, the client signs it with its private key, and the server checks
the signature against the public keys it was told to trust. A client that
fails is logged, disconnected and never sampled; the rounds go on.

A server restarted with the same ``checkpoint`` resumes after the last round
saved (:class:`Resumable`).

With ``secagg=True`` the server runs Flower's SecAgg+ workflow over the same
connections (:mod:`veil.federated.tunnel` carries its messages), so it only
ever holds masked vectors and their sum; clients need no option, they follow
whatever protocol the server's messages ask for.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from flwr.common import GetPropertiesIns, ndarrays_to_parameters, parameters_to_ndarrays
from flwr.server.client_manager import SimpleClientManager

from veil.errors import ParameterError, ProtocolError, VeilError
from veil.federated.apps import SiteClient
from veil.federated.certificates import make_certificates, public_keys
from veil.federated.checkpoint import Checkpoint
from veil.federated.local_privacy import LocalPrivacy, LocalPrivacyPlan
from veil.federated.strategies import StrategyWrapper
from veil.federated.task import ClassificationTask

__all__ = [
    "AuthenticatedClientManager",
    "DeployedClient",
    "Resumable",
    "make_certificates",
    "run_client",
    "run_server",
]

log = logging.getLogger("veil.federated")

_CHALLENGE, _SIGNATURE, _KEY_ID = "veil-challenge", "veil-signature", "veil-key-id"


# -- the server ---------------------------------------------------------------
class AuthenticatedClientManager(SimpleClientManager):
    """Flower's client manager admitting only clients that sign a fresh challenge.

    Parameters
    ----------
    public_keys
        The ECDSA public keys of the trusted clients.
    timeout
        Seconds a new client has to answer the challenge.
    """

    def __init__(self, public_keys: Sequence[Any], *, timeout: float = 30.0) -> None:
        super().__init__()
        self.public_keys = list(public_keys)
        self.timeout = timeout
        self.rejected: list[str] = []
        self.started = False

    def sample(
        self, num_clients: int, min_num_clients: int | None = None, criterion: Any = None
    ) -> list[Any]:
        """Wait for ``min_num_clients`` once, at the start; later rounds take whoever is connected.

        A site that left (killed, disconnected) does not stall the run: the
        round goes on with the clients still there, as long as one is.
        """
        if not self.started:
            self.wait_for(min_num_clients or num_clients)
            self.started = True
        else:
            self.wait_for(1)
        return super().sample(min(num_clients, self.num_available()), 1, criterion)

    def register(self, client: Any) -> bool:
        threading.Thread(target=self._admit, args=(client,), daemon=True).start()
        return True

    def _admit(self, client: Any) -> None:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        from veil.randomness import random_bytes

        nonce = random_bytes(32)
        reason = ""
        try:
            res = client.get_properties(
                GetPropertiesIns({_CHALLENGE: nonce.hex()}), self.timeout, None
            )
            signature = bytes.fromhex(str(res.properties.get(_SIGNATURE, "")))
        except Exception as err:  # no answer, or not one of ours
            reason = f"no signed answer ({type(err).__name__})"
            signature = b""
        ok = False
        for key in self.public_keys if signature else []:
            try:
                key.verify(signature, nonce, ec.ECDSA(hashes.SHA256()))
                ok = True
                break
            except InvalidSignature:
                continue
        if ok and super().register(client):
            log.info("client %s authenticated", client.cid)
            return
        reason = reason or "its signature matches no trusted key"
        log.warning("client %s rejected: %s", client.cid, reason)
        self.rejected.append(f"{client.cid}: {reason}")
        bridge = getattr(client, "bridge", None)
        if bridge is not None:
            bridge.close()


class Resumable(StrategyWrapper):
    """Saves a checkpoint after every round and, restarted, resumes after the last one saved.

    Flower's server counts rounds from 1 again when restarted; this wrapper
    shifts them by the rounds already done, starts from the saved model and
    server state, and saves after each round's evaluation.
    """

    def __init__(
        self, strategy: Any, checkpoint: Checkpoint, history: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(strategy)
        self.checkpoint = checkpoint
        self.done, self.saved = 0, None
        self.history = history if history is not None else []
        if checkpoint.exists():
            self.saved = checkpoint.load()
            Checkpoint.restore(strategy, self.saved)
            self.done = self.saved.round
            self.history[:0] = self.saved.history
        self.last: Any = None

    def initialize_parameters(self, client_manager: Any) -> Any:
        if self.saved is not None:
            return ndarrays_to_parameters(self.saved.parameters)
        return self.strategy.initialize_parameters(client_manager)

    def configure_fit(self, server_round: int, parameters: Any, client_manager: Any) -> Any:
        return self.strategy.configure_fit(server_round + self.done, parameters, client_manager)

    def aggregate_fit(self, server_round: int, results: Any, failures: Any) -> Any:
        return self.strategy.aggregate_fit(server_round + self.done, results, failures)

    def configure_evaluate(self, server_round: int, parameters: Any, client_manager: Any) -> Any:
        return self.strategy.configure_evaluate(
            server_round + self.done, parameters, client_manager
        )

    def aggregate_evaluate(self, server_round: int, results: Any, failures: Any) -> Any:
        out = self.strategy.aggregate_evaluate(server_round + self.done, results, failures)
        self._save(server_round)
        return out

    def evaluate(self, server_round: int, parameters: Any) -> Any:
        out = self.strategy.evaluate(server_round + self.done if server_round else 0, parameters)
        if server_round > 0:
            self.last = parameters_to_ndarrays(parameters)
            self._save(server_round)
        return out

    def _save(self, server_round: int) -> None:
        if self.last is not None and server_round > 0:
            state = Checkpoint.capture(
                self.strategy, server_round + self.done, self.last, self.history
            )
            self.checkpoint.save(state)


def _read_certs(folder: Path) -> tuple[bytes, bytes, bytes]:
    names = ("ca.crt", "server.crt", "server.key")
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise ParameterError(
            f"{str(folder)!r} lacks {', '.join(missing)}; create them with "
            f"`veil federate certificates {folder}`"
        )
    return tuple((folder / n).read_bytes() for n in names)  # type: ignore[return-value]


def run_server(
    task: ClassificationTask,
    *,
    address: str,
    certificates: str | Path,
    rounds: int,
    min_clients: int,
    strategy: str = "fedavg",
    strategy_options: dict[str, Any] | None = None,
    test: Any = None,
    checkpoint: str | Path | None = None,
    round_timeout: float | None = 60.0,
    on_round: Any = None,
    secagg: bool = False,
    secagg_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Serve ``rounds`` rounds of ``task`` to authenticated clients over TLS; the run's record.

    Parameters
    ----------
    task
        The model and local training every client runs (sent in each round's config).
    address
        ``host:port`` to listen on.
    certificates
        The folder :func:`make_certificates` wrote (``ca.crt``, ``server.crt``,
        ``server.key``, ``authorized_keys``).
    rounds, min_clients
        Rounds to run; each round samples ``min_clients`` of the connected clients.
    test
        Optional server-held :class:`~veil.federated.data.Dataset` for evaluation;
        without it the clients report accuracy on their own rows (federated evaluation).
    checkpoint
        Saved after each round; an existing one resumes.
    round_timeout
        Seconds a round waits for a client (the stragglers' deadline).
    secagg, secagg_options
        Aggregate with Flower's SecAgg+ (options as :func:`~veil.federated.apps.server_app`'s:
        ``num_shares``, ``reconstruction_threshold``, ``clipping_range``,
        ``quantization_range``); the record then lists the replies refused.
    """
    from flwr.server import ServerConfig, start_server

    from veil.federated.simulation import ROBUST
    from veil.federated.strategies import Screened, make_strategy

    if secagg and strategy in ROBUST:
        raise ParameterError(
            f"strategy {strategy!r} must see each update, which secure aggregation hides; "
            "use fedavg, fedprox, fedadam or fedyogi with --secagg"
        )

    folder = Path(certificates)
    certs = _read_certs(folder)
    if not (folder / "authorized_keys").is_file():
        raise ParameterError(
            f"{str(folder)!r} lacks authorized_keys: the public keys of the clients to trust"
        )
    manager = AuthenticatedClientManager(public_keys(folder / "authorized_keys"))
    spec = json.dumps(task.to_dict())
    history: list[dict[str, Any]] = []
    began = {"t": time.perf_counter()}

    def evaluate_fn(server_round: int, arrays: list[np.ndarray], config: dict[str, Any]) -> Any:
        if test is None:
            return None
        ev = task.evaluate(arrays, test.X, test.y)
        return ev.loss, {"accuracy": ev.accuracy}

    inner = make_strategy(
        strategy,
        initial_parameters=task.initial_parameters(),
        clients_per_round=min_clients,
        evaluate_fn=evaluate_fn if test is not None else None,
        fit_config=lambda r: {"server_round": r, "task": spec},
        federated_evaluation=test is None,
        sample_all=True,
        **(strategy_options or {}),
    )
    recorder = _DeployRecorder(Screened(inner, task.shapes()), history, began)
    top: Any = recorder
    if checkpoint is not None:
        top = Resumable(top, Checkpoint(checkpoint), history)
    done = top.done if isinstance(top, Resumable) else 0
    if done >= rounds:
        return {"rounds": history, "resumed_from": done, "rejected_clients": []}
    if secagg:
        rejected = _serve_secagg(
            top, task, address=address, certs=certs, manager=manager, rounds=rounds - done,
            min_clients=min_clients, round_timeout=round_timeout, options=secagg_options or {},
        )  # fmt: skip
        return {
            "rounds": history,
            "resumed_from": done,
            "rejected_clients": list(manager.rejected),
            "rejected_replies": rejected,
            "parameters": recorder.parameters,
        }
    start_server(
        server_address=address,
        config=ServerConfig(num_rounds=rounds - done, round_timeout=round_timeout),
        strategy=top,
        client_manager=manager,
        certificates=certs,
    )
    return {
        "rounds": history,
        "resumed_from": done,
        "rejected_clients": list(manager.rejected),
        "parameters": recorder.parameters,
    }


def _serve_secagg(
    strategy: Any,
    task: ClassificationTask,
    *,
    address: str,
    certs: tuple[bytes, bytes, bytes],
    manager: AuthenticatedClientManager,
    rounds: int,
    min_clients: int,
    round_timeout: float | None,
    options: dict[str, Any],
) -> list[str]:
    """Flower's SecAgg+ workflow over the gRPC server's connections; the replies refused."""
    from flwr.server.superlink.fleet.grpc_bidi.grpc_server import start_grpc_server

    from veil.federated.apps import server_app
    from veil.federated.tunnel import ProxyGrid, masked_vector_screen

    grpc_server = start_grpc_server(
        client_manager=manager, server_address=address, certificates=certs
    )
    grid = ProxyGrid(manager, min_clients=min_clients, screen=masked_vector_screen(task.shapes()))
    try:
        app = server_app(strategy, rounds, secagg=True, round_timeout=round_timeout, **options)
        grid.serve(app)
    finally:
        grid.close()
        grpc_server.stop(grace=1)
    return list(grid.rejected)


class _DeployRecorder(StrategyWrapper):
    """Per round: clients that answered, accuracy (central or federated), seconds."""

    def __init__(
        self, strategy: Any, history: list[dict[str, Any]], began: dict[str, float]
    ) -> None:
        super().__init__(strategy)
        self.history, self.began, self.open = history, began, {}
        self.parameters: list[np.ndarray] = []  # the last aggregate

    def configure_fit(self, server_round: int, parameters: Any, client_manager: Any) -> Any:
        self.open = {"round": server_round, "t": time.perf_counter()}
        return self.strategy.configure_fit(server_round, parameters, client_manager)

    def aggregate_fit(self, server_round: int, results: Any, failures: Any) -> Any:
        self.open.update(clients=len(results), failures=len(failures))
        self.open["train_seconds"] = max(
            (float(r.metrics.get("seconds", 0.0)) for _, r in results), default=0.0
        )
        out = self.strategy.aggregate_fit(server_round, results, failures)
        if out is not None and out[0] is not None:
            self.parameters = parameters_to_ndarrays(out[0])
        return out

    def evaluate(self, server_round: int, parameters: Any) -> Any:
        out = self.strategy.evaluate(server_round, parameters)
        if out is not None and server_round > 0:
            self._close(out[0], out[1].get("accuracy"))
        return out

    def aggregate_evaluate(self, server_round: int, results: Any, failures: Any) -> Any:
        out = self.strategy.aggregate_evaluate(server_round, results, failures)
        if self.open and out is not None and out[0] is not None:
            self._close(out[0], out[1].get("accuracy"))
        return out

    def _close(self, loss: float, accuracy: Any) -> None:
        if "clients" not in self.open:
            return
        seconds = time.perf_counter() - self.open["t"]
        self.history.append(
            {
                "round": self.open["round"],
                "clients": self.open["clients"],
                "failures": self.open["failures"],
                "accuracy": float("nan") if accuracy is None else float(accuracy),
                "loss": float(loss),
                "seconds": seconds,
                "overhead_seconds": max(0.0, seconds - self.open["train_seconds"]),
            }
        )
        self.open = {}


# -- the client ---------------------------------------------------------------
class DeployedClient(SiteClient):
    """A site in a deployment: builds the task the server describes, answers its challenge."""

    def __init__(
        self, X: np.ndarray, y: np.ndarray, private_key: Any, *, local: LocalPrivacy | None = None
    ) -> None:
        self.X, self.y, self.key = X, y, private_key
        self.local = local
        self.task: ClassificationTask | None = None
        self.rounds = 0
        self._relay: tuple[Any, Any] | None = None  # Flower's ClientApp and its context

    def get_properties(self, config: dict[str, Any]) -> dict[str, Any]:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        if _CHALLENGE not in config:
            return {}
        signature = self.key.sign(bytes.fromhex(str(config[_CHALLENGE])), ec.ECDSA(hashes.SHA256()))
        return {_SIGNATURE: signature.hex()}

    def _task(self, config: dict[str, Any]) -> ClassificationTask:
        if "task" in config:
            task = ClassificationTask.from_dict(json.loads(str(config["task"])))
            task.check_data(self.X, self.y, where="this site's data")
            self.task = task
        if self.task is None:
            raise ProtocolError("the server sent no task description")
        return self.task

    def fit(self, parameters: list[np.ndarray], config: dict[str, Any]) -> Any:
        from veil.federated.tunnel import TUNNEL_KEY

        if TUNNEL_KEY in config:  # a Flower message of SecAgg+ (or its evaluation) inside
            return [], 0, {TUNNEL_KEY: self._relayed(config[TUNNEL_KEY])}
        self._task(config)
        t0 = time.perf_counter()
        new, n, metrics = super().fit(parameters, config)
        self.rounds += 1
        if self.local is not None:  # local DP: nothing but the noisy update leaves
            return new, n, metrics
        return new, n, {**metrics, "seconds": time.perf_counter() - t0}

    def evaluate(self, parameters: list[np.ndarray], config: dict[str, Any]) -> Any:
        if self.task is None:
            raise ProtocolError("asked to evaluate before any training round")
        return super().evaluate(parameters, config)

    def _relayed(self, data: Any) -> bytes:
        """Run Flower's client app with ``secaggplus_mod`` on a wrapped message; its reply."""
        from flwr.app import Context, RecordDict

        from veil.federated.apps import client_app
        from veil.federated.tunnel import relay

        if self._relay is None:
            # One context for the run: SecAgg+ keeps its keys and stage there between messages.
            context = Context(
                run_id=1, node_id=0, node_config={"partition-id": 0, "num-partitions": 1},
                state=RecordDict(), run_config={},
            )  # fmt: skip
            self._relay = (client_app(lambda _: self, secagg=True), context)
        app, context = self._relay
        return relay(app, context, data)


def run_client(
    X: np.ndarray,
    y: np.ndarray,
    *,
    server: str,
    certificates: str | Path,
    key: str | Path,
    max_retries: int = 5,
    max_wait_time: float = 60.0,
    local: LocalPrivacyPlan | None = None,
) -> int:
    """Serve this site's rows to the server at ``server`` until it ends the run; rounds trained.

    Connection failures are retried with exponential backoff (Flower's
    retry invoker) up to ``max_retries`` times or ``max_wait_time`` seconds.
    With ``local`` (:func:`~veil.federated.local_privacy.plan_local_dp`) every
    update is clipped and noised here, whatever the server asks, and the site
    trains no more than the plan's rounds.

    Raises
    ------
    ProtocolError
        The server could not be reached (after the retries) or rejected this client.
    """
    from cryptography.hazmat.primitives import serialization
    from flwr.client import start_client

    folder = Path(certificates)
    ca = folder / "ca.crt"
    if not ca.is_file():
        raise ParameterError(
            f"{str(ca)!r} is missing; copy the CA certificate the server's certificates came with"
        )
    try:
        private = serialization.load_pem_private_key(Path(key).read_bytes(), password=None)
    except (OSError, ValueError) as err:
        raise ParameterError(f"cannot read the client key {str(key)!r}: {err}") from None
    client = DeployedClient(X, y, private, local=LocalPrivacy(local) if local is not None else None)
    began = time.perf_counter()
    try:
        start_client(
            server_address=server,
            client=client.to_client(),
            root_certificates=ca.read_bytes(),
            max_retries=max_retries,
            max_wait_time=max_wait_time,
        )
    except Exception as err:  # grpc's own error: say what it means for this client
        if client.local is not None and client.local.rounds_done >= client.local.plan.rounds:
            log.warning(
                "this site's local privacy budget covered %d round(s): it left the run",
                client.local.plan.rounds,
            )
            return client.rounds
        if isinstance(err, VeilError):
            raise  # this site's own check (its data against the task): the message says why
        if client.rounds > 0:
            raise ProtocolError(
                f"the connection to {server} broke after {client.rounds} round(s): "
                f"{type(err).__name__}; restart this client to rejoin"
            ) from None
        log.info("connection to %s failed: %s", server, err)
    if client.rounds == 0:
        raise ProtocolError(
            f"no round with the server at {server} after {time.perf_counter() - began:.0f} s "
            f"and up to {max_retries} retries: it is unreachable, or refused this client "
            "(check the address, "
            "that the server runs, the CA certificate and this client's key)"
        )
    return client.rounds
