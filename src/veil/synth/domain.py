"""Discretization: each column becomes a few codes, chosen without reading private extremes.

Marginal-based synthesizers work on a discrete domain. Each column becomes
one of two kinds:

* **categorical** (text, booleans, enums, or any column given ``categories``):
  its values are codes. Categories the user names are used as they are
  (values outside them are an error). Otherwise the categories are chosen
  privately: noisy counts of the values present (discrete Gaussian), kept
  when the count clears a threshold that a value held by one person crosses
  with probability at most its share of delta (partition selection, Korolova
  et al. 2009; Gopi et al. 2021), at most ``max_categories`` of them, the most
  frequent by their noisy count. Everything else, including a column with
  thousands of categories (an identifier, a free-text field), goes to one
  ``(other)`` bucket.
* **continuous** (numbers): cut into ``bins`` equal-width bins between
  bounds that are either given or estimated privately from a noisy histogram
  over fixed power-of-two buckets (the lowest and highest bucket whose noisy
  count clears a threshold that an empty bucket crosses with probability
  1e-6 / 147, the number of buckets), never from the private minimum and maximum
  (diffprivlib's failing, Wilson et al. 2020). Values outside are clamped.
  Integer columns whose range is at most ``bins`` wide get one bin per value.

Every column also has a code for missing values (data-independent, so its
presence reveals nothing). Synthetic codes are decoded back: a continuous
column is drawn uniformly within its bin (integers uniformly among the
integers in the bin), so its distribution is a histogram, not bin midpoints.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from veil.errors import ColumnError, DataError, ParameterError

__all__ = ["OTHER", "Column", "Discretizer", "plan_columns"]

#: Label of the bucket holding every category not selected (or too rare to keep).
OTHER = "(other)"

# Power-of-two buckets for private bounds: |x| in [2^k, 2^(k+1)) for k in _EXPONENTS,
# below 2^-10 counted as zero; negative values mirrored.
_EXPONENTS = np.arange(-10, 63)


@dataclass
class Column:
    """How one column is coded.

    Attributes
    ----------
    kind
        "categorical" or "continuous".
    categories
        The values coded 0, 1, ... (categorical); the last is :data:`OTHER` when
        ``other`` is true.
    edges
        Bin edges (continuous), ``bins + 1`` of them.
    integer
        Decode to integers (an integer column).
    dtype
        The polars type to give the synthetic column.
    source
        Where the categories or bounds came from: "given", "dp" or "type".
    """

    name: str
    kind: str
    dtype: Any
    categories: tuple[Any, ...] = ()
    edges: np.ndarray | None = None
    other: bool = False
    integer: bool = False
    source: str = "given"

    @property
    def size(self) -> int:
        """Number of codes, the missing-value code (the last) included."""
        inner = len(self.categories) if self.kind == "categorical" else len(self.edges) - 1  # type: ignore[arg-type]
        return inner + 1

    def labels(self) -> list[str]:
        """A readable label per code (bins as [low, high), missing as "missing")."""
        if self.kind == "categorical":
            inner = [str(c) for c in self.categories]
        else:
            e = self.edges
            inner = [f"[{_num(e[i])}, {_num(e[i + 1])})" for i in range(len(e) - 1)]  # type: ignore[index,arg-type]
        return [*inner, "missing"]

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "codes": self.size, "source": self.source}
        if self.kind == "categorical":
            out["categories"] = len(self.categories) - int(self.other)
            out["other_bucket"] = self.other
        else:
            out["bounds"] = [float(self.edges[0]), float(self.edges[-1])]  # type: ignore[index]
            out["bins"] = len(self.edges) - 1  # type: ignore[arg-type]
        return out


def _num(x: float) -> str:
    return f"{x:.4g}"


@dataclass(frozen=True)
class _Plan:
    """What the schema alone says about a column, before any private read."""

    name: str
    kind: str
    dtype: Any
    integer: bool
    needs_dp: bool
    categories: tuple[Any, ...] | None = None
    bounds: tuple[float, float] | None = None
    bins: int = 10


def _bins_for(name: str, bins: int | Mapping[str, int]) -> int:
    value = bins.get(name, 10) if isinstance(bins, Mapping) else bins
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 2:
        raise ParameterError(f"bins for column {name!r} must be an integer >= 2; got {value!r}")
    return int(value)


def plan_columns(
    schema: Mapping[str, Any],
    *,
    bounds: Mapping[str, Sequence[float]] | None,
    bins: int | Mapping[str, int],
    categories: Mapping[str, Sequence[Any]] | None,
) -> list[_Plan]:
    """Decide each column's kind from its type and the user's parameters (no data read).

    Raises
    ------
    ColumnError
        A parameter names a column that does not exist, or a column has a type
        that cannot be synthesized (dates: convert them to numbers or text).
    ParameterError
        Bounds that are not two finite numbers low < high, or bad bins.
    """
    bounds = dict(bounds or {})
    categories = dict(categories or {})
    names = list(schema)
    for what, given in (("bounds", bounds), ("categories", categories)):
        unknown = [c for c in given if c not in schema]
        if unknown:
            raise ColumnError(
                f"{what} name columns that are not in the table: {unknown}; columns are: "
                f"{', '.join(names)}"
            )
    if isinstance(bins, Mapping):
        unknown = [c for c in bins if c not in schema]
        if unknown:
            raise ColumnError(f"bins name columns not in the table: {unknown}")
    plans = []
    for name, dtype in schema.items():
        if name in categories:
            cats = tuple(dict.fromkeys(categories[name]))
            if not cats:
                raise ParameterError(f"categories of column {name!r} are empty")
            plans.append(_Plan(name, "categorical", dtype, False, False, categories=cats))
        elif dtype == pl.Boolean:
            plans.append(_Plan(name, "categorical", dtype, False, False, categories=(False, True)))
        elif isinstance(dtype, pl.Enum):
            cats = tuple(dtype.categories.to_list())
            plans.append(_Plan(name, "categorical", dtype, False, False, categories=cats))
        elif dtype.is_numeric():
            b = _bins_for(name, bins)
            if name in bounds:
                lo, hi = _check_bounds(name, bounds[name])
                plans.append(
                    _Plan(
                        name,
                        "continuous",
                        dtype,
                        dtype.is_integer(),
                        False,
                        bounds=(lo, hi),
                        bins=b,
                    )
                )
            else:
                plans.append(_Plan(name, "continuous", dtype, dtype.is_integer(), True, bins=b))
        elif dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Categorical):
            if name in bounds:
                raise ParameterError(f"column {name!r} holds text; bounds apply to numbers")
            plans.append(_Plan(name, "categorical", dtype, False, True))
        else:
            raise ColumnError(
                f"column {name!r} has type {dtype}, which cannot be synthesized; convert it to "
                "numbers or text first (dates: e.g. to year, or days since a date)"
            )
    return plans


def _check_bounds(name: str, pair: Sequence[float]) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in pair)
    except (TypeError, ValueError):
        raise ParameterError(
            f"bounds of column {name!r} must be two numbers (low, high); got {pair!r}"
        ) from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ParameterError(
            f"bounds of column {name!r} must be finite with low < high; got {pair!r}"
        )
    return lo, hi


def _edges(lo: float, hi: float, bins: int, integer: bool) -> np.ndarray:
    if integer:
        lo_i, hi_i = math.floor(lo), math.ceil(hi)
        if hi_i - lo_i + 1 <= bins:  # one bin per integer value
            return np.arange(lo_i, hi_i + 2, dtype=np.float64) - 0.5
    return np.linspace(lo, hi, bins + 1)


def _bucket_edges() -> np.ndarray:
    """Edges of the fixed buckets for private bounds: negative, zero, positive."""
    pos = np.exp2(_EXPONENTS.astype(np.float64))
    return np.concatenate([-pos[::-1] * 2.0, [-pos[0], pos[0]], pos * 2.0])


def _bucket_index(values: np.ndarray) -> np.ndarray:
    edges = _bucket_edges()
    inner = np.clip(values, edges[0], np.nextafter(edges[-1], 0.0))
    return np.searchsorted(edges, inner, side="right") - 1


class Discretizer:
    """Codes a table into a discrete domain and decodes synthetic codes back."""

    def __init__(self, plans: list[_Plan], max_categories: int) -> None:
        self.plans = plans
        self.max_categories = int(max_categories)
        self.columns: dict[str, Column] = {}
        self.notes: list[str] = []

    @property
    def private_columns(self) -> list[str]:
        """Columns whose categories or bounds will be chosen privately (they cost budget)."""
        return [p.name for p in self.plans if p.needs_dp]

    @property
    def selects_categories(self) -> bool:
        return any(p.needs_dp and p.kind == "categorical" for p in self.plans)

    def fit(self, frame: pl.DataFrame, meter: Any, rho: float, delta: float) -> None:
        """Fix every column's codes; private ones spend ``rho`` each (``delta`` each for text).

        ``meter`` is the fit's :class:`~veil.synth.measurements.Meter`.
        """
        from scipy.stats import norm

        for plan in self.plans:
            series = frame.get_column(plan.name)
            if plan.kind == "categorical" and not plan.needs_dp:
                self.columns[plan.name] = Column(
                    plan.name, "categorical", plan.dtype, plan.categories or (), source="given"
                )
                continue
            if plan.kind == "continuous" and not plan.needs_dp:
                lo, hi = plan.bounds  # type: ignore[misc]
                edges = _edges(lo, hi, plan.bins, plan.integer)
                self.columns[plan.name] = Column(
                    plan.name, "continuous", plan.dtype, edges=edges, integer=plan.integer
                )
                continue
            if plan.kind == "continuous":
                values = series.drop_nulls().cast(pl.Float64).to_numpy()
                values = values[np.isfinite(values)]
                edges = _bucket_edges()
                counts = np.bincount(_bucket_index(values), minlength=len(edges) - 1)
                noisy, sigma = meter.noisy_counts(counts, rho)
                # Any of the empty buckets clears it with probability at most 1e-6.
                kept = np.flatnonzero(noisy > sigma * float(norm.isf(1e-6 / counts.size)))
                if kept.size == 0:
                    raise ParameterError(
                        f"epsilon is too small to estimate the bounds of column {plan.name!r} "
                        f"privately (no bucket cleared the noise, sigma={sigma:.3g}); give them, "
                        f'e.g. bounds={{"{plan.name}": (low, high)}} or '
                        f"--bounds {plan.name}=LOW:HIGH"
                    )
                lo, hi = float(edges[kept[0]]), float(edges[kept[-1] + 1])
                if plan.integer:
                    lo, hi = math.floor(lo), math.ceil(hi)
                self.notes.append(
                    f"{plan.name}: bounds [{_num(lo)}, {_num(hi)}] estimated privately "
                    "(power-of-two buckets)"
                )
                self.columns[plan.name] = Column(
                    plan.name,
                    "continuous",
                    plan.dtype,
                    edges=_edges(lo, hi, plan.bins, plan.integer),
                    integer=plan.integer,
                    source="dp",
                )
                continue
            # Text without given categories: private partition selection.
            counts_frame = series.drop_nulls().cast(pl.String).value_counts(sort=True)
            keys = counts_frame.get_column(counts_frame.columns[0]).to_list()
            counts = counts_frame.get_column("count").to_numpy()
            if len(keys):
                noisy, sigma = meter.noisy_counts(counts, rho)
            else:
                noisy, sigma = np.zeros(0), 0.0
                meter.noisy_counts(
                    np.zeros(1, dtype=np.int64), rho
                )  # the spend does not depend on the data
            # A value held by one person clears tau with probability <= delta.
            tau = 1.0 + sigma * float(norm.isf(delta)) if sigma > 0 else math.inf
            order = np.argsort(-noisy, kind="stable")
            chosen = [keys[i] for i in order if noisy[i] >= tau]
            dropped = len(chosen) - self.max_categories
            chosen = chosen[: self.max_categories]
            if dropped > 0:
                self.notes.append(
                    f"{plan.name}: the {self.max_categories} most frequent categories kept "
                    f"(by noisy count), {dropped} more selected ones and every rare one go to "
                    f"{OTHER!r}"
                )
            else:
                self.notes.append(
                    f"{plan.name}: {len(chosen)} categories selected privately; rare ones go to "
                    f"{OTHER!r}"
                )
            self.columns[plan.name] = Column(
                plan.name,
                "categorical",
                plan.dtype,
                (*sorted(chosen), OTHER),
                other=True,
                source="dp",
            )

    def sizes(self) -> dict[str, int]:
        return {name: col.size for name, col in self.columns.items()}

    def encode(self, frame: pl.DataFrame) -> dict[str, np.ndarray]:
        """Codes of every column (int64); missing values get the last code.

        Raises
        ------
        DataError
            A column given categories holds a value outside them.
        """
        out: dict[str, np.ndarray] = {}
        for name, col in self.columns.items():
            series = frame.get_column(name)
            missing = col.size - 1
            if col.kind == "categorical":
                mapping = {c: i for i, c in enumerate(col.categories)}
                values = series.to_list()
                if col.other:
                    fill = len(col.categories) - 1
                    codes = [missing if v is None else mapping.get(str(v), fill) for v in values]
                else:
                    unknown = {v for v in values if v is not None and v not in mapping}
                    if unknown:
                        shown = sorted(map(str, unknown))[:5]
                        raise DataError(
                            f"column {name!r} holds values outside its given categories: "
                            f"{shown}; add them to categories or drop those rows"
                        )
                    codes = [missing if v is None else mapping[v] for v in values]
                out[name] = np.asarray(codes, dtype=np.int64)
            else:
                x = series.cast(pl.Float64).to_numpy()
                bad = ~np.isfinite(x)
                edges = col.edges
                codes = np.searchsorted(edges, np.where(bad, edges[0], x), side="right") - 1  # type: ignore[arg-type]
                codes = np.clip(codes, 0, len(edges) - 2)  # type: ignore[arg-type]
                codes[bad] = missing
                out[name] = codes.astype(np.int64)
        return out

    def decode(self, codes: Mapping[str, np.ndarray], rng: np.random.Generator) -> pl.DataFrame:
        """The synthetic table for ``codes``: categories back, numbers drawn within their bins."""
        series = []
        for name, col in self.columns.items():
            c = np.asarray(codes[name], dtype=np.int64)
            missing = c == col.size - 1
            if col.kind == "categorical":
                lookup = np.asarray([*list(col.categories), None], dtype=object)
                values = lookup[c]
                dtype = pl.String if col.other else col.dtype
                if isinstance(dtype, pl.Categorical):
                    dtype = pl.String
                s = pl.Series(name, values.tolist(), dtype=dtype, strict=False)
            else:
                edges = col.edges
                inner = np.clip(c, 0, len(edges) - 2)  # type: ignore[arg-type]
                lo, hi = edges[inner], edges[inner + 1]  # type: ignore[index]
                if col.integer:
                    lo_i, hi_i = np.ceil(lo), np.ceil(hi) - 1
                    hi_i = np.maximum(hi_i, lo_i)
                    x = lo_i + np.floor(rng.random(c.size) * (hi_i - lo_i + 1))
                else:
                    x = lo + rng.random(c.size) * (hi - lo)
                x[missing] = np.nan
                s = pl.Series(name, x).fill_nan(None).cast(col.dtype, strict=False)
            series.append(s)
        return pl.DataFrame(series)
