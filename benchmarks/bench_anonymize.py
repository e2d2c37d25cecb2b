"""veil anonymize vs ANJANA (optimal global recoding) and anonypy (Mondrian), on UCI Adult.

ANJANA 1.2.3 pins pycanon 1.3.5 and typer 0.23.2, which clash with veil's own
pins, so this script gives it a virtual environment of its own
(``.venv/bench-anjana``, created on first use) and runs it in a subprocess.
anonypy 0.2.1 installs beside veil (the ``bench`` extra).

Besides the 5 % runs, each Adult request is run again with veil's suppression
limit set to ANJANA's suppressed count (so neither removes more rows), and
with ``gs_factor=1.0`` (generalize rather than suppress).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from harness import ROOT, SHARED_DATA, best_time, markdown_table, update_section
from veil.anonymize import Anonymizer, KAnonymity, LDiversity
from veil.anonymize.encoding import EncodedTable, encode_table
from veil.anonymize.evaluation import evaluate_node
from veil.anonymize.mondrian import mondrian
from veil.anonymize.search import optimal_generalization

QUASI = ["age", "education", "marital-status", "occupation", "sex", "native-country"]
FILES = {
    "age": "age.csv",
    "education": "education.csv",
    "marital-status": "marital.csv",
    "occupation": "occupation.csv",
    "sex": "sex.csv",
    "native-country": "country.csv",
    "race": "race.csv",
    "salary-class": "salary.csv",
}
HIER = SHARED_DATA / "hierarchies" / "adult"
ARX_NODE = (4, 2, 0, 1, 0, 1)
MONDRIAN_QUASI = ["age", "education-num", "hours-per-week", "sex", "race", "marital-status"]
ANJANA_VENV = ROOT / ".venv" / "bench-anjana"

ANJANA_SCRIPT = r"""
import json, sys, time
import pandas as pd
from anjana.anonymity import k_anonymity, l_diversity
adult, hier_dir, requests = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
data = pd.read_csv(adult)
data.columns = data.columns.str.strip()
for col in data.select_dtypes("object"):
    data[col] = data[col].str.strip()
files = {"age": "age.csv", "education": "education.csv", "marital-status": "marital.csv",
         "occupation": "occupation.csv", "sex": "sex.csv", "native-country": "country.csv"}
quasi = list(files)
out = []
for k, l in requests:
    hierarchies = {c: dict(pd.read_csv(f"{hier_dir}/{f}", header=None)) for c, f in files.items()}
    start = time.perf_counter()
    if l:
        result = l_diversity(data, ["race"], quasi, "salary-class", k, l, 5, hierarchies)
    else:
        result = k_anonymity(data, ["race"], quasi, k, 5, hierarchies)
    seconds = time.perf_counter() - start
    levels = {}
    for c, f in files.items():
        h = pd.read_csv(f"{hier_dir}/{f}", header=None).astype(str)
        seen = set(result[c].astype(str)) if len(result) else set()
        levels[c] = next((i for i in h.columns if seen <= set(h[i])), None)
    out.append({"k": k, "l": l, "seconds": seconds, "rows": len(result), "levels": levels})
print(json.dumps(out))
"""


def _adult() -> pl.DataFrame:
    frame = pl.read_csv(SHARED_DATA / "adult.csv")
    return frame.with_columns(pl.col(pl.String).str.strip_chars())


def _anjana(requests: list[tuple[int, int]]) -> list[dict] | None:
    python = ANJANA_VENV / "bin" / "python"
    if not python.exists():
        print("   creating ANJANA's own environment (.venv/bench-anjana)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(ANJANA_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "anjana==1.2.3"], check=True)
    done = subprocess.run(
        [str(python), "-c", ANJANA_SCRIPT, str(SHARED_DATA / "adult.csv"), str(HIER),
         json.dumps(requests)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def optimal_section(adult: pl.DataFrame) -> str:
    hierarchies = {c: HIER / FILES[c] for c in QUASI}
    requests = [(k, ell) for ell in (0, 2) for k in (2, 5, 10, 50)]
    anjana = {(r["k"], r["l"]): r for r in (_anjana(requests) or [])}
    table = encode_table(adult, QUASI, ["salary-class"], hierarchies)
    limit = math.floor(0.05 * adult.height)
    rows = []
    for k, ell in requests:
        models = [KAnonymity(k)] + ([LDiversity(ell)] if ell else [])
        anonymizer = Anonymizer(models, hierarchies=hierarchies, suppression=0.05)
        fit = best_time(lambda a=anonymizer: a.fit(adult, QUASI, "salary-class", identifier="race"))
        search_s = best_time(lambda m=models: optimal_generalization(table, m, limit))
        search = optimal_generalization(table, models, limit)
        best = search.best
        a = anjana.get((k, ell))
        a_loss = a_supp = "-"
        if a and all(v is not None for v in a["levels"].values()):
            node = tuple(a["levels"][c] for c in QUASI)
            outcome, _, _ = evaluate_node(table, node, models, limit)
            a_loss, a_supp = round(outcome.loss, 4), adult.height - a["rows"]
        rows.append(
            [
                f"k={k}" + (f", l={ell}" if ell else ""),
                round(fit, 3),
                round(search_s, 3),
                f"{search.checked}/{search.lattice_size}",
                "".join(str(h) for h in best.node),
                best.suppressed,
                round(best.loss, 4),
                round(a["seconds"], 2) if a else "-",
                "".join(str(a["levels"][c]) for c in QUASI) if a else "-",
                a_supp,
                a_loss,
                f"{a['seconds'] / fit:.0f}x" if a else "-",
            ]
        )
    arx = {}
    arx_requests = (("k=10", [KAnonymity(10)]), ("k=10, l=2", [KAnonymity(10), LDiversity(2)]))
    for name, models in arx_requests:
        outcome, _, _ = evaluate_node(table, ARX_NODE, models, limit)
        best = optimal_generalization(table, models, limit).best
        arx[name] = (outcome, best)
    arx_rows = [
        [name, "".join(map(str, ARX_NODE)), o.suppressed, "yes" if o.passes else "no",
         round(o.loss, 4), "".join(map(str, b.node)), b.suppressed, round(b.loss, 4)]
        for name, (o, b) in arx.items()
    ]  # fmt: skip
    cli = _cli_time(adult, hierarchies)
    equal = _equal_suppression(adult, table, hierarchies, requests, anjana)
    generalize = _generalize_first(adult, hierarchies, requests)
    return "\n\n".join(
        [
            "### Optimal global recoding: Adult, ANJANA's hierarchies\n\n"
            "Quasi-identifiers age, education, marital-status, occupation, sex, "
            "native-country; race is an identifier (removed); l-diversity on salary-class; "
            "at most 5 % suppression. `fit` is the whole library call (search, release, "
            "verification by `veil.anonymity`, before/after report); `search` the lattice "
            "search alone. Nodes list the levels in the order above. Information loss is "
            "veil's (mean NCP of the quasi-identifier cells, a suppressed row costing 1), "
            "evaluated by veil at ANJANA's node too.",
            markdown_table(
                [
                    "request",
                    "veil fit s",
                    "veil search s",
                    "nodes checked",
                    "veil node",
                    "veil suppressed",
                    "veil loss",
                    "ANJANA s",
                    "ANJANA node",
                    "ANJANA suppressed",
                    "ANJANA loss (veil)",
                    "speed-up (fit)",
                ],
                rows,
            ),
            "ARX 3.9.2's chosen node for k=10 (age 4, education 2, marital-status 0, "
            "occupation 1, sex 0, native-country 1; ARX: 1,380 rows suppressed, 310 of "
            "1,512 nodes checked, 0.11 s warm) evaluated by veil, beside veil's optimum:",
            markdown_table(
                [
                    "request",
                    "ARX node",
                    "suppressed",
                    "meets request",
                    "loss",
                    "veil node",
                    "veil suppressed",
                    "veil loss",
                ],
                arx_rows,
            ),
            _verdict(rows, equal, limit),
            "veil with its suppression limit set to ANJANA's suppressed count "
            "(`suppression = ANJANA suppressed / rows`, which veil floors back to exactly "
            "that count), so that neither may remove more rows than ANJANA did; ANJANA's loss "
            "is veil's metric at ANJANA's node, as above:",
            markdown_table(
                [
                    "request",
                    "limit (rows)",
                    "veil node",
                    "veil suppressed",
                    "veil loss",
                    "ANJANA node",
                    "ANJANA suppressed",
                    "ANJANA loss (veil)",
                    "veil loss <= ANJANA's",
                ],
                [row[:-1] for row in equal],
            ),
            "veil at 5 % with `gs_factor=1.0` (ARX's generalization/suppression factor: "
            "only suppressed rows weigh in the search, so it takes the node with the fewest "
            "suppressed rows; the loss shown is still the unweighted one):",
            markdown_table(
                [
                    "request",
                    "veil fit s",
                    "nodes checked",
                    "veil node",
                    "veil suppressed",
                    "veil loss",
                ],
                generalize,
            ),
            f"Command line (fresh process, CSV in and out, k=10): {cli:.2f} s "
            "(ARX in a fresh JVM: 1.2 s).",
        ]
    )


def _equal_suppression(
    adult: pl.DataFrame,
    table: EncodedTable,
    hierarchies: dict,
    requests: list[tuple[int, int]],
    anjana: dict[tuple[int, int], dict],
) -> list[list]:
    """veil given ANJANA's suppressed count as its limit, beside ANJANA's node.

    Each row ends with veil's own suppression at ANJANA's node (used by the verdict).
    """
    n = adult.height
    rows = []
    for k, ell in requests:
        a = anjana.get((k, ell))
        if not a or any(v is None for v in a["levels"].values()):
            continue
        models = [KAnonymity(k)] + ([LDiversity(ell)] if ell else [])
        a_supp = n - a["rows"]
        rate = a_supp / n
        # Anonymizer's limit is floor(rate * n + 1e-9): check it lands on ANJANA's count.
        assert math.floor(rate * n + 1e-9) == a_supp, (rate, a_supp)
        anonymizer = Anonymizer(models, hierarchies=hierarchies, suppression=rate)
        anonymizer.fit(adult, QUASI, "salary-class", identifier="race")
        result = anonymizer.result_
        assert result.suppression_limit == a_supp, (result.suppression_limit, a_supp)
        veil_loss = result.utility["information loss (NCP)"]["after"]
        node = tuple(a["levels"][c] for c in QUASI)
        at_anjana, _, _ = evaluate_node(table, node, models, a_supp)
        rows.append(
            [
                f"k={k}" + (f", l={ell}" if ell else ""),
                a_supp,
                "".join(str(h) for h in anonymizer.levels_.values()),
                result.suppressed,
                round(veil_loss, 4),
                "".join(map(str, node)),
                a_supp,
                round(at_anjana.loss, 4),
                "yes" if veil_loss <= at_anjana.loss + 1e-12 else "no",
                at_anjana.suppressed,
            ]
        )
    return rows


def _generalize_first(
    adult: pl.DataFrame, hierarchies: dict, requests: list[tuple[int, int]]
) -> list[list]:
    rows = []
    for k, ell in requests:
        models = [KAnonymity(k)] + ([LDiversity(ell)] if ell else [])
        anonymizer = Anonymizer(models, hierarchies=hierarchies, suppression=0.05, gs_factor=1.0)
        fit = best_time(
            lambda a=anonymizer: a.fit(adult, QUASI, "salary-class", identifier="race"), repeat=1
        )
        result = anonymizer.result_
        rows.append(
            [
                f"k={k}" + (f", l={ell}" if ell else ""),
                round(fit, 3),
                f"{result.nodes_checked}/{result.lattice_size}",
                "".join(str(h) for h in anonymizer.levels_.values()),
                result.suppressed,
                round(result.utility["information loss (NCP)"]["after"], 4),
            ]
        )
    return rows


def _verdict(rows: list[list], equal: list[list], limit: int) -> str:
    """What the two tables show, worded from the measured numbers."""
    more = [r for r in rows if isinstance(r[9], int) and r[5] > r[9]]
    if not more:
        text = "At 5 % veil never suppresses more rows than ANJANA."
    else:
        cheaper = [r for r in more if isinstance(r[10], float) and r[6] < r[10]]
        listed = ", ".join(
            f"{r[0]} ({r[5]:,} vs {r[9]:,} rows, loss {r[6]:.3f} vs {r[10]:.3f})" for r in more
        )
        text = (
            f"At 5 % veil suppresses more rows than ANJANA on {len(more)} of {len(rows)} "
            f"requests: {listed}. "
        )
        if all(r[9] <= limit for r in more):
            text += f"Both stay within the 5 % limit ({limit:,} rows); "
        text += "veil minimizes the loss, in which a suppressed row costs 1 per cell"
        text += (
            ", and there the extra suppressed rows buy less generalization of all the others: "
            "its loss is lower on each."
            if len(cheaper) == len(more)
            else f"; its loss is lower on {len(cheaper)} of them."
        )
    if not equal:
        return text + " (ANJANA did not run, so there is no equal-suppression comparison.)"
    wins = [r for r in equal if r[8] == "yes"]
    fewer = [r for r in equal if r[3] < r[6]]
    text += (
        f" Held to ANJANA's own suppressed count (table below), veil's loss is at most "
        f"ANJANA's on {len(wins)} of {len(equal)} requests"
    )
    if len(wins) < len(equal):
        text += " (not on " + ", ".join(r[0] for r in equal if r[8] != "yes") + ")"
    text += "."
    if fewer:
        text += (
            " On "
            + ", ".join(f"{r[0]} ({r[3]:,} vs {r[6]:,})" for r in fewer)
            + " it even suppresses fewer rows than ANJANA."
        )
    over = [r for r in equal if r[9] > r[6]]
    if over:
        text += (
            " At ANJANA's node veil's own check suppresses more rows than ANJANA reports on "
            + ", ".join(f"{r[0]} ({r[9]:,})" for r in over)
            + ", so there that node is not within the limit for veil."
        )
    return text


def _cli_time(adult: pl.DataFrame, hierarchies: dict) -> float:
    veil = Path(sys.executable).parent / "veil"
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "adult.csv"
        adult.write_csv(source)
        args = [str(veil), "anonymize", str(source), "-q", ",".join(QUASI), "--identifier",
                "race", "--k", "10", "-o", str(Path(tmp) / "out.csv"), "--json"]  # fmt: skip
        for column, path in hierarchies.items():
            args += ["--hierarchy", f"{column}={path}"]
        times = []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run(args, check=True, capture_output=True)
            times.append(time.perf_counter() - start)
    return float(np.median(times))


def defaults_section(adult: pl.DataFrame) -> str:
    rows = []
    eight = ["age", "workclass", "education", "marital-status", "occupation", "race", "sex",
             "native-country"]  # fmt: skip
    nine = [*QUASI, "race", "salary-class", "workclass"]
    cases = [
        ("8 QIs, default hierarchies", eight, None),
        ("9 QIs, ANJANA's + default workclass", nine, {c: HIER / FILES[c] for c in nine[:-1]}),
    ]
    for name, quasi, hierarchies in cases:
        anonymizer = Anonymizer([KAnonymity(5)], hierarchies=hierarchies, suppression=0.05)
        seconds = best_time(lambda a=anonymizer, q=quasi: a.fit(adult, q), repeat=1)
        result = anonymizer.result_
        rows.append(
            [name, round(seconds, 3), f"{result.nodes_checked}/{result.lattice_size}",
             result.suppressed, round(result.utility["information loss (NCP)"]["after"], 4)]
        )  # fmt: skip
    return (
        "### Optimal search, k=5 at 5 %\n\n"
        + markdown_table(["request", "veil fit s", "nodes checked", "suppressed", "loss"], rows)
        + "\n\nARX 3.9.2 on its own Adult with 9 quasi-identifiers (12,960 nodes): 0.73 s warm."
    )


def _anonypy(frame: pl.DataFrame, k: int) -> tuple[float, float]:
    from anonypy import anonypy as ap

    df = frame.select([*MONDRIAN_QUASI, "salary-class"]).to_pandas()
    for column in ("sex", "race", "marital-status", "salary-class"):
        df[column] = df[column].astype("category")
    start = time.perf_counter()
    preserver = ap.Preserver(df, MONDRIAN_QUASI, "salary-class")
    partitions = preserver.modrian.partition(k)
    ap.anonymize(df, partitions, MONDRIAN_QUASI, "salary-class")
    seconds = time.perf_counter() - start
    total = 0.0
    for column in MONDRIAN_QUASI:
        values = df[column]
        for part in partitions:
            sub = values.loc[part]
            if values.dtype.name == "category":
                ncp = (sub.nunique() - 1) / max(values.nunique() - 1, 1)
            else:
                ncp = (sub.max() - sub.min()) / (values.max() - values.min())
            total += len(part) * ncp
    return seconds, total / (len(df) * len(MONDRIAN_QUASI))


def mondrian_section(adult: pl.DataFrame) -> str:
    big = adult.sample(1_000_000, with_replacement=True, seed=0)
    rows = []
    for name, frame in (("Adult, 32,561 rows", adult), ("1M rows resampled", big)):
        core = best_time(lambda f=frame: mondrian(f, MONDRIAN_QUASI, [], [KAnonymity(10)]),
                         repeat=1)  # fmt: skip
        result = mondrian(frame, MONDRIAN_QUASI, [], [KAnonymity(10)])
        # No suppression, like anonypy and the core call above (the Anonymizer's default
        # 5 % would also peel outliers, work anonypy does not do).
        anonymizer = Anonymizer([KAnonymity(10)], method="mondrian", suppression=0.0)
        fit = best_time(lambda f=frame, a=anonymizer: a.fit(f, MONDRIAN_QUASI), repeat=1, warmup=0)
        try:
            ap_s, ap_ncp = _anonypy(frame, 10)
        except ImportError:
            ap_s, ap_ncp = float("nan"), float("nan")
        rows.append([name, round(core, 2), round(fit, 2), result.classes, round(result.loss, 4),
                     round(ap_s, 1), round(ap_ncp, 4), f"{ap_s / fit:.0f}x"])  # fmt: skip
    return (
        "### Mondrian, k=10 (strict)\n\nQuasi-identifiers age, education-num, hours-per-week, "
        "sex, race, marital-status. `veil mondrian` is the partitioning and release; `veil fit` "
        "the whole library call with verification and the before/after report, both without "
        "suppression (as anonypy). NCP is the "
        "mean normalized certainty penalty of the quasi-identifier cells, computed the same "
        "way for both.\n\n"
        + markdown_table(
            [
                "table",
                "veil mondrian s",
                "veil fit s",
                "veil classes",
                "veil NCP",
                "anonypy s",
                "anonypy NCP",
                "speed-up (fit)",
            ],
            rows,
        )
    )


def main() -> None:
    if not (SHARED_DATA / "adult.csv").exists():
        print("   ../shared/data/adult.csv is absent: skipping the anonymize benchmark")
        return
    adult = _adult()
    parts = ["## anonymize: veil vs ANJANA, ARX and anonypy", optimal_section(adult)]
    parts.append(defaults_section(adult))
    parts.append(mondrian_section(adult))
    update_section("anonymize", "\n\n".join(parts))


if __name__ == "__main__":
    main()
