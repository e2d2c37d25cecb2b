"""Turning a private table into model inputs without leaking through the preprocessing.

A scaler fitted on the private data (its min, max, mean or category list) is
itself a release that no epsilon covers: one outlier's age moves the scaling of
every row. diffprivlib only warns about it; veil does not read the private data
for any of this silently. Every numeric column is clipped to bounds that are
either **given** by the user or **spent for**: estimated with differential
privacy by a noisy histogram over powers of two (the approach of Google's DP
library's ``ApproxBounds``), whose cost is part of the model's epsilon.
Category sets are given, or read from the data and then **reported as treated
as public** (the issue's rule: a category list is usually public knowledge,
such as the sexes or the US states, but the user must see that it was assumed).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from veil.errors import ColumnError, DataError, ParameterError
from veil.privacy import PrivacyLoss, check_epsilon

__all__ = ["FeatureEncoder", "FeatureSpec", "approx_bounds", "as_bounds"]

# Bins of |x| by powers of two from 2^-8 to 2^48, with one bin for |x| < 2^-8:
# wide enough for money in cents and narrow enough for fractions.
_LOW_EXP, _HIGH_EXP = -8, 48
# A category list read from the data with more values than this is rather an
# identifier (or needs a schema): one-hot encoding it would memorise people.
MAX_CATEGORIES = 100
#: The category a missing value of a categorical column takes.
MISSING = "(missing)"


def _edges() -> np.ndarray:
    positive = 2.0 ** np.arange(_LOW_EXP, _HIGH_EXP + 1)
    return np.concatenate([-positive[::-1], [0.0], positive])


def approx_bounds(values: np.ndarray, *, epsilon: float, column: str = "x") -> tuple[float, float]:
    """Differentially private bounds of a numeric column: epsilon-DP, no public range needed.

    The values are counted in bins by sign and power of two ([2^k, 2^(k+1)) and
    their mirror images, plus the bins around zero). One person is in exactly one
    bin, so the histogram has L1 sensitivity 1 (add/remove a person) and discrete
    Laplace noise of scale 1/epsilon on every bin is epsilon-DP. The bounds are
    the outer edges of the lowest and highest bins whose noisy count passes a
    threshold that an empty bin exceeds with probability below 1e-3 in total.

    Returns
    -------
    (low, high)
        Powers of two (or 0) containing most of the data: clipping to them
        changes only the rare values beyond.

    Raises
    ------
    DataError
        No bin passes the threshold: too few rows for this epsilon; give the
        bounds instead.
    """
    from veil.dp.mechanisms import DiscreteLaplaceMechanism

    eps = check_epsilon(epsilon)
    edges = _edges()
    finite = values[np.isfinite(values)]
    counts = np.histogram(np.clip(finite, edges[0], edges[-1]), bins=edges)[0].astype(np.int64)
    mechanism = DiscreteLaplaceMechanism(epsilon=eps, sensitivity=1)
    noisy = mechanism(counts)
    # P(discrete Laplace noise >= t) <= exp(-eps t); a union bound over the bins.
    threshold = math.log(counts.size / 1e-3) / eps
    passing = np.flatnonzero(noisy >= threshold)
    if passing.size == 0:
        raise DataError(
            f"column {column!r}: too few rows to estimate its bounds privately with epsilon "
            f"{eps:g} (each power-of-two bin needs about {threshold:.0f} rows); give its "
            "bounds (e.g. --bounds age=0:120)"
        )
    return float(edges[passing[0]]), float(edges[passing[-1] + 1])


def as_bounds(value: Any, column: str) -> tuple[float, float]:
    """A (low, high) pair from a tuple, list or "low:high" text, checked."""
    if isinstance(value, str):
        parts = value.replace(",", ":").split(":")
        value = parts
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ParameterError(
            f"bounds of column {column!r} must be two numbers (low, high); got {value!r}"
        ) from None
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        raise ParameterError(
            f"bounds of column {column!r} must be finite with low < high; got ({low}, {high})"
        )
    return low, high


@dataclass(frozen=True)
class FeatureSpec:
    """How one column becomes model inputs, and where its bounds or categories came from.

    ``source`` is "given" (by the user), "dp" (estimated with differential
    privacy, at ``epsilon``) or "data" (read from the data, treated as public).
    """

    name: str
    kind: str  # "numeric" or "categorical"
    source: str
    bounds: tuple[float, float] | None = None
    categories: tuple[str, ...] | None = None
    missing_indicator: bool = False
    epsilon: float = 0.0

    @property
    def width(self) -> int:
        if self.kind == "numeric":
            return 1 + int(self.missing_indicator)
        return len(self.categories or ())

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "source": self.source,
            "bounds": list(self.bounds) if self.bounds else None,
            "categories": list(self.categories) if self.categories is not None else None,
            "missing_indicator": self.missing_indicator,
            "epsilon": self.epsilon,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSpec:
        return cls(
            name=str(data["name"]),
            kind=str(data["kind"]),
            source=str(data["source"]),
            bounds=tuple(data["bounds"]) if data.get("bounds") else None,  # type: ignore[arg-type]
            categories=tuple(data["categories"]) if data.get("categories") is not None else None,
            missing_indicator=bool(data.get("missing_indicator", False)),
            epsilon=float(data.get("epsilon", 0.0)),
        )


def _is_numeric(series: pl.Series) -> bool:
    return series.dtype.is_numeric() or series.dtype == pl.Boolean


@dataclass
class FeatureEncoder:
    """Clip-and-scale numeric columns, one-hot categorical ones, from a DP-safe schema.

    Parameters
    ----------
    bounds
        ``{column: (low, high)}`` for numeric columns known in public (a human
        age is in [0, 120]). Columns without bounds have theirs estimated with
        :func:`approx_bounds`, each at ``bounds_epsilon`` divided among them.
    categories
        ``{column: [values...]}`` for categorical columns. Columns without a
        list take the values seen in the data, reported as treated as public.
    bounds_epsilon
        The epsilon spent on all estimated bounds together (0: every numeric
        column needs given bounds).
    """

    bounds: Mapping[str, Any] = field(default_factory=dict)
    categories: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    bounds_epsilon: float = 0.0
    specs: list[FeatureSpec] = field(default_factory=list)

    def needs_bounds(self, frame: pl.DataFrame) -> list[str]:
        """Numeric columns with neither bounds nor a category list: estimated with DP."""
        return [
            c
            for c in frame.columns
            if c not in self.bounds and c not in self.categories and _is_numeric(frame[c])
        ]

    def validate(self, frame: pl.DataFrame) -> dict[str, FeatureSpec]:
        """Every check :meth:`fit` makes, run before any spend; the categorical specs.

        A job that charges a ledger calls this before reserving, so a table the
        encoder would refuse (a column all missing, an identifier-like column)
        costs no budget.
        """
        if frame.width == 0:
            raise DataError("the table has no feature columns; keep one besides the target")
        unknown = [c for c in sorted({*self.bounds, *self.categories}) if c not in frame.columns]
        if unknown:
            raise ColumnError(
                f"bounds or categories given for column(s) not in the features: "
                f"{', '.join(map(repr, unknown))}; features are: {', '.join(frame.columns)}"
            )
        to_estimate = self.needs_bounds(frame)
        if to_estimate and self.bounds_epsilon <= 0:
            raise ParameterError(
                f"numeric column(s) {', '.join(map(repr, to_estimate))} have no bounds; give "
                "them (e.g. --bounds age=0:120) or let veil spend part of epsilon to estimate them"
            )
        categorical = {}
        for name in frame.columns:
            series = frame[name]
            if series.null_count() == series.len():
                raise DataError(
                    f"feature {name!r} has no usable values (all missing); drop it (--drop {name})"
                )
            if name in self.categories or not _is_numeric(series):
                categorical[name] = self._categorical(name, series)
            elif name in self.bounds:
                as_bounds(self.bounds[name], name)
        return categorical

    def fit(self, frame: pl.DataFrame) -> FeatureEncoder:
        """Decide each column's encoding; spends ``bounds_epsilon`` if bounds are missing."""
        categorical = self.validate(frame)
        to_estimate = self.needs_bounds(frame)
        each = self.bounds_epsilon / len(to_estimate) if to_estimate else 0.0
        specs = []
        for name in frame.columns:
            series = frame[name]
            missing = series.null_count() > 0
            if name in categorical:
                specs.append(categorical[name])
            elif name in self.bounds:
                low, high = as_bounds(self.bounds[name], name)
                specs.append(FeatureSpec(name, "numeric", "given", (low, high), None, missing))
            else:
                values = series.cast(pl.Float64).drop_nulls().to_numpy()
                low, high = approx_bounds(values, epsilon=each, column=name)
                specs.append(FeatureSpec(name, "numeric", "dp", (low, high), None, missing, each))
        self.specs = specs
        return self

    def _categorical(self, name: str, series: pl.Series) -> FeatureSpec:
        if name in self.categories:
            cats = tuple(str(v) for v in self.categories[name])
            if len(set(cats)) != len(cats) or not cats:
                raise ParameterError(f"categories of column {name!r} must be distinct, not empty")
            return FeatureSpec(name, "categorical", "given", None, cats)
        seen = series.cast(pl.Utf8).fill_null(MISSING).unique().sort().to_list()
        if len(seen) > MAX_CATEGORIES:
            raise DataError(
                f"column {name!r} has {len(seen):,} distinct values, too many to one-hot encode "
                f"(limit {MAX_CATEGORIES}): it looks like an identifier; drop it (--drop {name}) "
                "or give its categories in a schema"
            )
        return FeatureSpec(name, "categorical", "data", None, tuple(seen))

    @property
    def width(self) -> int:
        """Number of model inputs."""
        return sum(s.width for s in self.specs)

    @property
    def columns(self) -> list[str]:
        return [s.name for s in self.specs]

    def transform(self, frame: pl.DataFrame) -> np.ndarray:
        """The float32 model inputs for ``frame`` (same columns as at :meth:`fit`)."""
        if not self.specs:
            raise ParameterError("the encoder is not fitted; call fit first")
        missing = [s.name for s in self.specs if s.name not in frame.columns]
        if missing:
            raise ColumnError(
                f"column(s) {', '.join(map(repr, missing))} missing; the model was trained on: "
                f"{', '.join(self.columns)}"
            )
        parts: list[np.ndarray] = []
        for spec in self.specs:
            series = frame[spec.name]
            if spec.kind == "numeric":
                parts.append(self._numeric(spec, series))
            else:
                codes = series.cast(pl.Utf8).fill_null(MISSING).to_numpy()
                lookup = {c: i for i, c in enumerate(spec.categories or ())}
                onehot = np.zeros((len(codes), spec.width), dtype=np.float32)
                idx = np.array([lookup.get(c, -1) for c in codes], dtype=np.int64)
                known = idx >= 0  # a value outside the category set encodes as all zeros
                onehot[np.flatnonzero(known), idx[known]] = 1.0
                parts.append(onehot)
        return np.hstack(parts) if parts else np.zeros((frame.height, 0), np.float32)

    @staticmethod
    def _numeric(spec: FeatureSpec, series: pl.Series) -> np.ndarray:
        if not _is_numeric(series):
            raise DataError(
                f"column {spec.name!r} was numeric when the model was trained; it holds "
                f"{series.dtype} now"
            )
        values = series.cast(pl.Float64).to_numpy().astype(np.float64)
        nan = ~np.isfinite(values)
        low, high = spec.bounds  # type: ignore[misc]
        mid, half = (low + high) / 2.0, (high - low) / 2.0
        scaled = (np.clip(values, low, high) - mid) / half  # in [-1, 1]
        scaled[nan] = 0.0
        out = [scaled.astype(np.float32)[:, None]]
        if spec.missing_indicator:
            out.append(nan.astype(np.float32)[:, None])
        return np.hstack(out)

    def privacy_loss(self) -> PrivacyLoss | None:
        """What estimating the bounds cost (pure DP), or None when nothing was spent."""
        spent = math.fsum(s.epsilon for s in self.specs if s.source == "dp")
        return PrivacyLoss.pure(spent) if spent > 0 else None

    def public(self) -> list[str]:
        """Plain sentences on what was treated as public, for the report."""
        notes = []
        for spec in self.specs:
            if spec.source == "data":
                notes.append(
                    f"the category set of {spec.name!r} ({len(spec.categories or ())} values) "
                    "was read from the data and treated as public"
                )
            elif spec.source == "dp":
                notes.append(
                    f"the bounds of {spec.name!r} [{spec.bounds[0]:g}, {spec.bounds[1]:g}] were "  # type: ignore[index]
                    f"estimated with differential privacy (epsilon {spec.epsilon:.3g})"
                )
            else:
                what = "bounds" if spec.kind == "numeric" else "category set"
                notes.append(f"the {what} of {spec.name!r} were given by the user (public)")
        return notes

    def to_dict(self) -> dict[str, Any]:
        return {"features": [s.to_dict() for s in self.specs]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureEncoder:
        encoder = cls()
        encoder.specs = [FeatureSpec.from_dict(s) for s in data["features"]]
        return encoder
