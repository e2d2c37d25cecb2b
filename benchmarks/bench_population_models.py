"""k-map and delta-presence against k-anonymity on the same lattice, on UCI Adult.

The population is the whole of Adult (30,162 rows), the sample a seeded 10 %
random subset; the hierarchies are ANJANA's (ARX's) for six quasi-identifiers,
so the lattice is the same for every model. Timed: the optimal search alone
(``optimal_generalization`` on the encoded table) and the whole
``Anonymizer.fit`` (encoding, search, release, verification by an independent
count), side by side in one run so that their ratios hold on a shared machine.
The issue's target: the population models within 2x of k-anonymity.
"""

from __future__ import annotations

import math

import polars as pl

from bench_anonymize import FILES, HIER, QUASI
from harness import SHARED_DATA, markdown_table, side_by_side, update_section
from veil.anonymize import Anonymizer, DeltaPresence, KAnonymity, KMap
from veil.anonymize.encoding import encode_table
from veil.anonymize.search import optimal_generalization

SEED = 2024


def main() -> None:
    adult = pl.read_csv(SHARED_DATA / "adult.csv").with_columns(pl.col(pl.String).str.strip_chars())
    population = adult.select(QUASI)
    sample = adult.sample(fraction=0.1, seed=SEED)
    hierarchies = {c: HIER / FILES[c] for c in QUASI}
    limit = math.floor(0.05 * sample.height)
    plain = encode_table(sample, QUASI, [], hierarchies)
    with_pop = encode_table(sample, QUASI, [], hierarchies, population=population)
    whole = encode_table(population, QUASI, [], hierarchies)
    rows = []
    for k in (5, 10):
        requests = {
            "k-anonymity": (plain, [KAnonymity(k)]),
            "k-anonymity of the population": (whole, [KAnonymity(k)]),
            "k-map (population)": (with_pop, [KMap(k, population=population)]),
            "k-map (estimated, f=0.1)": (
                plain,
                [KMap(k, sampling_fraction=0.1).for_rows(sample.height)],
            ),
            "delta-presence [0.02, 0.3]": (
                with_pop,
                [DeltaPresence(0.02, 0.3, population=population)],
            ),
        }
        search = side_by_side(
            {
                name: (
                    lambda t=t, m=m: optimal_generalization(
                        t, m, math.floor(0.05 * population.height) if t is whole else limit
                    )
                )
                for name, (t, m) in requests.items()
            },
            repeat=5,
        )
        fits = side_by_side(
            {
                name: (
                    lambda m=m, t=t: Anonymizer(m, hierarchies=hierarchies, suppression=0.05).fit(
                        population if t is whole else sample, QUASI
                    )
                )
                for name, (t, m) in requests.items()
            },
            repeat=3,
        )
        for name, (table, models) in requests.items():
            result = optimal_generalization(
                table, models, math.floor(0.05 * population.height) if table is whole else limit
            )
            best = result.best
            rows.append(
                [
                    f"k={k}" if "delta" not in name else "-",
                    name,
                    round(search[name], 4),
                    f"{search[name] / search['k-anonymity']:.2f}x",
                    round(fits[name], 3),
                    f"{fits[name] / fits['k-anonymity']:.2f}x",
                    f"{result.checked}/{result.lattice_size}",
                    "".join(map(str, best.node)) if best else "none",
                    best.suppressed if best else "-",
                ]
            )
    columns = [
        "k",
        "model",
        "search s",
        "vs k-anonymity",
        "fit s",
        "vs k-anonymity",
        "nodes checked",
        "node",
        "suppressed",
    ]
    kmap = max(float(r[3].rstrip("x")) for r in rows if r[1] == "k-map (population)")
    delta = max(float(r[3].rstrip("x")) for r in rows if "delta" in r[1])
    estimated = max(float(r[3].rstrip("x")) for r in rows if "estimated" in r[1])
    fit_ratio = max(
        float(r[5].rstrip("x")) for r in rows if r[1] == "k-map (population)" or "delta" in r[1]
    )
    text = (
        "## anonymize: k-map and delta-presence (`benchmarks/bench_population_models.py`)\n\n"
        f"UCI Adult: population {population.height:,} rows, sample {sample.height:,} rows "
        f"(10 %, seed {SEED}), six quasi-identifiers with ANJANA's hierarchies, 5 % "
        "suppression. *search* is the optimal search alone on the encoded table, *fit* the "
        "whole `Anonymizer.fit` (the population models also encode the population and "
        "verify the release by counting its matches). Ratios are to k-anonymity on the "
        "same sample and lattice, timed side by side; k-anonymity of the whole population "
        "(10 times the rows) is there for scale.\n\n"
        + markdown_table(columns, rows)
        + f"\n\nSearch against k-anonymity of the sample: k-map estimated from the sampling "
        f"fraction up to {estimated:.2f}x (it is k'-anonymity), k-map with the population up "
        f"to {kmap:.2f}x, delta-presence up to {delta:.2f}x. The issue's target is 2x: "
        + (
            "all three meet it. "
            if max(kmap, delta, estimated) <= 2
            else "the estimated k-map meets it; the two that count population records do not. "
        )
        + "Each node they evaluate counts the population's classes as well as the sample's, "
        "rolled up from a node evaluated below (usually far fewer than the population's "
        f"{with_pop.pop_leaf.shape[0]:,} distinct combinations) and keyed like the sample's "
        "classes, so that at most nodes one bincount counts them, no sort; k-map evaluates "
        "fewer nodes (it passes lower in the lattice). "
        "Delta-presence is not monotone; it prunes with the k-map it implies "
        "(k = ceil(1 / delta_max)). As whole fits they take up to "
        f"{fit_ratio:.2f}x k-anonymity's: encoding the population and verifying the release "
        "against it add their own cost.\n"
    )
    update_section("population-models", text)
    print(text)


if __name__ == "__main__":
    main()
