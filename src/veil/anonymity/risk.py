"""Re-identification risk under the prosecutor, journalist and marketer models.

The attacker models follow El Emam (2013) and ARX (Prasser et al.):

- *prosecutor*: the attacker knows their target is in the table. A record in
  a class of f records is re-identified with probability 1/f.
- *journalist*: the attacker knows only that the target is in a population
  the table was sampled from. The risk of a record is 1/F, F the size of its
  class in the population table (given by the user).
- *marketer*: the attacker tries to re-identify as many records as possible;
  the risk is the expected share re-identified: classes / N without a
  population, the mean of f/F over records' classes with one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from veil.anonymity.classes import SIZE, ClassTable, build_class_table
from veil.errors import DataError, ParameterError

__all__ = ["RiskProfile", "reidentification_risk"]

#: Class-size bins of the size distribution reported to users.
SIZE_BINS: tuple[tuple[int, int | None], ...] = (
    (1, 1),
    (2, 2),
    (3, 4),
    (5, 9),
    (10, 19),
    (20, 49),
    (50, 99),
    (100, None),
)


@dataclass(frozen=True)
class RiskProfile:
    """Re-identification risk of a table; every share is a fraction of records in [0, 1]."""

    n_records: int
    n_classes: int
    threshold: float
    size_distribution: list[dict[str, Any]]  # per bin: label, classes, records
    unique_share: float
    prosecutor_highest: float
    prosecutor_average: float
    prosecutor_at_risk: float
    marketer: float
    journalist_highest: float | None = None
    journalist_average: float | None = None
    journalist_at_risk: float | None = None
    population_unique_share: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "records": self.n_records,
            "classes": self.n_classes,
            "threshold": self.threshold,
            "class_size_distribution": self.size_distribution,
            "unique_share": self.unique_share,
            "prosecutor": {
                "highest": self.prosecutor_highest,
                "average": self.prosecutor_average,
                "records_at_risk": self.prosecutor_at_risk,
            },
            "journalist": None
            if self.journalist_highest is None
            else {
                "highest": self.journalist_highest,
                "average": self.journalist_average,
                "records_at_risk": self.journalist_at_risk,
                "population_unique_share": self.population_unique_share,
            },
            "marketer": self.marketer,
        }


def _size_distribution(size: np.ndarray, classes: np.ndarray) -> list[dict[str, Any]]:
    """Classes and records per size bin, from the number of ``classes`` of each ``size``."""
    rows = []
    records = size * classes
    for lo, hi in SIZE_BINS:
        mask = (size >= lo) if hi is None else ((size >= lo) & (size <= hi))
        label = f"{lo}+" if hi is None else (str(lo) if lo == hi else f"{lo}-{hi}")
        rows.append(
            {
                "size": label,
                "classes": int(classes[mask].sum()),
                "records": int(records[mask].sum()),
            }
        )
    return rows


def _population_sizes(table: ClassTable, population: Any) -> tuple[np.ndarray, np.ndarray]:
    """Population and sample size of each sample class."""
    pop_classes = build_class_table(population, list(table.quasi), need_sensitive=False).classes()
    sample = table.classes()
    keys = list(table.quasi)
    mismatched = [k for k in keys if sample.schema[k] != pop_classes.schema[k]]
    if mismatched:
        k = mismatched[0]
        raise DataError(
            f"column {k!r} is {sample.schema[k]} in the table but {pop_classes.schema[k]} in the "
            "population; give both the same type"
        )
    joined = sample.join(
        pop_classes.rename({SIZE: "population"}), on=keys, how="left", nulls_equal=True
    )
    short = joined.filter(pl.col("population").is_null() | (pl.col("population") < pl.col("size")))
    if short.height:
        row = short.row(0, named=True)
        described = ", ".join(f"{k}={row[k]!r}" for k in keys)
        found = row["population"] or 0
        raise DataError(
            f"the population table must contain every record of the table: the class "
            f"({described}) has {row['size']} records in the table but {found} in the population"
        )
    population_sizes = joined["population"].to_numpy().astype(np.int64)
    return population_sizes, joined["size"].to_numpy().astype(np.int64)


def class_size_histogram(sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct class sizes, ascending, and how many classes have each."""
    larger = sizes[sizes > 1]
    if 2 * len(larger) < len(sizes):
        # Mostly single-record classes (near-unique tables): count the others only.
        histogram = np.bincount(larger, minlength=2)
        histogram[1] = len(sizes) - len(larger)
    else:
        histogram = np.bincount(sizes)
    size = np.flatnonzero(histogram)
    return size, histogram[size]


def risk_of(
    table: ClassTable,
    *,
    population: Any = None,
    threshold: float = 0.2,
    histogram: tuple[np.ndarray, np.ndarray] | None = None,
) -> RiskProfile:
    """Risk profile from an already built class table (and its class-size histogram, if known)."""
    if not 0 < threshold <= 1:
        raise ParameterError(f"risk threshold must be in (0, 1]; got {threshold!r}")
    sizes = table.class_sizes()
    n = table.n_rows
    # Every prosecutor measure depends on a class only through its size: work
    # on the distinct sizes and how many classes have each.
    size, classes = class_size_histogram(sizes) if histogram is None else histogram
    risk = 1 / size
    profile: dict[str, Any] = {
        "n_records": n,
        "n_classes": len(sizes),
        "threshold": threshold,
        "size_distribution": _size_distribution(size, classes),
        "unique_share": float(classes[size == 1].sum() / n),
        "prosecutor_highest": float(risk.max()),
        "prosecutor_average": len(sizes) / n,
        "prosecutor_at_risk": float((size * classes)[risk > threshold].sum() / n),
        "marketer": len(sizes) / n,
    }
    if population is not None:
        pop_sizes, sample_sizes = _population_sizes(table, population)
        pop_risk = 1 / pop_sizes
        average = float((sample_sizes * pop_risk).sum() / n)
        profile.update(
            journalist_highest=float(pop_risk.max()),
            journalist_average=average,
            journalist_at_risk=float(sample_sizes[pop_risk > threshold].sum() / n),
            population_unique_share=float(sample_sizes[pop_sizes == 1].sum() / n),
            marketer=average,
        )
    return RiskProfile(**profile)


def reidentification_risk(
    data: Any,
    quasi: str | Sequence[str],
    *,
    population: Any = None,
    threshold: float = 0.2,
) -> RiskProfile:
    """Re-identification risk of ``data`` over ``quasi`` (prosecutor, journalist, marketer).

    Parameters
    ----------
    data
        A path, or a pandas, polars or pyarrow table.
    quasi
        Quasi-identifier column names.
    population
        Optional table of the population the data was sampled from (it must
        contain the data's records); enables the journalist model.
    threshold
        A record is *at risk* when its re-identification probability is above
        this (0.2 = classes smaller than 5).
    """
    return risk_of(
        build_class_table(data, quasi, need_sensitive=False),
        population=population,
        threshold=threshold,
    )
