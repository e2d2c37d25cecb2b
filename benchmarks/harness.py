"""Shared pieces of the benchmarks: timing, peak memory, and docs/benchmarks.md sections.

Each ``bench_*.py`` compares veil with its reference tool in one run and
replaces its own section of ``docs/benchmarks.md`` (between the markers
``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``), leaving the others as
they are. Ratios, not absolute times, are what the issues set targets on.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import platform
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
SHARED_DATA = ROOT.parent / "shared" / "data"

_HEADER = """# Benchmarks

Produced by `make bench` (`benchmarks/run.py`); each section is rewritten by its
own script. Times are medians of repeated runs on the machine named in each
section; compare the ratios, which are measured side by side in one run.
"""


def machine() -> str:
    """One line describing where the numbers were taken."""
    cores = os.cpu_count()
    return f"{platform.machine()}, {cores} cores, Python {platform.python_version()}"


def best_time(fn: Callable[[], Any], *, repeat: int = 3, warmup: int = 1) -> float:
    """Median wall time of ``repeat`` calls of ``fn`` after ``warmup`` calls, in seconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def side_by_side(
    fns: dict[str, Callable[[], Any]], *, repeat: int = 7, warmup: int = 1
) -> dict[str, float]:
    """Median wall time of each of ``fns``, run in turn ``repeat`` times, in seconds.

    Taking the calls round-robin exposes every function to the same drift in
    the machine's speed, so their ratios hold even on a shared, noisy host.
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            gc.collect()
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def update_section(name: str, markdown: str) -> None:
    """Replace (or append) the section ``name`` of docs/benchmarks.md."""
    DOC.parent.mkdir(parents=True, exist_ok=True)
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else _HEADER
    stamp = dt.date.today().isoformat()
    block = (
        f"<!-- bench:{name} -->\n{markdown.rstrip()}\n\n"
        f"_Measured {stamp} on {machine()}._\n<!-- /bench:{name} -->"
    )
    pattern = re.compile(
        rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S
    )
    text = (
        pattern.sub(lambda _: block, text) if pattern.search(text) else text + "\n" + block + "\n"
    )
    tmp = DOC.with_suffix(".md.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, DOC)


def markdown_table(columns: list[str], rows: list[list[Any]]) -> str:
    """A GitHub-flavoured markdown table."""

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
        return str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
