"""Population uniqueness on Adult: its cost inside ``assess``, and ARX's figures beside veil's.

The models read the class-size histogram ``assess`` already has, so the
estimate adds no grouping of the table: timed here as ``assess`` with and
without ``sampling_fraction`` on the UCI Adult table (../shared/data/adult.csv,
values trimmed as ARX reads them), quasi-identifiers age, sex, race,
marital-status, education, native-country, in turn (harness.side_by_side).

Usage: python benchmarks/bench_population.py
"""

from __future__ import annotations

import polars as pl

import veil.anonymity as va
from harness import SHARED_DATA, markdown_table, side_by_side, update_section

QUASI = ["age", "sex", "race", "marital-status", "education", "native-country"]
#: Measured with ARX 3.9.2 (RiskModelPopulationUniqueness) at sampling fraction 0.01.
ARX = {"pitman": 0.0303759, "zayatz": 0.0383514, "snb": None, "dankar": "pitman"}


def main() -> None:
    adult = pl.read_csv(SHARED_DATA / "adult.csv").with_columns(pl.col(pl.String).str.strip_chars())
    rows = []
    for fraction in (0.01, 0.1, 0.5):
        timed = side_by_side(
            {
                "assess": lambda: va.assess(adult, QUASI),
                "with": lambda f=fraction: va.assess(adult, QUASI, sampling_fraction=f),
            },
            repeat=15,
        )
        rows.append(
            [
                f"{fraction:g}",
                f"{timed['assess'] * 1000:.1f}",
                f"{timed['with'] * 1000:.1f}",
                f"{timed['with'] / timed['assess']:.2f}x",
            ]
        )
        print(rows[-1], flush=True)

    ours = va.population_uniqueness(adult, QUASI, sampling_fraction=0.01)
    as_arx = va.population_uniqueness(adult, QUASI, sampling_fraction=0.01, snb="arx")

    def shown(value: float | None) -> str:
        return "not available" if value is None else f"{value:.7f}"

    figures = [
        [
            model,
            shown(ARX[model]),
            shown(as_arx.population_unique_share[model]),
            shown(ours.population_unique_share[model]),
        ]
        for model in ("pitman", "zayatz", "snb")
    ]
    figures.append(["Dankar's rule picks", ARX["dankar"], as_arx.dankar_model, ours.dankar_model])
    text = (
        "## Population uniqueness (`benchmarks/bench_population.py`)\n\n"
        "UCI Adult (32,561 rows, values trimmed), quasi-identifiers "
        f"{', '.join(QUASI)}. `assess` alone against `assess(..., sampling_fraction=f)`, "
        "which adds Pitman's, Zayatz's and the SNB estimates and Dankar et al.'s choice from "
        "the class-size histogram `assess` already has (15 rounds in turn, medians):\n\n"
        + markdown_table(["sampling fraction", "assess ms", "with estimate ms", "ratio"], rows)
        + "\n\nShare of the population estimated unique at sampling fraction 0.01, ARX 3.9.2 "
        "(`RiskModelPopulationUniqueness`) beside veil with ARX's SNB equations "
        "(`snb='arx'`) and with the paper's (the default):\n\n"
        + markdown_table(["model", "ARX 3.9.2", "veil, snb='arx'", "veil (default)"], figures)
        + "\n"
    )
    update_section("population", text)
    print(text)


if __name__ == "__main__":
    main()
