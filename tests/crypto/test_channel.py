"""Authenticated channels on real sockets: tampered, truncated, replayed, foreign messages fail."""

from __future__ import annotations

import socket
import threading

import numpy as np
import pytest

from veil.crypto.mpc.channel import Channel
from veil.errors import ProtocolError

KEY = bytes(range(32))


def _pair(timeout: float = 5.0) -> tuple[Channel, Channel]:
    """Two channels authenticated by the real handshake over TCP on 127.0.0.1."""
    listener = socket.create_server(("127.0.0.1", 0))
    out: dict[str, Channel] = {}

    def accept() -> None:
        sock, _ = listener.accept()
        out["a"] = Channel.accept(sock, me=0, keys={1: KEY}, timeout=timeout)

    t = threading.Thread(target=accept)
    t.start()
    b = Channel.connect(listener.getsockname()[:2], me=1, peer=0, key=KEY, timeout=timeout)
    t.join()
    listener.close()
    return out["a"], b


def _wire(sender: Channel, arrays: list[np.ndarray]) -> bytes:
    """The exact bytes ``sender`` puts on the wire for one message (read off a socketpair)."""
    real = sender.sock
    mine, theirs = socket.socketpair()
    sender.sock = mine
    sender.send("data", arrays)
    sender.sock = real
    mine.close()
    chunks = []
    while chunk := theirs.recv(1 << 16):
        chunks.append(chunk)
    theirs.close()
    return b"".join(chunks)


def test_messages_round_trip() -> None:
    a, b = _pair()
    x = np.arange(10, dtype=np.uint64) * np.uint64(2**60)
    b.send("data", [x, x[:3].reshape(3, 1)], note="hi")
    meta, (got, small) = a.recv("data")
    assert meta == {"note": "hi"}
    np.testing.assert_array_equal(got, x)
    assert small.shape == (3, 1)
    a.send("data", [])
    assert b.recv("data")[1] == []


@pytest.mark.parametrize("where", ["header", "payload", "tag"])
def test_a_flipped_bit_anywhere_is_detected(where: str) -> None:
    a, b = _pair()
    frame = bytearray(_wire(b, [np.arange(100, dtype=np.uint64)]))
    pos = {"header": 10, "payload": len(frame) // 2, "tag": len(frame) - 1}[where]
    frame[pos] ^= 0x04
    b.sock.sendall(bytes(frame))
    with pytest.raises(ProtocolError, match="failed authentication"):
        a.recv("data")


def test_replayed_and_reordered_messages_are_refused() -> None:
    a, b = _pair()
    frame = _wire(b, [np.ones(4, dtype=np.uint64)])
    b.sock.sendall(frame)
    a.recv("data")
    b.sock.sendall(frame)  # the same message again
    with pytest.raises(ProtocolError, match="replayed or reordered"):
        a.recv("data")


def test_a_message_from_another_session_fails_authentication() -> None:
    _, b1 = _pair()
    frame = _wire(b1, [np.ones(4, dtype=np.uint64)])
    a2, b2 = _pair()  # same pair key, fresh nonces: another session key
    b2.sock.sendall(frame)
    with pytest.raises(ProtocolError, match="authentication"):
        a2.recv("data")


def test_truncated_message_and_dropped_peer() -> None:
    a, b = _pair()
    frame = _wire(b, [np.ones(1000, dtype=np.uint64)])
    b.sock.sendall(frame[: len(frame) // 2])
    b.close()
    with pytest.raises(ProtocolError, match="closed the connection mid-protocol"):
        a.recv("data")


def test_silent_peer_times_out_in_bounded_time() -> None:
    a, _ = _pair(timeout=0.3)
    with pytest.raises(ProtocolError, match=r"sent nothing for 0.3 s"):
        a.recv("data")


def test_wrong_pair_key_fails_the_handshake() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    errors: list[Exception] = []

    def accept() -> None:
        sock, _ = listener.accept()
        try:
            Channel.accept(sock, me=0, keys={1: KEY}, timeout=2.0)
        except ProtocolError as err:
            errors.append(err)

    t = threading.Thread(target=accept)
    t.start()
    with pytest.raises(ProtocolError):
        Channel.connect(listener.getsockname()[:2], me=1, peer=0, key=b"x" * 32, timeout=2.0)
    t.join()
    listener.close()
    assert errors and "failed to authenticate" in str(errors[0])


def test_unexpected_kind_and_peer_error_are_reported() -> None:
    a, b = _pair()
    b.send("other", [])
    with pytest.raises(ProtocolError, match="'other' where 'data'"):
        a.recv("data")
    b.send("error", [], message="party 1: column 'x' not found")
    with pytest.raises(ProtocolError, match="party 1 stopped: party 1: column 'x'"):
        a.recv("data")
