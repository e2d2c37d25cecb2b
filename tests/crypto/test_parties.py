"""Parties as real processes on 127.0.0.1: secure sums, shared-model predictions, failures.

Every failure test bounds its time: a dropped, stalled or tampering party must
stop the computation with a ProtocolError within the timeout plus process
start-up, and no result is returned.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from veil.crypto.mpc import decode, encode, secure_column_sums, secure_sum, shared_predict
from veil.errors import DataError, ParameterError, ProtocolError

UNIT = 2.0**-16


def test_secure_sum_of_three_owners_is_exact() -> None:
    rng = np.random.default_rng(0)
    vectors = [rng.normal(size=5000) * 1000 for _ in range(3)]
    for v in vectors:
        v[0] = 2.0**46 / 3 - 1  # the largest values the range admits still add up exactly
    timings: dict[str, float] = {}
    total = secure_sum(vectors, timings=timings)
    # Exact in fixed point: the sum of the encoded values, decoded.
    want = decode(sum(np.rint(v * 2**16).astype(np.int64) for v in vectors).view(np.uint64))
    np.testing.assert_array_equal(total, want)
    assert 0 < timings["protocol_s"] <= timings["total_s"]


@pytest.mark.parametrize("n_parties", [2, 3])
def test_shared_model_prediction_matches_plaintext(n_parties: int) -> None:
    rng = np.random.default_rng(n_parties)
    X, w = rng.normal(size=(40, 8)) * 5, rng.normal(size=8)
    scores = shared_predict(w, 0.75, X, n_parties=n_parties)
    q = decode(encode(X)) @ decode(encode(w)) + decode(encode(0.75))
    assert np.max(np.abs(scores - q)) <= UNIT * (1 + 1e-6)


def test_secure_column_sums_read_by_each_owner(tmp_path: Path) -> None:
    files = []
    for k, rows in enumerate([[(1, 2.5), (3, 4.0)], [(10, -1.0)], [(5, 0.5), (6, 0.5), (7, 0.5)]]):
        path = tmp_path / f"owner{k}.csv"
        path.write_text("a,b\n" + "".join(f"{a},{b}\n" for a, b in rows))
        files.append(path)
    result = secure_column_sums(files, ["a", "b"])
    assert result["count"] == 6
    assert result["sums"] == {"a": 32.0, "b": 7.0}
    assert result["means"]["a"] == pytest.approx(32 / 6)


def test_a_party_error_in_its_own_table_is_reported(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x\n1\n")
    (tmp_path / "b.csv").write_text("y\n2\n")
    with pytest.raises(ProtocolError, match=r"party 1: column 'x' not found"):
        secure_column_sums([tmp_path / "a.csv", tmp_path / "b.csv"], ["x"])
    with pytest.raises(DataError, match="does not exist"):
        secure_column_sums([tmp_path / "a.csv", tmp_path / "missing.csv"], ["x"])


def _fails(run, pattern: str, bound: float) -> None:
    start = time.monotonic()
    with pytest.raises(ProtocolError, match=pattern) as info:
        run()
    assert time.monotonic() - start < bound
    assert "no result was revealed" in str(info.value)


def test_a_party_that_dies_mid_protocol_gives_a_clean_error() -> None:
    vectors = [np.ones(1000)] * 3
    _fails(
        lambda: secure_sum(vectors, timeout=5.0, _faults={2: {"crash": 1}}), "party 2|closed", 20.0
    )


def test_a_tampered_message_is_detected_not_summed() -> None:
    vectors = [np.ones(1000)] * 3
    _fails(lambda: secure_sum(vectors, _faults={1: {"tamper": 1}}), "failed authentication", 20.0)
    X, w = np.ones((5, 3)), np.ones(3)
    _fails(
        lambda: shared_predict(w, 0.0, X, n_parties=2, _faults={0: {"tamper": 2}}),
        "failed authentication",
        20.0,
    )


def test_a_stalled_party_times_out_in_bounded_time() -> None:
    vectors = [np.ones(100)] * 2
    _fails(
        lambda: secure_sum(vectors, timeout=1.0, _faults={1: {"stall": 30}}), "sent nothing", 15.0
    )


def test_bad_inputs_are_refused_before_any_process_starts() -> None:
    with pytest.raises(ParameterError, match="at least 2 owners"):
        secure_sum([np.ones(3)])
    with pytest.raises(ParameterError, match="range"):
        secure_sum([np.ones(3), np.full(3, 1e14)])
    with pytest.raises(ParameterError, match="fixed-point range"):
        shared_predict(np.ones(2), 0.0, np.full((1, 2), 1e7))
    with pytest.raises(ParameterError, match="n_parties"):
        shared_predict(np.ones(2), 0.0, np.ones((1, 2)), n_parties=4)
    with pytest.raises(ParameterError, match="features"):
        shared_predict(np.ones(2), 0.0, np.ones((1, 3)))
