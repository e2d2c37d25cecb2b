"""Run a scientist's function on a table in a separate, confined process.

The parent (:func:`run_confined`) starts ``python -m veil.site.confinement``
with a clean environment in an empty temporary folder, inside a new network
namespace when the system allows one (``unshare --net --map-root-user``: the
process then has no network interface but loopback), and hands it the job on
stdin. The child reads the table, then before any of the scientist's code runs:

- caps its CPU time (``RLIMIT_CPU``) and its address space (``RLIMIT_AS``,
  the memory already used plus the allowance) and forbids writing into files
  (``RLIMIT_FSIZE`` = 0: a file may be created, never filled);
- replaces :mod:`socket`'s constructors by ones that refuse, so Python code
  cannot open a connection even where no namespace could be made.

The parent kills the child past a wall-clock limit. What this is not: a
security boundary against hostile code. Python code can still read files the
site's user can read, and native code could undo the socket block. The owner
reads every request before it runs on the real data; these limits stop
mistakes (an endless loop, a huge allocation, a stray download), not attacks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from functools import lru_cache
from typing import Any

__all__ = ["ConfinedResult", "network_isolation", "run_confined"]

_MARK = "\x1eveil-result\x1e"


class ConfinedResult(dict):  # type: ignore[type-arg]
    """{"ok", "result" or "error", "confinement"} of one confined run."""


@lru_cache(maxsize=1)
def network_isolation() -> list[str]:
    """The command prefix that gives a child no network, or [] when the system refuses."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return []
    prefix = [unshare, "--net", "--map-root-user"]
    try:
        done = subprocess.run([*prefix, "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return prefix if done.returncode == 0 else []


def run_confined(
    code: str,
    function: str,
    table: str,
    *,
    seconds: float,
    memory_mb: int,
    result_bytes: int,
) -> ConfinedResult:
    """Call ``function`` defined by ``code`` on the Parquet table ``table`` (as pandas).

    Returns
    -------
    ConfinedResult
        ``ok`` True with the JSON-ready ``result``, or False with an ``error``
        line (the exception's type and message, never a traceback), and
        ``confinement``: which limits held.
    """
    prefix = network_isolation()
    job = json.dumps(
        {
            "code": code,
            "function": function,
            "table": table,
            "seconds": seconds,
            "memory_mb": memory_mb,
            "result_bytes": result_bytes,
        }
    )
    limits = f"cpu {seconds:g} s, memory {memory_mb} MiB, no file writes, sockets blocked in Python"
    confinement = limits + (", network namespace" if prefix else ", no network namespace")
    env = {"PATH": os.defpath, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    with tempfile.TemporaryDirectory(prefix="veil-run-") as workdir:
        try:
            done = subprocess.run(
                [*prefix, sys.executable, "-m", "veil.site.confinement"],
                input=job,
                capture_output=True,
                text=True,
                cwd=workdir,
                env=env,
                timeout=seconds * 2 + 30,
            )
        except subprocess.TimeoutExpired:
            return ConfinedResult(
                ok=False,
                error=f"TimeoutError: ran past {seconds * 2 + 30:g} s of wall time",
                confinement=confinement,
            )
    out = done.stdout
    if _MARK in out:
        payload = out.rsplit(_MARK, 1)[1]
        if len(payload) > result_bytes + 1024:
            return ConfinedResult(
                ok=False,
                error="ResultTooLarge: the result exceeds the size limit",
                confinement=confinement,
            )
        outcome = json.loads(payload)
        return ConfinedResult(**outcome, confinement=confinement)
    if done.returncode < 0:
        import signal

        name = signal.Signals(-done.returncode).name
        reason = "CPU time limit" if name == "SIGXCPU" else f"signal {name}"
        return ConfinedResult(
            ok=False, error=f"Killed: the run was stopped ({reason})", confinement=confinement
        )
    last = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return ConfinedResult(ok=False, error=f"Crashed: {last[:300]}", confinement=confinement)


def _jsonable(value: Any) -> Any:
    """A function's return value as JSON-ready data (tables become column lists)."""
    import numpy as np
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return {
            "columns": [str(c) for c in value.columns],
            "data": {str(c): _jsonable(value[c].tolist()) for c in value.columns},
        }
    if isinstance(value, pd.Series):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"the function returned a {type(value).__name__}, which is not JSON-ready")


def _block_sockets() -> None:
    import socket

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise PermissionError("network access is disabled in a code request")

    socket.socket = refuse  # type: ignore[assignment,misc]
    socket.create_connection = refuse  # type: ignore[assignment]
    socket.socketpair = refuse  # type: ignore[assignment]
    socket.getaddrinfo = refuse  # type: ignore[assignment]


def _limit(seconds: float, memory_mb: int) -> None:
    import resource
    import signal

    cpu = max(1, int(seconds))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    with open("/proc/self/statm") as f:  # Linux: pages of address space in use
        used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    cap = used + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write fails instead of killing
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


def _child() -> None:
    job = json.loads(sys.stdin.read())
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # the scientist's prints never mix with the result
    import pandas as pd

    frame = pd.read_parquet(job["table"])
    _limit(job["seconds"], job["memory_mb"])
    _block_sockets()
    try:
        namespace: dict[str, Any] = {"__name__": "veil_request"}
        exec(compile(job["code"], "<code request>", "exec"), namespace)
        function = namespace.get(job["function"])
        if not callable(function):
            raise NameError(f"the code defines no function {job['function']!r}")
        payload = json.dumps({"ok": True, "result": _jsonable(function(frame))}, allow_nan=False)
        if len(payload) > job["result_bytes"]:
            raise ValueError(
                f"the result is {len(payload):,} bytes as JSON; at most "
                f"{job['result_bytes']:,} are released: return aggregates, not rows"
            )
    except MemoryError:
        payload = json.dumps({"ok": False, "error": "MemoryError: the memory limit was reached"})
    except BaseException as err:  # every failure of the scientist's code is reported
        message = " ".join(str(err).split())[:500]
        payload = json.dumps({"ok": False, "error": f"{type(err).__name__}: {message}"})
    real_stdout.write(_MARK + payload)
    real_stdout.flush()


if __name__ == "__main__":
    _child()
