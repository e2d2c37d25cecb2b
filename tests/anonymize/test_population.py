"""k-map and delta-presence: checked by an independent count of population matches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from veil.anonymize import (
    Anonymizer,
    DeltaPresence,
    IntervalHierarchy,
    KAnonymity,
    KMap,
    LDiversity,
    MaskingHierarchy,
)
from veil.anonymize.encoding import encode_table
from veil.anonymize.evaluation import evaluate_node
from veil.anonymize.population import derived_k
from veil.anonymize.search import exhaustive_generalization, optimal_generalization
from veil.cli.app import main
from veil.errors import ColumnError, DataError, ParameterError

QUASI = ["age", "zip"]
HIERARCHIES = {"age": IntervalHierarchy([5, 10, 20], start=0), "zip": MaskingHierarchy()}


def _generalize_age(age: int, level: int) -> str:
    """The test's own rendering of IntervalHierarchy([5, 10, 20], start=0)."""
    if level == 0:
        return str(age)
    if level == 4:
        return "*"
    width = (5, 10, 20)[level - 1]
    lo = age // width * width
    return f"[{lo}, {lo + width})"


def _generalize_zip(code: str, level: int) -> str:
    if level == 0:
        return code
    return "*" if level >= len(code) else code[: len(code) - level] + "*" * level


def _independent_counts(sample_out: pl.DataFrame, population: pl.DataFrame, levels: dict):
    """Per released class: (sample rows, population matches), by plain Python counting."""
    pop_keys: dict[tuple[str, str], int] = {}
    for age, code in population.select(QUASI).iter_rows():
        key = (_generalize_age(age, levels["age"]), _generalize_zip(code, levels["zip"]))
        pop_keys[key] = pop_keys.get(key, 0) + 1
    sample_keys: dict[tuple[str, str], int] = {}
    for age, code in sample_out.select(QUASI).iter_rows():
        key = (str(age), str(code))
        sample_keys[key] = sample_keys.get(key, 0) + 1
    return {key: (count, pop_keys.get(key, 0)) for key, count in sample_keys.items()}


def _population(seed: int, n: int = 1500) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "zip": rng.choice(["13053", "13068", "14850", "14853", "20001", "20002"], n),
            "disease": rng.choice(["flu", "cancer", "cold"], n),
        }
    )


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("fraction", [0.1, 0.3])
def test_k_map_release_matches_k_population_records(seed, fraction) -> None:
    population = _population(seed)
    sample = population.sample(fraction=fraction, seed=seed)
    anonymizer = Anonymizer([KMap(8, population=population)], HIERARCHIES, suppression=0.05)
    out = anonymizer.fit_transform(sample, QUASI)
    counts = _independent_counts(out, population, anonymizer.levels_)
    assert counts and all(pop >= 8 for _, pop in counts.values())
    assert sample.height - out.height <= int(0.05 * sample.height)
    # k-map is weaker than k-anonymity on the sample: a node k-anonymity accepts, it accepts
    k_anon = Anonymizer([KAnonymity(8)], HIERARCHIES, suppression=0.05).fit(sample, QUASI)
    table = encode_table(sample, QUASI, [], HIERARCHIES, population=population)
    node = tuple(k_anon.levels_[c] for c in QUASI)
    outcome, _, _ = evaluate_node(table, node, [KMap(8, population=population)], 0)
    assert outcome.suppressed <= k_anon.suppressed_


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(("lo", "hi"), [(0.0, 0.25), (0.05, 0.4)])
def test_delta_presence_release_keeps_shares_in_bounds(seed, lo, hi) -> None:
    population = _population(seed)
    sample = population.sample(fraction=0.2, seed=seed)
    anonymizer = Anonymizer([DeltaPresence(lo, hi, population=population)], HIERARCHIES, 0.1)
    out = anonymizer.fit_transform(sample, QUASI)
    counts = _independent_counts(out, population, anonymizer.levels_)
    for rows, pop in counts.values():
        assert lo - 1e-12 <= rows / pop <= hi + 1e-12
    measured = anonymizer.result_.privacy[anonymizer.models[0].describe()]
    assert lo - 1e-12 <= measured["after"][0] <= measured["after"][1] <= hi + 1e-12


def test_combined_with_l_diversity_and_a_population_path(tmp_path: Path) -> None:
    population = _population(9)
    path = tmp_path / "population.csv"
    population.write_csv(path)
    sample = population.sample(fraction=0.25, seed=3)
    models = [KMap(5, population=str(path)), LDiversity(2)]
    anonymizer = Anonymizer(models, HIERARCHIES, suppression=0.1)
    out = anonymizer.fit_transform(sample, QUASI, "disease")
    counts = _independent_counts(out, population, anonymizer.levels_)
    assert all(pop >= 5 for _, pop in counts.values())
    assert out.group_by(QUASI).agg(pl.col("disease").n_unique())["disease"].min() >= 2


@st.composite
def samples(draw):
    n = draw(st.integers(20, 60))
    ages = draw(st.lists(st.integers(0, 39), min_size=n, max_size=n))
    zips = draw(st.lists(st.sampled_from(["1301", "1302", "1311", "1400"]), min_size=n, max_size=n))
    population = pl.DataFrame({"age": ages, "zip": zips})
    chosen = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    if not any(chosen):
        chosen[0] = True
    sample = population.filter(pl.Series(chosen))
    which = draw(st.sampled_from(["kmap", "delta", "both"]))
    k = draw(st.integers(2, 6))
    hi = draw(st.sampled_from([0.3, 0.5, 0.8]))
    models = {
        "kmap": [KMap(k, population=population)],
        "delta": [DeltaPresence(0.0, hi, population=population)],
        "both": [KMap(k, population=population), DeltaPresence(0.1, hi, population=population)],
    }[which]
    limit = draw(st.sampled_from([0, 2, 5]))
    return sample, population, models, limit


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(samples())
def test_pruned_search_equals_exhaustive_with_a_population(case) -> None:
    # k-map prunes by monotonicity, delta-presence does not: both must stay exact.
    sample, population, models, limit = case
    table = encode_table(sample, QUASI, [], HIERARCHIES, population=population)
    fast = optimal_generalization(table, models, limit)
    slow = exhaustive_generalization(table, models, limit)
    if slow.best is None:
        assert fast.best is None
    else:
        assert fast.best is not None and fast.best.node == slow.best.node


@pytest.mark.parametrize("estimator", ["poisson", "zero-truncated-poisson"])
@pytest.mark.parametrize("k", [2, 5, 10, 50, 200])
@pytest.mark.parametrize("fraction", [0.01, 0.1, 0.5, 1.0])
@pytest.mark.parametrize("significance", [0.01, 0.05, 0.2])
def test_derived_k_against_scipy(estimator, k, fraction, significance) -> None:
    lam = fraction * k
    threshold = 1 - significance
    if estimator == "poisson":
        c = 0
        while stats.poisson.cdf(c, lam) < threshold - 1e-15:
            c += 1
        expected = c + 2  # ARX's KMap returns the count after the loop, plus one
    else:
        p0 = stats.poisson.pmf(0, lam)
        c = 1
        while (stats.poisson.cdf(c, lam) - p0) / (1 - p0) < threshold - 1e-15:
            c += 1
        expected = c + 1
    assert derived_k(k, fraction, significance, estimator) == min(k, expected)


def test_estimated_k_map_is_k_prime_anonymity() -> None:
    population = _population(2, 3000)
    sample = population.sample(fraction=0.05, seed=1)
    model = KMap(10, sampling_fraction=0.05)
    k_prime = derived_k(10, 0.05, 0.01, "poisson")
    assert k_prime == 5  # lambda 0.5: P(X <= 2) = 0.986, P(X <= 3) = 0.998: 3, + 2 as ARX
    anonymizer = Anonymizer([model], HIERARCHIES, suppression=0.05)
    out = anonymizer.fit_transform(sample, QUASI)
    assert out.group_by(QUASI).len()["len"].min() >= k_prime
    for method in ("optimal", "mondrian"):
        Anonymizer([model], method=method).fit(sample, QUASI)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda p: KMap(5, sampling_fraction=0), ParameterError, r"in \(0, 1\]"),
        (lambda p: KMap(5, sampling_fraction=1.5), ParameterError, r"in \(0, 1\]"),
        (lambda p: KMap(5), ParameterError, "needs the population"),
        (lambda p: KMap(5, population=p, sampling_fraction=0.1), ParameterError, "not both"),
        (lambda p: KMap(5, sampling_fraction=0.1, estimator="x"), ParameterError, "estimator"),
        (lambda p: DeltaPresence(0.5, 0.2, population=p), ParameterError, "above delta_max"),
        (lambda p: DeltaPresence(0.1, 1.5, population=p), ParameterError, r"\[0, 1\]"),
    ],
)
def test_bad_parameters(make, error, message) -> None:
    with pytest.raises(error, match=message):
        make(_population(0, 50))


def test_bad_populations_are_named() -> None:
    population = _population(1, 200)
    sample = population.sample(fraction=0.5, seed=0)
    with pytest.raises(DataError, match="fewer than the 100"):
        Anonymizer([KMap(2, population=population.head(50))]).fit(sample, QUASI)
    with pytest.raises(ColumnError, match="population has no column 'zip'"):
        Anonymizer([KMap(2, population=population.drop("zip"))]).fit(sample, QUASI)
    stranger = sample.with_columns(pl.lit(7).alias("age"))
    with pytest.raises(DataError, match="not a sample of the population"):
        Anonymizer([KMap(2, population=population)], HIERARCHIES).fit(stranger, QUASI)
    with pytest.raises(ParameterError, match="method='optimal'"):
        Anonymizer([KMap(2, population=population)], method="mondrian").fit(sample, QUASI)
    other = population.clone()
    with pytest.raises(ParameterError, match="different population tables"):
        Anonymizer([KMap(2, population=population), DeltaPresence(0, 0.9, population=other)]).fit(
            sample, QUASI
        )


def test_cli_k_map_and_delta_presence(tmp_path: Path, capsys) -> None:
    population = _population(5)
    pop_path, sample_path = tmp_path / "pop.csv", tmp_path / "sample.csv"
    population.write_csv(pop_path)
    population.sample(fraction=0.2, seed=2).write_csv(sample_path)
    out = tmp_path / "out.csv"
    code = main(["anonymize", str(sample_path), "-q", "age,zip", "--k-map", "6",
                 "--population", str(pop_path), "--delta-presence", "0,0.5",
                 "--hierarchy", "age=interval:5,10,20", "--hierarchy", "zip=mask",
                 "-o", str(out), "--json"])  # fmt: skip
    assert code == 0
    record = capsys.readouterr().out
    assert "k-map (k=6)" in record and "delta-presence" in record
    released = pl.read_csv(out, schema_overrides={"zip": pl.String, "age": pl.String})
    assert released.height > 0
    code = main(["anonymize", str(sample_path), "-q", "age,zip", "--k-map", "6",
                 "--sampling-fraction", "0.2", "-o", str(out), "--json"])  # fmt: skip
    assert code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--k-map", "5"], "--population FILE or --sampling-fraction"),
        (["--k-map", "5", "--sampling-fraction", "0"], "in (0, 1]"),
        (["--delta-presence", "0.5,0.1", "--population", "POP"], "above delta_max"),
        (["--delta-presence", "0.5", "--population", "POP"], "MIN,MAX"),
        (["--k", "2", "--population", "POP"], "--population is for"),
        (["--k", "2", "-o", "DIR"], "is a folder"),
    ],
)
def test_cli_bad_input_exits_2(tmp_path: Path, capsys, args, message) -> None:
    population = _population(5, 200)
    pop_path, sample_path = tmp_path / "pop.csv", tmp_path / "sample.csv"
    population.write_csv(pop_path)
    population.head(50).write_csv(sample_path)
    (tmp_path / "folder").mkdir()
    replace = {"POP": str(pop_path), "DIR": str(tmp_path / "folder")}
    args = [replace.get(a, a) for a in args]
    if "-o" not in args:
        args += ["-o", str(tmp_path / "o.csv")]
    assert main(["anonymize", str(sample_path), "-q", "age,zip", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1
