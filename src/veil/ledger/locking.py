"""The ledger's OS write lock: writers take turns without SQLite's sleepy retries."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

from veil.errors import LedgerBusyError

try:  # POSIX: writers queue on an OS lock; elsewhere on SQLite's busy handler alone
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["busy_message", "write_lock"]


def busy_message(ledger: Path, timeout: float) -> str:
    """What a writer that gave up waiting for ``ledger`` tells the user."""
    return (
        f"ledger {str(ledger)!r} is locked by another process (waited {timeout:g} s); "
        "try again, or wait longer with --lock-timeout"
    )


@contextlib.contextmanager
def write_lock(ledger: Path, timeout: float) -> Iterator[None]:
    """Hold ``<ledger>.lock`` exclusively for one write transaction.

    SQLite alone makes a waiting writer sleep up to 100 ms between retries, so
    concurrent releases crawl; an advisory lock polled every few milliseconds
    hands the ledger over as soon as it is free. SQLite's own locking still
    guarantees correctness; this lock only orders the writers.

    Raises
    ------
    LedgerBusyError
        Another process held the lock for longer than ``timeout`` seconds.
    """
    fd = -1
    if fcntl is not None:
        with contextlib.suppress(OSError):  # a read-only folder: SQLite's locking still holds
            fd = os.open(f"{ledger}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    if fd < 0:
        yield
        return
    try:
        deadline, pause = time.monotonic() + timeout, 0.0005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LedgerBusyError(busy_message(ledger, timeout)) from None
                time.sleep(pause)
                pause = min(2 * pause, 0.005)
        yield
    finally:
        os.close(fd)  # closing releases the lock
