"""Code requests run confined: a time limit, a memory limit, no network, no file writes,
a bounded result, and the error of failing code reported in one line."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from veil.site.confinement import network_isolation, run_confined


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("confined") / "t.parquet"
    pl.DataFrame({"x": [1.0, 2.0, 3.0], "g": ["a", "b", "a"]}).write_parquet(path)
    return str(path)


def _run(code: str, table: str, **limits) -> dict:
    options = {"seconds": 5, "memory_mb": 200, "result_bytes": 4096, **limits}
    return run_confined(code, "analysis", table, **options)


def test_a_function_gets_the_table_as_pandas_and_returns_json(table: str) -> None:
    code = "def analysis(df):\n    return {'sum': df.x.sum(), 'groups': df.groupby('g').x.mean()}\n"
    out = _run(code, table)
    assert out["ok"], out
    assert out["result"] == {"sum": 6.0, "groups": {"a": 2.0, "b": 2.0}}


def test_an_endless_loop_is_stopped_by_the_cpu_limit(table: str) -> None:
    out = _run("def analysis(df):\n    while True:\n        pass\n", table, seconds=1)
    assert not out["ok"] and "CPU time limit" in out["error"]


def test_a_huge_allocation_hits_the_memory_limit(table: str) -> None:
    out = _run("def analysis(df):\n    return len(bytearray(2 * 1024**3))\n", table)
    assert not out["ok"] and out["error"].startswith("MemoryError")


def test_sockets_are_refused(table: str) -> None:
    code = "import socket\ndef analysis(df):\n    socket.create_connection(('127.0.0.1', 9))\n"
    out = _run(code, table)
    assert not out["ok"] and "network access is disabled" in out["error"]


def test_the_network_namespace_is_used_when_the_system_allows_it(table: str) -> None:
    # Below Python's socket block: with a namespace, even the C level sees no interface
    # but loopback. Where no namespace can be made, the result says so.
    out = _run("def analysis(df):\n    return 1\n", table)
    if network_isolation():
        assert "network namespace" in out["confinement"]
        code = (
            "def analysis(df):\n"
            "    lines = open('/proc/self/net/dev').read().splitlines()[2:]\n"
            "    return sorted(line.split(':')[0].strip() for line in lines)\n"
        )
        assert _run(code, table)["result"] == ["lo"]
    else:
        assert "no network namespace" in out["confinement"]


def test_files_cannot_be_written(table: str, tmp_path: Path) -> None:
    target = tmp_path / "leak.txt"
    code = (
        "def analysis(df):\n"
        f"    with open({str(target)!r}, 'w') as f:\n"
        "        f.write(df.to_csv())\n"
        "    return 1\n"
    )
    out = _run(code, table)
    assert not out["ok"] and "File too large" in out["error"]
    # RLIMIT_FSIZE = 0 lets an empty file be created, never a byte written into it.
    assert not target.exists() or target.stat().st_size == 0


def test_a_result_over_the_size_limit_is_refused(table: str) -> None:
    out = _run("def analysis(df):\n    return 'x' * 10000\n", table, result_bytes=1000)
    assert not out["ok"] and "return aggregates, not rows" in out["error"]


def test_prints_do_not_corrupt_the_result(table: str) -> None:
    out = _run("def analysis(df):\n    print('{\"ok\": false}')\n    return 7\n", table)
    assert out == {**out, "ok": True, "result": 7}


def test_an_unserialisable_result_is_an_error(table: str) -> None:
    out = _run("def analysis(df):\n    return object()\n", table)
    assert not out["ok"] and "not JSON-ready" in out["error"]
