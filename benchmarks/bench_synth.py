"""Synthetic data on Adult: veil's MST and AIM against smartnoise-synth's MST and SDV.

The setting of the issue: UCI Adult (``../shared/data/adult.csv``), 26,000
training rows, the rest (6,561) held out; continuous columns cut in 10 bins
between public bounds (the census codebook's ranges, capital gains cut at
20,000 so that its bins separate none from some; the same for veil and
smartnoise); 20,000 rows sampled; epsilon in {0.3, 1, 3}, delta 1e-9. For each
synthesizer: fit + sample time, mean 2-way marginal TVD, and TSTR AUC of a
gradient-boosting model of income trained on the synthetic rows and scored on
the real holdout, against TRTR (trained on the real training rows). All
scored by the same ``veil.synth.evaluate``.

The references run in their own virtual environments (smartnoise-synth 1.0.8
pins OpenDP 0.14, veil uses 0.16), made by ``benchmarks/reference_envs.sh``
under ``.bench-venvs/``; a missing one is reported as such in the section.
smartnoise learns the categories of text columns from the data without
privacy (its LabelTransformer); veil selects them privately, paying for it.
SDV's GaussianCopula is not private: its numbers are the non-private reference.

``VEIL_BENCH_EPSILONS=1`` runs chosen epsilons without touching the docs.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import polars as pl

from harness import ROOT, SHARED_DATA, markdown_table, update_section
from veil.synth import AIM, MST, evaluate

TARGET = "salary-class"
TRAIN_ROWS, SAMPLE_ROWS, DELTA = 26_000, 20_000, 1e-9
BOUNDS = {
    "age": (17, 90),
    "fnlwgt": (0, 1_500_000),
    "education-num": (1, 16),
    "capital-gain": (0, 20_000),  # covers 99.2% of rows; larger gains are clamped
    "capital-loss": (0, 5_000),
    "hours-per-week": (1, 99),
}
AIM_ROUNDS = 30  # planned rounds T: each round recompiles private-pgm's JAX program
VENVS = ROOT / ".bench-venvs"

_SMARTNOISE = """
import json, sys, time
import pandas as pd
from snsynth import Synthesizer
from snsynth.transform import BinTransformer, LabelTransformer, TableTransformer
train, out = sys.argv[1], sys.argv[2]
eps, delta, rows = float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
bounds = json.loads(sys.argv[6])
df = pd.read_csv(train)
start = time.perf_counter()
tt = TableTransformer([
    BinTransformer(bins=10, lower=bounds[c][0], upper=bounds[c][1]) if c in bounds
    else LabelTransformer() for c in df.columns
])
synth = Synthesizer.create("mst", epsilon=eps, delta=delta)
synth.fit(df, transformer=tt, preprocessor_eps=0.0)
sample = synth.sample(rows)
seconds = time.perf_counter() - start
pd.DataFrame(sample, columns=df.columns).to_csv(out, index=False)
print(json.dumps({"seconds": seconds}))
"""

_SDV = """
import json, sys, time
import pandas as pd
from sdv.metadata import Metadata
from sdv.single_table import GaussianCopulaSynthesizer
train, out, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
df = pd.read_csv(train)
start = time.perf_counter()
meta = Metadata.detect_from_dataframes({"adult": df})
synth = GaussianCopulaSynthesizer(meta)
synth.fit({"adult": df})  # SDV 2.0 takes and returns {table name: frame}
sample = synth.sample(rows)
sample = sample["adult"] if isinstance(sample, dict) else sample
seconds = time.perf_counter() - start
sample.to_csv(out, index=False)
print(json.dumps({"seconds": seconds}))
"""


def _adult() -> tuple[pl.DataFrame, pl.DataFrame]:
    frame = pl.read_csv(SHARED_DATA / "adult.csv").with_columns(pl.col(pl.String).str.strip_chars())
    frame = frame.sample(fraction=1.0, shuffle=True, seed=0)
    return frame[:TRAIN_ROWS], frame[TRAIN_ROWS:]


def _reference(env: str, code: str, args: list[str], timeout: float) -> tuple[float, Path] | str:
    python = VENVS / env / "bin" / "python"
    if not python.exists():
        return f"not measured: {VENVS.name}/{env} is missing (run benchmarks/reference_envs.sh)"
    out = Path(tempfile.mkdtemp()) / "synthetic.csv"
    try:
        run = subprocess.run(
            [str(python), "-c", code, args[0], str(out), *args[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"not measured: over {timeout:.0f} s"
    if run.returncode != 0:
        last = (run.stderr.strip().splitlines() or ["no output"])[-1]
        return f"failed: {last[:120]}"
    seconds = json.loads(run.stdout.strip().splitlines()[-1])["seconds"]
    return seconds, out


def _scores(train: pl.DataFrame, hold: pl.DataFrame, synthetic: pl.DataFrame) -> dict:
    synthetic = synthetic.select(
        [pl.col(c).cast(train.schema[c], strict=False) for c in train.columns]
    )
    report = evaluate(train, synthetic, holdout=hold, target=TARGET).to_dict()
    return {"tvd": report["tvd_2way"], "tstr": report["tstr_auc"], "trtr": report["trtr_auc"]}


def _veil(method: str, epsilon: float, train: pl.DataFrame) -> tuple[float, pl.DataFrame]:
    start = time.perf_counter()
    if method == "mst":
        syn = MST(epsilon=epsilon, delta=DELTA, bounds=BOUNDS, seed=0)
    else:
        syn = AIM(
            epsilon=epsilon, delta=DELTA, bounds=BOUNDS, seed=0, target=TARGET, rounds=AIM_ROUNDS
        )
    synthetic = syn.fit(train).sample(SAMPLE_ROWS)
    return time.perf_counter() - start, synthetic


def main() -> None:
    chosen = os.environ.get("VEIL_BENCH_EPSILONS")
    epsilons = [float(e) for e in chosen.split(",")] if chosen else [0.3, 1.0, 3.0]
    train, hold = _adult()
    csv = Path(tempfile.mkdtemp()) / "adult_train.csv"
    train.write_csv(csv)
    rows: list[list] = []
    trtr = None
    for epsilon in epsilons:
        for name in ("veil MST", "veil AIM", "smartnoise-synth MST"):
            if name.startswith("veil"):
                seconds, synthetic = _veil(name.split()[1].lower(), epsilon, train)
            else:
                got = _reference(
                    "smartnoise",
                    _SMARTNOISE,
                    [str(csv), str(epsilon), str(DELTA), str(SAMPLE_ROWS), json.dumps(BOUNDS)],
                    timeout=600,
                )
                if isinstance(got, str):
                    rows.append([name, epsilon, got, "", "", ""])
                    continue
                seconds, path = got
                synthetic = pl.read_csv(path)
            s = _scores(train, hold, synthetic)
            trtr = s["trtr"]
            rows.append([name, epsilon, f"{seconds:.1f}", s["tvd"], s["tstr"], s["tstr"] - trtr])
            print(rows[-1], flush=True)
    got = _reference("sdv", _SDV, [str(csv), str(SAMPLE_ROWS)], timeout=600)
    if isinstance(got, str):
        rows.append(["SDV GaussianCopula (not private)", "-", got, "", "", ""])
    else:
        seconds, path = got
        s = _scores(train, hold, pl.read_csv(path))
        rows.append(
            ["SDV GaussianCopula (not private)", "-", f"{seconds:.1f}", s["tvd"], s["tstr"],
             s["tstr"] - s["trtr"]]
        )  # fmt: skip
        print(rows[-1], flush=True)
    table = markdown_table(
        ["synthesizer", "epsilon", "fit + sample (s)", "2-way TVD", "TSTR AUC", "TSTR - TRTR"],
        rows,
    )
    md = f"""## Synthetic data (`benchmarks/bench_synth.py`)

Adult: {TRAIN_ROWS:,} training rows, {SAMPLE_ROWS:,} sampled, delta {DELTA:g}, numeric
columns in 10 bins between public bounds. TSTR: gradient boosting of income trained
on the synthetic rows, AUC on the {hold.height:,} held-out real rows; trained on the
real rows (TRTR) it scores {trtr:.3f}. veil's AIM plans {AIM_ROUNDS} rounds, its
workload every pair and every triple holding income; veil selects the text
columns' categories privately, smartnoise reads them from the data. One run each.

{table}
"""
    if chosen is None:
        update_section("synth", md)
    print(md)


if __name__ == "__main__":
    main()
