"""Privacy models against a population: k-map and delta-presence.

The released table is a *sample* of a larger *population* (a registry, a
census, the whole table a research subset was drawn from). Two models bound
what an attacker who knows the population can learn:

* **k-map** (Sweeney 2002): every released equivalence class matches at least
  ``k`` records of the population, so a re-identification guess is right at
  most 1/k of the time. Given the population table, the count is exact. Given
  only the sampling fraction, the population class sizes are estimated from
  the sample as ARX does (El Emam and Dankar 2008, estimators D3 and D4 after
  Pannekoek 1999): a class of the sample is accepted when it has at least
  ``k'`` rows, ``k'`` chosen so that a population class with only ``k``
  records would give that many sample rows with probability at most the
  significance level (:func:`derived_k`).
* **delta-presence** (Nergiz, Atzori and Clifton 2007): for every released
  class, the share of matching population records that are in the sample lies
  in ``[delta_min, delta_max]``, so the attacker's belief that a person of the
  population is in the sample stays within those bounds.

Monotonicity under generalization (what lets the lattice search prune):

* k-map with a population table is monotone: a class generalized further
  matches a superset of the population records, so a class that matches
  fewer than ``k`` splits into classes that match fewer still;
* k-map with a sampling fraction is k'-anonymity, monotone likewise;
* delta-presence is **not** monotone: the share of a merged class lies between
  the shares of its parts, so a failing class can split into a passing and a
  failing one (ARX does not prune with it). It implies a monotone part,
  though: a class with one sample row needs at least ``1 / delta_max``
  population records, which is k-map with ``k = ceil(1 / delta_max)``; the
  search prunes with that part only.

The population is read once at the edge; the sample must be a subset of it
(for each combination of quasi-identifier values, no more rows in the sample
than in the population), which is checked.
"""

from __future__ import annotations

import copy
import math
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from veil.anonymize.models import TOLERANCE, PrivacyModel, _positive_int
from veil.errors import ColumnError, ParameterError

if TYPE_CHECKING:
    from veil.anonymize.evaluation import ClassStats

__all__ = [
    "ESTIMATORS",
    "DeltaPresence",
    "KMap",
    "PopulationModel",
    "derived_k",
    "population_matches",
    "read_population",
]

ESTIMATORS = ("poisson", "zero-truncated-poisson")


def _log_poisson_pmf(c: int, lam: float) -> float:
    return -lam + c * math.log(lam) - math.lgamma(c + 1)


@lru_cache(maxsize=256)
def derived_k(k: int, sampling_fraction: float, significance: float, estimator: str) -> int:
    """The sample class size ``k'`` that stands for ``k`` records of the population.

    A population class of ``k`` records gives a Poisson(``lambda = f k``)
    number of sample rows (``f`` the sampling fraction). With ``c`` the
    smallest count whose cumulative probability reaches ``1 - significance``,
    ARX's ``KMap`` returns ``c + 2`` for the Poisson estimator (D3) and
    ``c + 1`` for the zero-truncated one (D4, conditioned on at least one
    sample row); veil returns the same, capped at ``k`` (El Emam and Dankar
    2008).
    """
    lam = sampling_fraction * k
    threshold = 1.0 - significance
    if estimator == "poisson":
        cumulative, c = 0.0, 0
        while True:
            cumulative += math.exp(_log_poisson_pmf(c, lam))
            if cumulative >= threshold - 1e-15:
                break
            c += 1
        return min(k, c + 2)
    # zero-truncated: P(X = c | X >= 1) = pmf(c) / (1 - e^-lambda), c >= 1
    norm = -math.expm1(-lam)
    cumulative, c = 0.0, 0
    while cumulative < threshold - 1e-15:
        c += 1
        cumulative += math.exp(_log_poisson_pmf(c, lam)) / norm
    return min(k, c + 1)


def read_population(population: Any, quasi: list[str]) -> pl.DataFrame:
    """The population as a polars frame holding ``quasi``, converted once.

    Raises
    ------
    ColumnError
        A quasi-identifier is missing from the population.
    """
    from veil.io import read_table

    frame = read_table(population)
    missing = [c for c in quasi if c not in frame.columns]
    if missing:
        raise ColumnError(
            f"the population has no column {missing[0]!r}; it must hold every "
            f"quasi-identifier ({', '.join(quasi)}). Its columns are: {', '.join(frame.columns)}"
        )
    return frame.select(quasi)


def population_matches(
    released: pl.DataFrame, population: pl.DataFrame, quasi: list[str]
) -> pl.DataFrame:
    """Per released class: its rows (``sample``) and matching population records (``population``).

    A plain group-by and join on the released labels, independent of the
    search's arrays: what every release with a population model is verified
    with. ``population`` must be generalized the same way as ``released``.
    """
    text = [pl.col(c).cast(pl.String) for c in quasi]
    sample = released.select(text).group_by(quasi).agg(sample=pl.len())
    pop = population.select(text).group_by(quasi).agg(population=pl.len())
    return sample.join(pop, on=quasi, how="left", nulls_equal=True).with_columns(
        pl.col("population").fill_null(0)
    )


class PopulationModel(PrivacyModel):
    """A privacy model whose classes are measured against a population."""

    needs_sensitive = False

    population: Any = None

    def needs_population_table(self) -> bool:
        return self.population is not None

    def __hash__(self) -> int:
        return hash((type(self).__name__, id(self.population)))

    def __eq__(self, other: object) -> bool:
        if type(self) is not type(other):
            return False
        mine, theirs = dict(vars(self)), dict(vars(other))
        return mine.pop("population", None) is theirs.pop("population", None) and mine == theirs

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{k}={'<table>' if k == 'population' and v is not None else repr(v)}"
            for k, v in vars(self).items()
            if not k.startswith("_")
        )
        return f"{type(self).__name__}({fields})"

    def _matches(self, data: Any, quasi: list[str], population: pl.DataFrame | None):
        from veil.io import read_table

        frame = read_table(data)
        if population is None:
            population = read_population(self.population, quasi)
        return population_matches(frame, population, quasi)


def _fraction(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a number in (0, 1]; got {value!r}") from None
    if not 0 < number <= 1:
        raise ParameterError(
            f"{name} is the share of the population in the sample, in (0, 1]; got {value!r}"
        )
    return number


class KMap(PopulationModel):
    """Every released class matches at least ``k`` records of the population (Sweeney 2002).

    Parameters
    ----------
    k
        Population records each released class must match.
    population
        The population table (a path or any table veil reads) holding the
        quasi-identifiers; the table being anonymized is a sample of it.
    sampling_fraction
        Instead of a population: the share of the population in the sample,
        in (0, 1]. Population class sizes are then estimated (ARX's ``KMap``
        with a population model): a class passes with at least ``k'`` rows,
        :func:`derived_k`.
    estimator
        ``"poisson"`` (D3) or ``"zero-truncated-poisson"`` (D4), with a
        sampling fraction.
    significance
        Probability of accepting a class whose population count is only ``k``,
        with a sampling fraction (ARX's significance level).

    References
    ----------
    Sweeney 2002, "k-anonymity: a model for protecting privacy"; El Emam and
    Dankar 2008, "Protecting privacy using k-anonymity", JAMIA 15(5).
    """

    monotone = True

    def __init__(
        self,
        k: int,
        *,
        population: Any = None,
        sampling_fraction: float | None = None,
        estimator: str = "poisson",
        significance: float = 0.01,
    ) -> None:
        self.k = _positive_int(k, "k")
        if (population is None) == (sampling_fraction is None):
            raise ParameterError(
                "k-map needs either population= (the population table) or sampling_fraction= "
                "(the share of the population in the sample), not both"
                if population is not None
                else "k-map needs the population: pass population= (a table or path) or "
                "sampling_fraction= (e.g. 0.1)"
            )
        self.population = population
        self.sampling_fraction = (
            None if sampling_fraction is None else _fraction(sampling_fraction, "sampling_fraction")
        )
        if estimator not in ESTIMATORS:
            raise ParameterError(
                f"estimator must be one of {', '.join(ESTIMATORS)}; got {estimator!r}"
            )
        self.estimator = estimator
        sig = float(significance)
        if not 0 < sig < 1:
            raise ParameterError(f"significance must be in (0, 1); got {significance!r}")
        self.significance = sig

    def for_rows(self, rows: int) -> KMap:
        """This model fixed to a table of ``rows`` rows (the estimated ``k'`` depends on it).

        Mondrian tests partitions, not the whole table, so the row count the
        estimate uses must be the table's, fixed before the search.
        """
        bound = copy.copy(self)
        bound._rows = int(rows)
        return bound

    def derived_k(self, rows: int) -> int:
        """``k'`` for a sample of ``rows`` rows (only with a sampling fraction)."""
        assert self.sampling_fraction is not None
        return max(1, min(rows, derived_k(self.k, self.sampling_fraction, self.significance,
                                          self.estimator)))  # fmt: skip

    def passes(self, stats: ClassStats) -> np.ndarray:
        if self.population is not None:
            if stats.population is None:
                raise RuntimeError("k-map with a population needs the population class sizes")
            return stats.population >= self.k
        rows = getattr(self, "_rows", None)
        if rows is None:
            rows = round(float(stats.sizes.sum()))
        return stats.sizes >= self.derived_k(rows)

    def measure(
        self,
        data: Any,
        quasi: list[str],
        sensitive: list[str],
        *,
        population: pl.DataFrame | None = None,
        rows: int | None = None,
    ) -> tuple[Any, bool]:
        if self.population is None:
            from veil.anonymity import k_anonymity

            k = k_anonymity(data, quasi)
            from veil.io import read_table

            if rows is None:
                rows = getattr(self, "_rows", None) or read_table(data).height
            needed = self.derived_k(rows)
            return k, k >= needed
        counts = self._matches(data, quasi, population)
        value = int(counts["population"].min()) if counts.height else 0
        return value, value >= self.k

    def requirement(self) -> str:
        if self.population is None:
            rows = getattr(self, "_rows", None)
            if rows is not None:
                return f">= {self.derived_k(rows)} rows per class (estimated for k={self.k})"
            return f">= k' rows per class (estimated for k={self.k})"
        return f">= {self.k} population records"

    def describe(self) -> str:
        if self.population is None:
            return (
                f"k-map (k={self.k}, estimated, sampling fraction {self.sampling_fraction:g}, "
                f"{self.estimator})"
            )
        return f"k-map (k={self.k})"


class DeltaPresence(PopulationModel):
    """Each released class's share of matching population records in the sample is bounded.

    For a class matching ``P`` population records, ``S`` of them in the
    released sample: ``delta_min <= S / P <= delta_max`` (ARX's ``DPresence``).

    Parameters
    ----------
    delta_min, delta_max
        Bounds on the attacker's confidence that a population record matching
        a released class is in the sample; ``0 <= delta_min <= delta_max <= 1``.
    population
        The population table (a path or any table veil reads) holding the
        quasi-identifiers; the table being anonymized is a sample of it.

    References
    ----------
    Nergiz, Atzori and Clifton 2007, "Hiding the presence of individuals from
    shared databases", SIGMOD.
    """

    monotone = False
    depends_on_kept = False  # population counts, not the kept table's distribution

    def __init__(self, delta_min: float, delta_max: float, *, population: Any) -> None:
        try:
            lo, hi = float(delta_min), float(delta_max)
        except (TypeError, ValueError):
            raise ParameterError(
                f"delta_min and delta_max must be numbers; got {delta_min!r}, {delta_max!r}"
            ) from None
        if not 0 <= lo <= 1 or not 0 < hi <= 1:
            raise ParameterError(
                f"delta-presence bounds are shares in [0, 1] (delta_max > 0); got {lo!r}, {hi!r}"
            )
        if lo > hi:
            raise ParameterError(
                f"delta_min ({lo:g}) is above delta_max ({hi:g}); give them in order, "
                f"e.g. {hi:g},{lo:g}"
            )
        if population is None:
            raise ParameterError("delta-presence needs population= (the population table)")
        self.delta_min = lo
        self.delta_max = hi
        self.population = population

    def monotone_parts(self) -> list[PrivacyModel]:
        """k-map with ``k = ceil(1 / delta_max)``: what a released class needs at least.

        A class with ``S >= 1`` sample rows and ``P`` population records has
        ``S / P <= delta_max`` only if ``P >= 1 / delta_max``; that part is
        monotone (k-map), so the search prunes with it.
        """
        k = math.ceil(1.0 / (self.delta_max + TOLERANCE))
        return [KMap(k, population=self.population)] if k > 1 else []

    def passes(self, stats: ClassStats) -> np.ndarray:
        if stats.population is None:
            raise RuntimeError("delta-presence needs the population class sizes")
        # S / P within the bounds, multiplied out (P > 0 for every class holding rows)
        pop = stats.population
        return (stats.sizes >= (self.delta_min - TOLERANCE) * pop) & (
            stats.sizes <= (self.delta_max + TOLERANCE) * pop
        )

    def measure(
        self,
        data: Any,
        quasi: list[str],
        sensitive: list[str],
        *,
        population: pl.DataFrame | None = None,
        rows: int | None = None,
    ) -> tuple[Any, bool]:
        counts = self._matches(data, quasi, population)
        if counts.height == 0:
            return (0.0, 0.0), True
        share = counts["sample"] / counts["population"]
        lo, hi = float(share.min()), float(share.max())  # type: ignore[arg-type]
        return (lo, hi), lo >= self.delta_min - TOLERANCE and hi <= self.delta_max + TOLERANCE

    def requirement(self) -> str:
        return f"in [{self.delta_min:g}, {self.delta_max:g}]"

    def describe(self) -> str:
        return f"delta-presence (delta_min={self.delta_min:g}, delta_max={self.delta_max:g})"
