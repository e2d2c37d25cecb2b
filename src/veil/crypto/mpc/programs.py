"""What the parties compute: secure sums across data owners, predictions of a shared model.

Each program runs in every party process over a :class:`~veil.crypto.mpc.parties.Mesh`;
the public functions here start the processes (:func:`~veil.crypto.mpc.parties.run_parties`)
and return the result only when every party finished.

- :func:`secure_sum` / :func:`secure_column_sums`: N data owners, each a party
  holding a vector (or a table it reads itself), learn the elementwise total
  and nothing else (the masking behind federated secure aggregation, Bonawitz
  et al. 2017, without its dropout recovery: a dropped owner stops the sum).
- :func:`shared_predict`: 2 or 3 parties hold a linear model's weights and a
  client's rows as shares; with a dealer's Beaver triple they compute the
  scores as shares, which only the client adds up.

Threat model: semi-honest parties, an honest dealer, no collusion.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import expit

from veil.crypto.mpc.beaver import (
    Dealer,
    Triple,
    TruncationPair,
    ambiguous,
    combine_product,
    finish_truncation,
    mask_for_truncation,
    mask_operands,
)
from veil.crypto.mpc.parties import Mesh, run_parties
from veil.crypto.mpc.ring import FRAC_BITS, decode, encode
from veil.crypto.mpc.sharing import reconstruct, share
from veil.errors import ParameterError, ProtocolError

__all__ = ["PROGRAMS", "secure_column_sums", "secure_sum", "shared_predict"]

#: A secure sum's values stay within +-2^46 / owners: the total within 2^46, 2^62 in the ring.
SUM_RANGE_BITS = 46


def _sum_program(mesh: Mesh, values: np.ndarray) -> np.ndarray | None:
    """Share my vector among all, add the shares I receive; party 0 opens the total."""
    mine = share(values, mesh.n_parties)
    received = mesh.exchange({p: [mine[p]] for p in mesh.peers}, "share")
    for p, (s,) in received.items():
        if s.shape != values.shape:
            raise ProtocolError(
                f"party {p} holds {s.size} values, party {mesh.me} {values.size}: every owner "
                "must contribute a vector of the same length"
            )
    total = mine[mesh.me].copy()
    for (s,) in received.values():
        total += s
    # Only the output party (0) learns the total: the others send it their shares.
    if mesh.me != 0:
        mesh.channels[0].send("total", [total])
        return None
    for p in mesh.peers:
        total += mesh.channels[p].recv("total")[1][0]
    return total


def _truncate(mesh: Mesh, z: np.ndarray) -> np.ndarray:
    flat = z.reshape(-1)
    out = np.zeros(flat.size, np.uint64)
    todo = np.arange(flat.size)
    while todo.size:
        r, high = mesh.from_dealer({"op": "truncation", "size": int(todo.size)})
        pair = TruncationPair(r, high)
        c = mesh.open([mask_for_truncation(mesh.me, flat[todo], pair)])[0]
        bad = ambiguous(c)
        out[todo[~bad]] = finish_truncation(mesh.me, c, pair)[~bad]
        todo = todo[bad]
    return out.reshape(z.shape)


def _predict_program(mesh: Mesh, x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """My share of x @ w + b, by one Beaver matrix product and one truncation."""
    a, bb, c = mesh.from_dealer({"op": "matmul", "x": list(x.shape), "y": list(w.shape)})
    triple = Triple(a, bb, c)
    e, f = mask_operands(x, w, triple)
    e, f = mesh.open([e, f])
    z = combine_product(mesh.me, e, f, triple, "matmul")
    z += b << np.uint64(FRAC_BITS)  # the bias, brought to the product's 32 fractional bits
    return _truncate(mesh, z)


def _dealer_program(mesh: Mesh) -> None:
    """Serve identical requests of all parties until each says it is done."""
    dealer = Dealer(mesh.n_parties)
    parties = list(range(mesh.n_parties))
    while True:
        requests = [mesh.channels[p].recv("request")[0] for p in parties]
        if any(r != requests[0] for r in requests):
            raise ProtocolError("the parties asked the dealer for different material")
        req = requests[0]
        if req.get("op") == "done":
            return
        if req.get("op") == "matmul":
            triples = dealer.triples("matmul", tuple(req["x"]), tuple(req["y"]))
            material = [[t.a, t.b, t.c] for t in triples]
        elif req.get("op") == "truncation":
            pairs = dealer.truncation_pairs(int(req["size"]))
            material = [[p.r, p.r_high] for p in pairs]
        else:
            raise ProtocolError(f"unknown request to the dealer: {req!r}")
        for p in parties:
            mesh.channels[p].send("material", material[p])


def secure_sum(
    vectors: Sequence[np.ndarray],
    *,
    timeout: float = 30.0,
    timings: dict[str, float] | None = None,
    _faults: dict[int, dict[str, float]] | None = None,
) -> np.ndarray:
    """The elementwise total of N owners' vectors, each owner a separate party process.

    Each party shares its vector among all (additive shares over Z_2^64,
    16 fractional bits), adds the shares it receives and the parties open the
    sum of sums: no party sees another's vector, only the total.

    Parameters
    ----------
    vectors
        One vector per data owner (at least 2), all of the same length, each
        value within +-2^46 / N (about 7e13 / N).
    timeout
        Seconds a party waits for any message before giving up.
    timings
        If given, filled with ``protocol_s`` (the slowest party, from its
        connected channels to its output) and ``total_s`` (with process start).

    Raises
    ------
    ParameterError
        Fewer than 2 owners, or a value outside the fixed-point range.
    ProtocolError
        A party failed, dropped out, stalled, or a message failed authentication.
    """
    n = len(vectors)
    if n < 2:
        raise ParameterError(f"a secure sum needs at least 2 owners; got {n}")
    if n > 255:
        raise ParameterError(f"at most 255 owners take part in one secure sum; got {n}")
    limit = 2.0**SUM_RANGE_BITS / n
    encoded = []
    for v in vectors:
        v = np.asarray(v, dtype=np.float64).reshape(-1)
        if v.size and np.max(np.abs(v)) >= limit:
            raise ParameterError(
                f"a value {float(np.max(np.abs(v))):g} exceeds the secure sum's range "
                f"+-{limit:.3g} (2^{SUM_RANGE_BITS} / {n} owners): rescale the data"
            )
        encoded.append(_encode_wide(v))
    results = run_parties([("sum", (e,)) for e in encoded], n, timeout, _faults, timings)
    return decode(results[0])


def _table_sum_program(mesh: Mesh, path: str, columns: list[str]) -> np.ndarray | None:
    """Read my own table, sum its columns locally, and take part in the secure sum."""
    from veil.errors import ColumnError
    from veil.io import read_table

    frame = read_table(path)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ColumnError(
            f"party {mesh.me}: column {missing[0]!r} not found in its table; "
            f"columns are: {', '.join(frame.columns)}"
        )
    frame = frame.select(columns)
    for name in columns:
        if frame[name].null_count():
            raise ProtocolError(
                f"party {mesh.me}: column {name!r} of its table has missing values; "
                "impute or drop them before the secure sum"
            )
    try:
        values = frame.to_numpy().astype(np.float64)
    except (TypeError, ValueError):
        raise ProtocolError(f"party {mesh.me}: the columns are not all numeric") from None
    local = np.append(values.sum(axis=0), float(len(frame)))
    limit = 2.0**SUM_RANGE_BITS / mesh.n_parties
    if not np.isfinite(local).all() or np.max(np.abs(local)) >= limit:
        raise ProtocolError(
            f"party {mesh.me}: a column sum is outside the secure sum's range +-{limit:.3g}: "
            "rescale the data"
        )
    return _sum_program(mesh, _encode_wide(local))


PROGRAMS: dict[str, Callable[..., Any]] = {
    "sum": _sum_program,
    "table_sum": _table_sum_program,
    "predict": _predict_program,
    "dealer": _dealer_program,
}


def secure_column_sums(
    paths: Sequence[str | Path],
    columns: Sequence[str],
    *,
    timeout: float = 30.0,
    timings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Column totals, row count and means over N owners' tables; each owner's process reads its own.

    The coordinating process never reads a table: party i opens ``paths[i]``,
    sums ``columns`` locally, and the parties run :func:`secure_sum` on those
    sums and the row count. Only the totals come out.

    Returns
    -------
    dict
        ``{"count": rows, "sums": {column: total}, "means": {column: mean}}``.

    Raises
    ------
    ParameterError
        Fewer than 2 files, or no columns.
    DataError
        A file is missing.
    ProtocolError
        A party failed (a missing column, missing or non-numeric values, a sum
        out of range), dropped out or stalled; the message says which.
    """
    from veil.errors import DataError

    if len(paths) < 2:
        raise ParameterError(f"a secure sum needs at least 2 owners' files; got {len(paths)}")
    if not columns:
        raise ParameterError("name at least one column to sum")
    for path in paths:
        if not Path(path).is_file():
            raise DataError(f"file {str(path)!r} does not exist")
    cols = [str(c) for c in columns]
    programs = [("table_sum", (str(p), cols)) for p in paths]
    total = decode(run_parties(programs, len(paths), timeout, None, timings)[0])
    count = round(float(total[-1]))
    sums = {c: float(v) for c, v in zip(cols, total[:-1], strict=True)}
    return {
        "count": count,
        "sums": sums,
        "means": {c: (v / count if count else float("nan")) for c, v in sums.items()},
    }


def _encode_wide(v: np.ndarray) -> np.ndarray:
    """Fixed point without the product range limit (a sum needs no truncation)."""
    if not np.isfinite(v).all():
        encode(v)  # raises the DataError naming NaN/inf
    return np.rint(v * float(1 << FRAC_BITS)).astype(np.int64).view(np.uint64)


def shared_predict(
    weights: np.ndarray,
    bias: float,
    X: np.ndarray,
    *,
    n_parties: int = 2,
    link: str = "identity",
    timeout: float = 30.0,
    timings: dict[str, float] | None = None,
    _faults: dict[int, dict[str, float]] | None = None,
) -> np.ndarray:
    """Scores ``X @ weights + bias`` computed by parties holding model and inputs as shares.

    The model owner's weights and the client's rows are secret-shared among
    ``n_parties`` processes; a dealer process supplies a Beaver matrix triple
    and truncation pairs; the parties return shares of the scores, which only
    the caller (the client) adds up, then applies ``link`` (``"identity"``, or
    ``"sigmoid"`` for a logistic model's probabilities), in the clear.

    Error: inputs are rounded to 2^-16; the product then carries at most 2^-16
    of truncation error (:mod:`veil.crypto.mpc.beaver`). Values and scores must
    lie within +-2^23.

    Raises
    ------
    ParameterError
        ``n_parties`` is not 2 or 3, shapes disagree, or a value is out of range.
    ProtocolError
        A party or the dealer failed, dropped out, stalled, or a message failed
        authentication.
    """
    if n_parties not in (2, 3):
        raise ParameterError(f"n_parties must be 2 or 3; got {n_parties}")
    if link not in ("identity", "sigmoid"):
        raise ParameterError(f"link must be 'identity' or 'sigmoid'; got {link!r}")
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    if X.shape[1] != w.size:
        raise ParameterError(f"X has {X.shape[1]} features; the model has {w.size} weights")
    xs, ws, bs = (share(encode(v), n_parties) for v in (X, w, np.array([bias])))
    programs = [("predict", (xs[i], ws[i], bs[i])) for i in range(n_parties)]
    programs.append(("dealer", ()))
    results = run_parties(programs, n_parties, timeout, _faults, timings)
    scores = decode(reconstruct(results[:n_parties]))
    return expit(scores) if link == "sigmoid" else scores
