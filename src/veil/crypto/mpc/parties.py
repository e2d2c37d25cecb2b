"""Parties as separate processes on 127.0.0.1, wired by authenticated channels.

Each party is its own operating-system process with its own listening socket;
every pair of processes (and the dealer with each party) talks over an
authenticated :class:`~veil.crypto.mpc.channel.Channel` keyed by a fresh
32-byte pair key. A coordinating process starts them, hands each only its own
pair keys and inputs, and collects the outputs: it learns a result only when
every party finished; a party that fails, drops out or stalls past the
timeout stops the protocol with a :class:`~veil.errors.ProtocolError` and no
partial result.

Threat model: semi-honest parties (they follow the protocol but may study
what they see), an honest dealer, no collusion between parties or with the
dealer. What the parties compute lives in :mod:`veil.crypto.mpc.programs`.
"""

from __future__ import annotations

import multiprocessing as mp
import socket
import threading
import time
from multiprocessing.connection import Connection, wait
from typing import Any

import numpy as np

from veil.crypto.mpc.channel import Channel
from veil.crypto.mpc.sharing import reconstruct
from veil.errors import ProtocolError, VeilError
from veil.randomness import random_bytes

__all__ = ["Mesh", "run_parties"]


class Mesh:
    """One party's authenticated channels to every other node (parties, and the dealer)."""

    def __init__(self, me: int, n_parties: int, channels: dict[int, Channel]) -> None:
        self.me = me
        self.n_parties = n_parties
        self.channels = channels

    @classmethod
    def build(
        cls,
        me: int,
        n_parties: int,
        addresses: list[tuple[str, int]],
        keys: dict[int, bytes],
        listener: socket.socket,
        timeout: float,
    ) -> Mesh:
        """Connect to every lower-numbered node, accept every higher-numbered one."""
        channels: dict[int, Channel] = {}
        for peer in range(me):
            channels[peer] = Channel.connect(
                addresses[peer], me=me, peer=peer, key=keys[peer], timeout=timeout
            )
        listener.settimeout(timeout)
        for _ in range(len(addresses) - me - 1):
            try:
                sock, _ = listener.accept()
            except TimeoutError:
                raise ProtocolError(
                    f"party {me}: a party did not connect within {timeout:g} s"
                ) from None
            channel = Channel.accept(sock, me=me, keys=keys, timeout=timeout)
            if channel.peer in channels or channel.peer <= me:
                raise ProtocolError(f"party {me}: unexpected connection from {channel.peer}")
            channels[channel.peer] = channel
        return cls(me, n_parties, channels)

    @property
    def peers(self) -> list[int]:
        return [p for p in range(self.n_parties) if p != self.me]

    def exchange(
        self, outgoing: dict[int, list[np.ndarray]], kind: str
    ) -> dict[int, list[np.ndarray]]:
        """Send each peer its arrays and receive theirs, concurrently (no deadlock on big ones)."""
        errors: list[BaseException] = []

        def send(peer: int) -> None:
            try:
                self.channels[peer].send(kind, outgoing[peer])
            except BaseException as err:  # re-raised in the calling thread below
                errors.append(err)

        threads = [threading.Thread(target=send, args=(p,), daemon=True) for p in outgoing]
        for t in threads:
            t.start()
        received = {}
        try:
            for peer in outgoing:
                received[peer] = self.channels[peer].recv(kind)[1]
        finally:
            for t in threads:
                t.join()
        if errors:
            raise errors[0]
        return received

    def open(self, shares: list[np.ndarray]) -> list[np.ndarray]:
        """Reveal shared values to every party: send my shares, add everyone's."""
        received = self.exchange({p: shares for p in self.peers}, "open")
        return [
            reconstruct([shares[k]] + [received[p][k] for p in self.peers])
            for k in range(len(shares))
        ]

    def from_dealer(self, request: dict[str, Any]) -> list[np.ndarray]:
        """Ask the dealer for correlated randomness; my shares of it."""
        dealer = self.channels[self.n_parties]
        dealer.send("request", [], **request)
        return dealer.recv("material")[1]

    def close(self) -> None:
        for channel in self.channels.values():
            channel.close()


def _run_node(
    conn: Connection,
    me: int,
    n_parties: int,
    keys: dict[int, bytes],
    program: str,
    args: tuple[Any, ...],
    timeout: float,
    fault: dict[str, float],
) -> None:
    """Entry point of each party process."""
    mesh = None
    try:
        listener = socket.create_server(("127.0.0.1", 0))
        conn.send(("port", listener.getsockname()[1]))
        if not conn.poll(timeout):
            raise ProtocolError(f"party {me}: the coordinator sent no addresses")
        addresses = conn.recv()
        mesh = Mesh.build(me, n_parties, addresses, keys, listener, timeout)
        listener.close()
        for channel in mesh.channels.values():
            channel.fault = fault
        if fault.get("crash"):
            import os

            os._exit(3)  # test hook: the process dies as a killed one would
        started = time.perf_counter()
        from veil.crypto.mpc.programs import PROGRAMS

        result = PROGRAMS[program](mesh, *args)
        if program == "predict":
            mesh.channels[n_parties].send("request", [], op="done")
        conn.send(("ok", (result, time.perf_counter() - started)))
    except VeilError as err:
        _notify(mesh, str(err))
        conn.send(("error", str(err)))
    except Exception as err:  # a bug: report its type, never data
        _notify(mesh, f"party {me} failed: {type(err).__name__}")
        conn.send(("error", f"party {me} failed: {type(err).__name__}: {err}"))
    finally:
        if mesh is not None:
            mesh.close()


def _notify(mesh: Mesh | None, message: str) -> None:
    """Tell every peer why this party stops (best effort: a peer may be gone already)."""
    if mesh is None:
        return
    for channel in mesh.channels.values():
        try:
            channel.sock.settimeout(0.5)
            channel.send("error", [], message=message)
        except (VeilError, OSError):
            continue


def _context() -> Any:
    # forkserver: children fork from a clean single-threaded server (safe with
    # TenSEAL's or torch's threads in the caller) that imports veil once.
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["veil.crypto.mpc.programs"])
    return ctx


def run_parties(
    programs: list[tuple[str, tuple[Any, ...]]],
    n_parties: int,
    timeout: float,
    faults: dict[int, dict[str, float]] | None,
    timings: dict[str, float] | None,
) -> list[Any]:
    """Start one process per node, wire them, wait for all; raise on any failure.

    Parameters
    ----------
    programs
        ``(name, args)`` per node, from :data:`veil.crypto.mpc.programs.PROGRAMS`:
        the first ``n_parties`` are the computing parties, a further one the dealer.
    n_parties
        How many of the nodes compute (the dealer is node ``n_parties``).
    timeout
        Seconds any party waits for a message before it gives up.
    faults
        Test hooks per node (see :class:`~veil.crypto.mpc.channel.Channel`;
        ``{"crash": 1}`` ends the process once its channels are up).
    timings
        Filled with ``protocol_s`` and ``total_s`` when given.

    Returns
    -------
    list
        Each node's output, in node order, only when every node succeeded.

    Raises
    ------
    ProtocolError
        The first failure to arrive (a party's own error, a dropped or stalled
        party, a message that failed authentication); no output is returned.
    """
    started = time.perf_counter()
    failed = True  # until every party has reported its result
    n_nodes = len(programs)
    pair = {(i, j): random_bytes(32) for i in range(n_nodes) for j in range(i + 1, n_nodes)}
    ctx = _context()
    conns, procs = [], []
    try:
        for me, (program, args) in enumerate(programs):
            keys = {j: pair[min(me, j), max(me, j)] for j in range(n_nodes) if j != me}
            parent, child = ctx.Pipe()
            proc = ctx.Process(
                target=_run_node,
                args=(
                    child,
                    me,
                    n_parties,
                    keys,
                    program,
                    args,
                    timeout,
                    (faults or {}).get(me, {}),
                ),
                daemon=True,
            )
            proc.start()
            child.close()
            conns.append(parent)
            procs.append(proc)
        ports = [_receive(conns[i], procs[i], i, timeout + 30.0, "port")[1] for i in range(n_nodes)]
        addresses = [("127.0.0.1", int(p)) for p in ports]
        for conn in conns:
            conn.send(addresses)
        results: dict[int, Any] = {}
        errors: dict[int, str] = {}
        order: list[int] = []  # parties in the order their errors arrived: the first is the cause
        deadline = time.monotonic() + 4 * timeout
        pending = set(range(n_nodes))
        while pending and time.monotonic() < deadline:
            ready = wait(
                [conns[i] for i in pending] + [procs[i].sentinel for i in pending],
                timeout=max(0.0, deadline - time.monotonic()),
            )
            for i in list(pending):
                if conns[i] in ready or procs[i].sentinel in ready:
                    try:
                        status, value = _receive(conns[i], procs[i], i, 1.0, None)
                    except ProtocolError as err:
                        status, value = "error", str(err)
                    if status == "ok":
                        results[i] = value
                    else:
                        errors[i] = value
                        order.append(i)
                    pending.discard(i)
            if errors:  # the others stop on their own within a moment, or are stalled
                deadline = min(deadline, time.monotonic() + 1.0)
        failed = bool(errors or pending)
        if failed:
            first = order[0] if order else min(pending)
            why = errors.get(first, f"party {first} did not finish within {4 * timeout:g} s")
            raise ProtocolError(f"the secure computation failed, no result was revealed: {why}")
        if timings is not None:
            timings["protocol_s"] = max(seconds for _, seconds in results.values())
            timings["total_s"] = time.perf_counter() - started
        return [results[i][0] for i in range(n_nodes)]
    finally:
        for proc in procs:
            proc.join(timeout=2.0 if not failed else 0.2)
            if proc.is_alive():
                proc.kill()
                proc.join()
        for conn in conns:
            conn.close()


def _receive(
    conn: Connection, proc: Any, i: int, timeout: float, kind: str | None
) -> tuple[str, Any]:
    if not conn.poll(timeout):
        raise ProtocolError(f"party {i} did not answer within {timeout:g} s")
    try:
        status, value = conn.recv()
    except (EOFError, OSError):
        proc.join(timeout=1.0)
        if kind == "port":  # died while starting: almost always the script's missing guard
            raise ProtocolError(
                f"party {i} exited (code {proc.exitcode}) while starting: a script that calls "
                "veil.crypto.mpc must run it under `if __name__ == '__main__':` "
                "(party processes import the script, as with any multiprocessing code)"
            ) from None
        raise ProtocolError(
            f"party {i} exited (code {proc.exitcode}) before finishing: it dropped out"
        ) from None
    if kind is not None and status != kind:
        raise ProtocolError(f"party {i} failed before the protocol started: {value}")
    return status, value
