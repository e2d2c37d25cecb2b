"""Authenticated messages between two parties over TCP: HMAC-SHA256, sequence numbers, timeouts.

Each pair of parties shares a 32-byte key. On connecting, the two exchange
fresh 16-byte nonces, each side proving it holds the pair key
(HMAC(key, "hello" | ids | nonce)), and derive a session key
HMAC(key, "session" | nonce_c | nonce_a): messages of an earlier session do
not verify in this one. Every message is then framed as

    "VMP1" | sender (u8) | receiver (u8) | sequence (u64) | length (u64) | payload | tag

with tag = HMAC-SHA256(session key, header | payload) and sequence numbers
counting up from 0 in each direction (Bellare, Canetti and Krawczyk 1996 for
HMAC; the framing follows TLS's record MAC with implicit sequence numbers,
here explicit). A flipped bit, a truncated, reordered or replayed message,
or a message from another session is a :class:`~veil.errors.ProtocolError`;
so is a peer silent past the timeout or one that closes mid-protocol.
Confidentiality on the wire is not provided here: shares are uniformly random
on their own, but a party's traffic to another must not be read by a third
(run over TLS or a private network across machines).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import struct
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from veil.errors import ProtocolError
from veil.randomness import random_bytes

__all__ = ["Channel"]

MAGIC = b"VMP1"
HELLO_MAGIC = b"VMPH"
HEADER = struct.Struct(">4sBBQQ")
HELLO = struct.Struct(">4sBB16s32s")
TAG = 32
#: Largest payload accepted (bytes).
MAX_PAYLOAD = 1 << 33


def _mac(key: bytes, *parts: bytes | memoryview) -> bytes:
    h = hmac.new(key, digestmod=hashlib.sha256)
    for p in parts:
        h.update(p)
    return h.digest()


class Channel:
    """One authenticated, ordered connection to a peer (use :meth:`connect` / :meth:`accept`).

    Attributes
    ----------
    fault
        Test hook (simulates a faulty party or an attacker on the wire):
        ``{"tamper": k}`` flips a payload byte of the k-th message sent after
        its tag is computed; ``{"stall": s}`` sleeps s seconds before each send.
    """

    def __init__(self, sock: socket.socket, *, me: int, peer: int, session_key: bytes) -> None:
        self.sock = sock
        self.me = me
        self.peer = peer
        self._key = session_key
        self._send_seq = 0
        self._recv_seq = 0
        self.fault: dict[str, float] = {}

    # --- handshake -----------------------------------------------------------------

    @classmethod
    def connect(
        cls, address: tuple[str, int], *, me: int, peer: int, key: bytes, timeout: float
    ) -> Channel:
        """Connect to ``peer`` at ``address`` and authenticate both ways."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                sock = socket.create_connection(address, timeout=timeout)
                break
            except OSError as err:
                if time.monotonic() > deadline:
                    raise ProtocolError(
                        f"party {me} cannot reach party {peer} at {address[0]}:{address[1]} "
                        f"({err.strerror or err}) within {timeout:g} s"
                    ) from None
                time.sleep(0.05)
        _configure(sock, timeout)
        nonce_c = random_bytes(16)
        ids = bytes([me, peer])
        sock.sendall(HELLO.pack(HELLO_MAGIC, me, peer, nonce_c, _mac(key, b"hello", ids, nonce_c)))
        reply = _recv_exact(sock, 16 + TAG, peer)
        nonce_a, tag = reply[:16], reply[16:]
        if not hmac.compare_digest(tag, _mac(key, b"reply", ids, nonce_c, nonce_a)):
            sock.close()
            raise ProtocolError(f"party {peer} failed to authenticate (wrong pair key?)")
        return cls(sock, me=me, peer=peer, session_key=_mac(key, b"session", nonce_c, nonce_a))

    @classmethod
    def accept(
        cls, sock: socket.socket, *, me: int, keys: dict[int, bytes], timeout: float
    ) -> Channel:
        """Authenticate a connection accepted on our listening socket; the peer names itself."""
        _configure(sock, timeout)
        magic, sender, receiver, nonce_c, tag = HELLO.unpack(_recv_exact(sock, HELLO.size, -1))
        key = keys.get(sender)
        ids = bytes([sender, receiver])
        if (
            magic != HELLO_MAGIC
            or receiver != me
            or key is None
            or not hmac.compare_digest(tag, _mac(key, b"hello", ids, nonce_c))
        ):
            sock.close()
            raise ProtocolError(f"party {me} refused a connection that failed to authenticate")
        nonce_a = random_bytes(16)
        sock.sendall(nonce_a + _mac(key, b"reply", ids, nonce_c, nonce_a))
        return cls(sock, me=me, peer=sender, session_key=_mac(key, b"session", nonce_c, nonce_a))

    # --- framing -------------------------------------------------------------------

    def send_frame(self, payload: list[bytes | memoryview]) -> None:
        """Send one authenticated message made of ``payload`` (concatenated)."""
        length = sum(len(p) for p in payload)
        header = HEADER.pack(MAGIC, self.me, self.peer, self._send_seq, length)
        tag = _mac(self._key, header, *payload)
        if self.fault.get("stall"):
            time.sleep(float(self.fault["stall"]))
        if self.fault.get("tamper") == self._send_seq + 1 and length:
            first = bytearray(payload[0])
            first[len(first) // 2] ^= 0x01  # an attacker on the wire flips one bit
            payload = [bytes(first), *payload[1:]]
        try:
            self.sock.sendall(header)
            for part in payload:
                self.sock.sendall(part)
            self.sock.sendall(tag)
        except TimeoutError:
            raise ProtocolError(f"party {self.peer} stopped reading: timed out sending") from None
        except OSError as err:
            raise ProtocolError(
                f"party {self.peer} dropped the connection ({err.strerror or err}); "
                "the protocol stopped and nothing was revealed"
            ) from None
        self._send_seq += 1

    def recv_frame(self) -> bytearray:
        """Receive and verify one message; its payload."""
        magic, sender, receiver, seq, length = HEADER.unpack(
            _recv_exact(self.sock, HEADER.size, self.peer)
        )
        if magic != MAGIC or sender != self.peer or receiver != self.me:
            raise ProtocolError(f"malformed message header from party {self.peer}")
        if length > MAX_PAYLOAD:
            raise ProtocolError(f"party {self.peer} announced a {length}-byte message: refused")
        payload = _recv_exact(self.sock, length, self.peer)
        tag = _recv_exact(self.sock, TAG, self.peer)
        header = HEADER.pack(magic, sender, receiver, seq, length)
        if not hmac.compare_digest(bytes(tag), _mac(self._key, header, payload)):
            raise ProtocolError(
                f"a message from party {self.peer} failed authentication (tampered, or "
                "from another session): the protocol stopped and nothing was revealed"
            )
        if seq != self._recv_seq:
            raise ProtocolError(
                f"message {seq} from party {self.peer} arrived when {self._recv_seq} was "
                "expected (replayed or reordered): the protocol stopped"
            )
        self._recv_seq += 1
        return payload

    def send(self, kind: str, arrays: Sequence[np.ndarray] = (), **meta: Any) -> None:
        """Send ``kind``, small JSON metadata and ``uint64`` arrays."""
        arrays = [np.ascontiguousarray(a, dtype=np.uint64) for a in arrays]
        head = json.dumps(
            {"kind": kind, "meta": meta, "shapes": [list(a.shape) for a in arrays]}
        ).encode()
        parts: list[bytes | memoryview] = [struct.pack(">I", len(head)), head]
        parts += [memoryview(a).cast("B") for a in arrays]
        self.send_frame(parts)

    def recv(self, kind: str) -> tuple[dict[str, Any], list[np.ndarray]]:
        """Receive a message that must be of ``kind``; its metadata and arrays."""
        payload = self.recv_frame()
        try:
            (hlen,) = struct.unpack_from(">I", payload, 0)
            head = json.loads(bytes(payload[4 : 4 + hlen]))
            shapes = [tuple(int(d) for d in s) for s in head["shapes"]]
            got = str(head["kind"])
            meta = dict(head["meta"])
        except (struct.error, ValueError, KeyError, TypeError):
            raise ProtocolError(f"malformed message body from party {self.peer}") from None
        if got == "error":
            raise ProtocolError(f"party {self.peer} stopped: {meta.get('message', '')}")
        if got != kind:
            raise ProtocolError(f"party {self.peer} sent {got!r} where {kind!r} was expected")
        arrays, pos = [], 4 + hlen
        for shape in shapes:
            n = int(np.prod(shape, dtype=np.int64)) * 8
            if pos + n > len(payload):
                raise ProtocolError(f"malformed message body from party {self.peer}")
            arrays.append(
                np.frombuffer(payload, dtype=np.uint64, count=n // 8, offset=pos).reshape(shape)
            )
            pos += n
        if pos != len(payload):
            raise ProtocolError(f"malformed message body from party {self.peer}")
        return meta, arrays

    def close(self) -> None:
        self.sock.close()  # closing a socket twice, or a dead one, raises nothing


def _configure(sock: socket.socket, timeout: float) -> None:
    sock.settimeout(timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _recv_exact(sock: socket.socket, n: int, peer: int) -> bytearray:
    who = f"party {peer}" if peer >= 0 else "a connecting party"
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        try:
            k = sock.recv_into(view[got:], min(n - got, 1 << 22))
        except TimeoutError:
            raise ProtocolError(
                f"{who} sent nothing for {sock.gettimeout():g} s (dropped or stalled): "
                "the protocol stopped and nothing was revealed"
            ) from None
        except OSError as err:
            raise ProtocolError(f"{who} dropped the connection ({err.strerror or err})") from None
        if k == 0:
            raise ProtocolError(
                f"{who} closed the connection mid-protocol (dropped out, or the message "
                "was truncated): the protocol stopped and nothing was revealed"
            )
        got += k
    return buf
