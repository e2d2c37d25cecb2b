"""veil.anonymity vs pyCANON and the bare polars group-by floor, on 1M rows (and 10M).

Three shapes, each with one and two sensitive attributes:

- Adult-like: the UCI Adult table (../shared/data/adult.csv) resampled to 1M rows;
  quasi-identifiers age, education, marital-status, occupation, sex,
  native-country (tens of thousands of classes).
- High-cardinality: generated patients with exact birth date and 5-digit ZIP
  among the quasi-identifiers (hundreds of thousands of classes).
- Near-unique: generated patients identified by a 5-digit ZIP-like code (30,000
  codes, populations Zipf-distributed as towns' are), a day of birth over 80
  years and sex: about 970,000 classes in 1M rows, 946,000 of them of one record.

Measured: the floor ``df.group_by(quasi).len()``, veil's ``assess`` (all nine
techniques, metrics and risk), and pyCANON's nine technique calls on the same
data (run once each: they take seconds to minutes). Peak memory of ``assess``
in a fresh process, and a 10M-row Parquet file assessed lazily.

Usage: python benchmarks/bench_assess.py [--quick]   (--quick: 100k rows, no 10M run)

VEIL_BENCH_SHAPES=near-unique,Adult-like runs only those shapes (a comma-separated
list of names, case-insensitive) and prints their table without touching the docs.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import polars as pl

import veil.anonymity as va
from harness import SHARED_DATA, markdown_table, side_by_side, update_section

ADULT_QUASI = ["age", "education", "marital-status", "occupation", "sex", "native-country"]
HIGH_QUASI = ["birth_date", "zip", "sex", "ethnicity", "marital_status", "education"]
NEAR_QUASI = ["zip", "birth_date", "sex"]
PYCANON_CAP = 60.0  # seconds per pyCANON call; a capped total is a lower bound (">")
PYCANON_NINE = [
    ("k_anonymity", False),
    ("alpha_k_anonymity", True),
    ("l_diversity", True),
    ("entropy_l_diversity", True),
    ("recursive_c_l_diversity", True),
    ("t_closeness", True),
    ("basic_beta_likeness", True),
    ("enhanced_beta_likeness", True),
    ("delta_disclosure", True),
]


def adult_like(n: int, seed: int = 0) -> pl.DataFrame:
    adult = pl.read_csv(SHARED_DATA / "adult.csv")
    return adult[np.random.default_rng(seed).integers(0, adult.height, n)]


def high_cardinality(n: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    days = rng.integers(0, 365 * 70, n).astype("timedelta64[D]")
    zips = np.char.add("0", (2100 + rng.integers(0, 30, n)).astype(str))
    return pl.DataFrame(
        {
            "birth_date": np.datetime64("1940-01-01") + days,
            "zip": zips,
            "sex": rng.choice(["F", "M"], n),
            "ethnicity": rng.choice(
                ["White", "Black", "Hispanic", "Asian", "Other"], n, p=[0.6, 0.15, 0.12, 0.08, 0.05]
            ),
            "marital_status": rng.choice(["Married", "Never", "Divorced", "Widowed"], n),
            "education": rng.choice(["Primary", "Secondary", "Higher"], n),
            "diagnosis": rng.choice([f"D{i:02d}" for i in range(20)], n),
            "length_of_stay": rng.integers(1, 31, n),
        }
    )


def near_unique(n: int, seed: int = 0) -> pl.DataFrame:
    """Patients almost all unique on (ZIP-like code, day of birth, sex).

    30,000 five-digit codes with Zipf-like populations (the k-th largest holds
    a share proportional to k^-0.87), birth days uniform over 80 years: at 1M
    rows about 970,000 classes, of which 946,000 hold one record.
    """
    rng = np.random.default_rng(seed)
    codes = np.char.zfill(rng.choice(100_000, 30_000, replace=False).astype(str), 5)
    weight = 1 / np.arange(1, len(codes) + 1) ** 0.87
    days = rng.integers(0, 365 * 80, n).astype("timedelta64[D]")
    return pl.DataFrame(
        {
            "zip": codes[rng.choice(len(codes), n, p=weight / weight.sum())],
            "birth_date": np.datetime64("1930-01-01") + days,
            "sex": rng.choice(["F", "M"], n),
            "diagnosis": rng.choice([f"D{i:02d}" for i in range(20)], n),
            "length_of_stay": rng.integers(1, 31, n),
        }
    )


_PYCANON_CHILD = """
import json, sys, time, polars as pl, pycanon.anonymity as pa
path, name = sys.argv[1], sys.argv[2]
quasi, sensitive = json.loads(sys.argv[3]), json.loads(sys.argv[4])
frame = pl.read_parquet(path).to_pandas()
fn = getattr(pa, name)
print("ready", flush=True)
start = time.perf_counter()
fn(frame, quasi, sensitive) if sensitive else fn(frame, quasi)
print(time.perf_counter() - start)
"""


def time_pycanon(
    path: Path, quasi: list[str], sensitive: list[str], cap: float
) -> tuple[float, bool]:
    """pyCANON's nine calls, each in a fresh process stopped after ``cap`` seconds.

    Returns the total and whether any call hit the cap (the total is then a lower bound).
    """
    total, capped = 0.0, False
    for name, needs_sensitive in PYCANON_NINE:
        args = [
            sys.executable,
            "-c",
            _PYCANON_CHILD,
            str(path),
            name,
            json.dumps(quasi),
            json.dumps(sensitive if needs_sensitive else []),
        ]
        child = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        try:  # the cap counts from the call, not from loading the data
            elapsed = float(child.communicate(timeout=cap)[0].strip().splitlines()[-1])
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            elapsed, capped = cap, True
        print(f"     pyCANON {name}: {'>' if elapsed >= cap else ''}{elapsed:.1f} s", flush=True)
        total += elapsed
    return total, capped


_MEMORY_CHILD = """
import json, sys, polars as pl
import veil.anonymity as va
def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
path, mode = sys.argv[1], sys.argv[4]
lazy = mode == "lazy"
quasi, sensitive = json.loads(sys.argv[2]), json.loads(sys.argv[3])
if lazy:
    data, size = path, None
else:
    data = pl.read_parquet(path); size = data.estimated_size()
    va.assess(data.head(1000), quasi, sensitive)  # import and warm-up costs are not the run
base = rss("VmRSS:")
open("/proc/self/clear_refs", "w").write("5")  # reset the peak to the current size
import time; start = time.perf_counter()
if mode == "floor":
    data.group_by(quasi).len()
else:
    va.assess(data, quasi, sensitive)
seconds = time.perf_counter() - start
print(json.dumps({"extra": rss("VmHWM:") - base, "table": size, "seconds": seconds}))
"""


def peak_memory(path: Path, quasi: list[str], sensitive: list[str], *, mode: str) -> dict:
    """Peak resident memory above the loaded table, in a fresh process.

    ``mode``: "eager" (``assess`` on the table in memory), "lazy" (``assess`` on
    the file, streamed) or "floor" (the bare ``group_by(quasi).len()``).
    """
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            _MEMORY_CHILD,
            str(path),
            json.dumps(quasi),
            json.dumps(sensitive),
            mode,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(quick: bool, only: list[str]) -> None:
    n = 100_000 if quick else 1_000_000
    shapes = {
        "Adult-like": (adult_like, ADULT_QUASI, ["salary-class"], ["salary-class", "race"]),
        "high-cardinality": (
            high_cardinality,
            HIGH_QUASI,
            ["diagnosis"],
            ["diagnosis", "length_of_stay"],
        ),
        "near-unique": (near_unique, NEAR_QUASI, ["diagnosis"], ["diagnosis", "length_of_stay"]),
    }
    if only:
        shapes = {name: shape for name, shape in shapes.items() if name.lower() in only}
    rows, memory_rows = [], []
    over_three: list[str] = []  # memory above 3x the table, beside polars' own figure
    with tempfile.TemporaryDirectory() as tmp:
        for shape, (make, quasi, one, two) in shapes.items():
            frame = make(n)
            classes = frame.group_by(quasi).len().height
            path = Path(tmp) / f"{shape}.parquet"
            frame.write_parquet(path)
            for sensitive in (one, two):
                print(f"== {shape}, sensitive {sensitive}", flush=True)
                timed = side_by_side(
                    {
                        "floor": lambda f=frame, q=quasi: f.group_by(q).len(),
                        "veil": lambda f=frame, q=quasi, s=sensitive: va.assess(f, q, s),
                    }
                )
                floor, ours = timed["floor"], timed["veil"]
                if (shape == "high-cardinality" and len(sensitive) > 1) or shape == "near-unique":
                    # pyCANON's per-class loops take tens of minutes here; the
                    # high-cardinality shape with one attribute shows them.
                    theirs, capped = math.nan, False
                else:
                    theirs, capped = time_pycanon(path, quasi, sensitive, cap=PYCANON_CAP)
                at_least = ">" if capped else ""
                rows.append(
                    [
                        shape,
                        f"{n:,}",
                        f"{classes:,}",
                        ", ".join(sensitive),
                        f"{floor:.3f}",
                        f"{ours:.3f}",
                        f"{ours / floor:.2f}x",
                        "not run" if math.isnan(theirs) else f"{at_least}{theirs:.1f}",
                        "" if math.isnan(theirs) else f"{at_least}{theirs / ours:,.0f}x",
                    ]
                )
                mem = peak_memory(path, quasi, sensitive, mode="eager")
                bare = peak_memory(path, quasi, sensitive, mode="floor")
                if mem["extra"] > 3 * mem["table"]:
                    over_three.append(
                        f"{shape} with {', '.join(sensitive)}: `assess` "
                        f"{mem['extra'] / mem['table']:.1f}x, polars' group-by alone "
                        f"{bare['extra'] / mem['table']:.1f}x"
                    )
                memory_rows.append(
                    [
                        shape,
                        ", ".join(sensitive),
                        f"{mem['table'] / 2**20:.0f}",
                        f"{mem['extra'] / 2**20:.0f}",
                        f"{mem['extra'] / mem['table']:.2f}x",
                        f"{bare['extra'] / 2**20:.0f}",
                        f"{bare['extra'] / mem['table']:.2f}x",
                    ]
                )
        big = ""
        if not quick and not only:
            path = Path(tmp) / "adult-10M.parquet"
            tenth = adult_like(1_000_000, seed=1)
            pl.concat([tenth] * 10).write_parquet(path)  # 10M rows, written once, read lazily
            size_1m = tenth.estimated_size()
            del tenth
            mem = peak_memory(path, ADULT_QUASI, ["salary-class"], mode="lazy")
            big = (
                f"\n10M rows (Adult-like, Parquet file read lazily with polars' streaming "
                f"engine): `assess` took {mem['seconds']:.1f} s with a peak of "
                f"{mem['extra'] / 2**20:.0f} MiB above the interpreter, while the table "
                f"would take about {10 * size_1m / 2**20:.0f} MiB in memory.\n"
            )
    text = (
        "## Anonymity assessment (`benchmarks/bench_assess.py`)\n\n"
        "`assess` computes all nine techniques, pyCANON's metrics and the risk measures. "
        "Floor: polars `df.group_by(quasi).len()` on the same in-memory table, timed in "
        "turn with `assess` (7 rounds, medians), so both see the same machine. pyCANON: "
        "its nine technique functions called once each on the same table (pandas), each in "
        f"its own process stopped after {PYCANON_CAP:.0f} s: a total marked > hit that cap "
        "and is a lower bound, as is its ratio. Not run: two sensitive attributes on the "
        "high-cardinality shape and the near-unique shape, where its nine calls would take "
        "tens of minutes (as on the high-cardinality shape with one)."
        "\n\n"
        + markdown_table(
            [
                "shape",
                "rows",
                "classes",
                "sensitive",
                "floor s",
                "veil assess s",
                "veil / floor",
                "pyCANON nine s",
                "pyCANON / veil",
            ],
            rows,
        )
        + "\n\nPeak resident memory in a fresh process, above the loaded table, of `assess` and "
        "of the floor (polars' own group-by) on the same table:\n\n"
        + markdown_table(
            [
                "shape",
                "sensitive",
                "table MiB",
                "assess: extra peak MiB",
                "extra / table",
                "floor: extra peak MiB",
                "floor extra / table",
            ],
            memory_rows,
        )
        + "\n"
        + (
            "\nAbove 3x the table: "
            + "; ".join(over_three)
            + ". There the table itself is small (dates and short codes) while its "
            "classes number about as many as its rows, so any hash grouping of it costs "
            "several times the table; the floor is shown for that reason.\n"
            if over_three
            else ""
        )
        + big
    )
    if not only:  # a partial run leaves the docs as they are
        update_section("assess", text)
    print(text)


if __name__ == "__main__":
    chosen = os.environ.get("VEIL_BENCH_SHAPES", "")
    main(
        quick="--quick" in sys.argv,
        only=[name.strip().lower() for name in chosen.split(",") if name.strip()],
    )
