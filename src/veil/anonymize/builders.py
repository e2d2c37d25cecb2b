"""Hierarchies built from the data: intervals, rounding, dates, masking, grouping, defaults.

Each builder is a :class:`~veil.anonymize.hierarchies.Hierarchy` whose levels
are computed from the column's distinct values, so that it covers every value
and nests by construction: interval widths must divide one another, rounding
floors (it never rounds half up, which would split a group), masking hides
more characters at each level, grouping maps the labels of the level below.
Every hierarchy ends with the single label ``*`` (full suppression of the
value), as in ARX (Prasser et al. 2014).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

import numpy as np
import polars as pl

from veil.anonymize.hierarchies import Hierarchy, level_names
from veil.errors import DataError, ParameterError

__all__ = [
    "CodeHierarchy",
    "DateHierarchy",
    "FrequencyHierarchy",
    "GroupingHierarchy",
    "IntervalHierarchy",
    "MaskingHierarchy",
    "RoundingHierarchy",
    "default_hierarchy",
    "hierarchy_from_spec",
]

TOP = "*"


def _finish(values: pl.Series, levels: list[list[str | None]]) -> pl.DataFrame:
    """Assemble ``value`` + levels for the non-null ``values``, add ``*`` and the null row."""
    if not levels or any(label != TOP for label in levels[-1]):
        levels = [*levels, [TOP] * values.len()]
    names = level_names(len(levels))
    frame = pl.DataFrame({"value": values}).with_columns(
        [pl.Series(name, col, dtype=pl.String) for name, col in zip(names, levels, strict=True)]
    )
    return _add_null(frame)


def _add_null(frame: pl.DataFrame) -> pl.DataFrame:
    """Append the row of the missing value: missing at every level, then ``*``."""
    row: dict[str, Any] = {"value": None}
    names = level_names(frame.width - 1)
    for name in names:
        row[name] = None
    row[names[-1]] = TOP
    return pl.concat([frame, pl.DataFrame([row], schema=frame.schema)])


def _distinct(values: pl.Series) -> tuple[pl.Series, bool]:
    return values.drop_nulls().unique().sort(), values.null_count() > 0


def _numeric(values: pl.Series, what: str) -> None:
    if not values.dtype.is_numeric():
        raise ParameterError(
            f"{what} needs a numeric column; column {values.name!r} is {values.dtype}. "
            "Use GroupingHierarchy or MaskingHierarchy for text"
        )


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.12g}"


def _select(frame: pl.DataFrame, has_null: bool) -> pl.DataFrame:
    return frame if has_null else frame.filter(pl.col("value").is_not_null())


class IntervalHierarchy(Hierarchy):
    """Nested intervals ``[lo, lo + width)`` of growing widths, then ``*``.

    Parameters
    ----------
    widths
        Interval width at each level, increasing, each a multiple of the one
        before (so that intervals nest), e.g. ``[5, 10, 20]``.
    start
        Where the first interval begins (default: the minimum, rounded down to
        a multiple of the widest width).
    """

    def __init__(self, widths: Sequence[float], start: float | None = None) -> None:
        self.widths = list(widths)
        self.start = start

    def _check(self) -> None:
        if not self.widths or any(not (w > 0) for w in self.widths):
            raise ParameterError(f"interval widths must be positive numbers; got {self.widths}")
        for a, b in pairwise(self.widths):
            ratio = b / a
            if ratio <= 1 or abs(ratio - round(ratio)) > 1e-9:
                raise ParameterError(
                    f"interval widths must grow and each be a multiple of the previous one so "
                    f"that intervals nest; {b} is not a multiple of {a} (got {self.widths})"
                )

    def _labels(self, lo: np.ndarray, width: float) -> list[str | None]:
        return [f"[{_fmt(x)}, {_fmt(x + width)})" for x in lo]

    def table(self, values: pl.Series) -> pl.DataFrame:
        _numeric(values, type(self).__name__)
        self._check()
        distinct, has_null = _distinct(values)
        x = distinct.cast(pl.Float64).to_numpy()
        widest = self.widths[-1]
        start = self.start
        if start is None:
            start = math.floor(x.min() / widest) * widest if x.size else 0.0
        # Each level's bin index is derived from the previous one by integer
        # division, so float rounding can never split a group (monotonicity).
        index = np.floor((x - start) / self.widths[0] + 1e-9).astype(np.int64)
        levels: list[list[str | None]] = []
        for i, width in enumerate(self.widths):
            if i > 0:
                index = index // round(width / self.widths[i - 1])
            levels.append(self._labels(start + index * width, width))
        return _select(_finish(distinct, levels), has_null)


class RoundingHierarchy(IntervalHierarchy):
    """Values floored to fewer decimals at each level: ``[1, 0, -1]`` gives 12.34 -> 12.3, 12, 10.

    Flooring, not rounding half up: rounding to the nearest 10 and then the
    nearest 100 would put 45..49 and 50..54 in one group, then split them.
    """

    def __init__(self, decimals: Sequence[int]) -> None:
        self.decimals = list(decimals)
        if any(b >= a for a, b in pairwise(self.decimals)):
            raise ParameterError(f"decimals must decrease level by level; got {self.decimals}")
        super().__init__([10.0 ** (-d) for d in self.decimals], start=0.0)

    def _labels(self, lo: np.ndarray, width: float) -> list[str | None]:
        digits = max(0, round(-math.log10(width)))
        return [f"{x:.{digits}f}" for x in lo]


class DateHierarchy(Hierarchy):
    """Dates truncated to ``day``, ``month`` (2024-03) and ``year`` (2024), then ``*``."""

    _ORDER = ("day", "month", "year")

    def __init__(self, units: Sequence[str] = ("month", "year")) -> None:
        self.units = list(units)

    def table(self, values: pl.Series) -> pl.DataFrame:
        bad = [u for u in self.units if u not in self._ORDER]
        ranks = [self._ORDER.index(u) for u in self.units if u in self._ORDER]
        if bad or not self.units or ranks != sorted(set(ranks)):
            raise ParameterError(
                f"date units must be a subset of day, month, year in that order; got {self.units}"
            )
        if not values.dtype.is_temporal() or values.dtype == pl.Duration:
            raise ParameterError(
                f"DateHierarchy needs a date or datetime column; {values.name!r} is "
                f"{values.dtype} (parse it first, e.g. str.to_date())"
            )
        distinct, has_null = _distinct(values)
        fmt = {"day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}
        levels = [distinct.dt.strftime(fmt[u]).to_list() for u in self.units]
        return _select(_finish(distinct, levels), has_null)


class MaskingHierarchy(Hierarchy):
    """Hide trailing characters, more at each level: 13053 -> 1305* -> 130** (zip codes, ids).

    Parameters
    ----------
    steps
        How many trailing characters are masked at each level, increasing
        (default: 1, 2, ... up to the longest value's length minus one).
    char
        The masking character.
    """

    def __init__(self, steps: Sequence[int] | None = None, char: str = "*") -> None:
        self.steps = None if steps is None else list(steps)
        self.char = char

    def table(self, values: pl.Series) -> pl.DataFrame:
        distinct, has_null = _distinct(values)
        text = distinct.cast(pl.String).to_list()
        longest = max((len(t) for t in text), default=1)
        steps = self.steps if self.steps is not None else list(range(1, longest))
        if any(s < 1 for s in steps) or any(b <= a for a, b in pairwise(steps)):
            raise ParameterError(f"masking steps must be increasing and >= 1; got {steps}")
        levels: list[list[str | None]] = [
            [t[: max(len(t) - s, 0)] + self.char * min(s, len(t)) for t in text] for s in steps
        ]
        return _select(_finish(distinct, levels), has_null)


class GroupingHierarchy(Hierarchy):
    """Categories grouped by dicts, one per level; each dict maps the labels of the level below.

    Example: ``GroupingHierarchy([{"Bachelors": "Higher", "Masters": "Higher",
    "HS-grad": "Secondary"}])`` gives value -> group -> ``*``. With no dict the
    hierarchy is the value, then ``*``.
    """

    def __init__(self, levels: Sequence[Mapping[Any, Any]] = ()) -> None:
        self.levels = [dict(m) for m in levels]

    def table(self, values: pl.Series) -> pl.DataFrame:
        distinct, has_null = _distinct(values)
        current: list[Any] = distinct.to_list()
        levels: list[list[str | None]] = []
        for depth, mapping in enumerate(self.levels, start=1):
            text_keys = {str(k): v for k, v in mapping.items()}
            nxt = []
            for label in current:
                if label in mapping:
                    nxt.append(str(mapping[label]))
                elif str(label) in text_keys:
                    nxt.append(str(text_keys[str(label)]))
                else:
                    what = "value" if depth == 1 else f"label at level {depth - 1}"
                    raise DataError(
                        f"{what} {label!r} of column {values.name!r} is missing from the "
                        f"grouping dict of level {depth}; add it to a group"
                    )
            levels.append(nxt)
            current = nxt
        return _select(_finish(distinct, levels), has_null)


class CodeHierarchy(Hierarchy):
    """Codes of one dominant length masked digit by digit, odd codes alongside: 02139 -> 0213*.

    ZIP-like columns hold a few values of another shape (ZIP+4 codes,
    foreign postcodes, typos). The dominant length ``L`` (the most common)
    sets the levels: level ``s`` keeps the first ``L - s`` characters and masks
    ``s``, up to ``L - 1``, then ``*``. A longer value whose first ``L``
    characters are digits (``02139-4307``) is generalized through that prefix,
    so it joins its ZIP code from level 1 on; any other odd value of length
    ``M`` is masked at the same rate by its own prefix (``round(s M / L)``
    characters at level ``s``, at least one), so it is never kept whole above
    level 0 and never merged with codes of another shape before ``*``.

    Parameters
    ----------
    length
        The dominant length (default: the most common length among the distinct values).
    char
        The masking character.
    """

    def __init__(self, length: int | None = None, char: str = "*") -> None:
        self.length = length
        self.char = char

    def table(self, values: pl.Series) -> pl.DataFrame:
        distinct, has_null = _distinct(values)
        text = distinct.cast(pl.String).to_list()
        length = self.length
        if length is None:
            counts: dict[int, int] = {}
            for t in text:
                counts[len(t)] = counts.get(len(t), 0) + 1
            length = max(counts, key=lambda n: (counts[n], n)) if counts else 1
        if length < 2:
            raise ParameterError(
                f"a code hierarchy needs codes of 2 or more characters; got {length}"
            )
        levels: list[list[str | None]] = []
        for s in range(1, length):
            level: list[str | None] = []
            for t in text:
                if len(t) == length or (len(t) > length and t[:length].isdigit()):
                    level.append(t[: length - s] + self.char * s)
                else:
                    masked = min(len(t), max(1, round(s * len(t) / length)))
                    level.append(t[: len(t) - masked] + self.char * masked)
            levels.append(level)
        return _select(_finish(distinct, levels), has_null)


class FrequencyHierarchy(Hierarchy):
    """Frequent values kept, rare ones pooled, level by level: a middle ground before ``*``.

    For a column with many distinct values (job titles, diagnoses), level
    ``i`` keeps each value that holds at least ``shares[i]`` of the rows and
    pools the others under ``other``; shares grow level by level, so a value
    pooled once stays pooled (the levels nest). Then ``*``.

    Parameters
    ----------
    shares
        Least share of the rows a value needs to be kept, per level, increasing.
    other
        Label of the pooled rare values.
    """

    def __init__(
        self, shares: Sequence[float] = (0.001, 0.01), other: str = "(rare values)"
    ) -> None:
        self.shares = list(shares)
        self.other = other

    def table(self, values: pl.Series) -> pl.DataFrame:
        if (
            not self.shares
            or any(not 0 < a < 1 for a in self.shares)
            or any(b <= a for a, b in pairwise(self.shares))
        ):
            raise ParameterError(f"frequency shares must increase within (0, 1); got {self.shares}")
        counts = values.drop_nulls().value_counts(name="\x00n").sort(values.name)
        distinct = counts[values.name]
        share = (counts["\x00n"] / max(values.len(), 1)).to_list()
        text = distinct.cast(pl.String).to_list()
        levels: list[list[str | None]] = [
            [t if q >= cut else self.other for t, q in zip(text, share, strict=True)]
            for cut in self.shares
        ]
        return _select(_finish(distinct, levels), values.null_count() > 0)


# Words in a column's name that mark an integer column as a code, not a measure.
_CODE_WORDS = frozenset(
    [
        "code",
        "codes",
        "id",
        "ids",
        "key",
        "state",
        "states",
        "county",
        "fips",
        "zip",
        "zipcode",
        "postcode",
        "race",
        "ethnicity",
        "ethnic",
        "sex",
        "gender",
        "status",
        "type",
        "class",
        "category",
        "cat",
        "region",
        "country",
        "nation",
        "occupation",
        "industry",
        "marital",
        "religion",
        "district",
        "province",
        "municipality",
        "icd",
        "naics",
        "sic",
    ]
)
# Values that stand for "unknown" or "not reported" in coded surveys (FARS, NHANES...).
_SENTINELS = frozenset({-9, -1, 8, 9, 88, 97, 98, 99, 888, 997, 998, 999, 9998, 9999})
MAX_CODES = 60  # distinct values at most for an integer column to be read as a code


def _name_words(name: str) -> set[str]:
    import re

    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    return {w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w}


def is_integer_code(values: pl.Series) -> bool:
    """Whether an integer column holds codes (state, race...) rather than a measure.

    An integer column with at most :data:`MAX_CODES` distinct values is read
    as codes when its name has a code word (``code``, ``id``, ``state``,
    ``race``, ``sex``, ``type``, ``status``... as a word: ``STATE``,
    ``race_code``, ``countyId``), or when its largest value is a
    "not known" sentinel (9, 99, 999, 98, 88...) more than twice the next one
    (``1, 2, 3, 4, 99``). Ages, counts and scores (``education-num``) are
    measures: intervals suit them.
    """
    if not values.dtype.is_integer():
        return False
    distinct = values.drop_nulls().unique().sort()
    if distinct.len() <= 2 or distinct.len() > MAX_CODES:
        return False
    if _name_words(values.name) & _CODE_WORDS:
        return True
    top, second = int(distinct[-1]), int(distinct[-2])
    return top in _SENTINELS and top > 2 * max(second, 1)


def _is_code_text(codes: pl.Series) -> int | None:
    """The dominant length of a text column of digit codes (ZIP-like), or ``None``."""
    if len(codes) <= 2:
        return None
    lengths = codes.str.len_chars()
    dominant = lengths.mode().max()
    if dominant is None or dominant < 3:
        return None
    regular = (lengths == dominant) & codes.str.contains(r"^\d+$")
    # a few ZIP+4 or foreign codes among thousands of ZIP codes are still ZIP codes
    return int(dominant) if regular.mean() >= 0.9 else None  # type: ignore[operator]


def _nice(x: float) -> float:
    """The smallest of 1, 2, 5 times a power of ten that is >= ``x``."""
    power = 10.0 ** math.floor(math.log10(x))
    for m in (1, 2, 5, 10):
        if m * power >= x * (1 - 1e-12):
            return m * power
    return 10 * power


def default_hierarchy(values: pl.Series) -> Hierarchy:
    """The hierarchy veil uses when none is given for a quasi-identifier.

    Numeric: nested intervals, the narrowest a round width giving about 16
    groups, each next one 4 times wider, then ``*``; but integer codes
    (:func:`is_integer_code`: state, race... codes) are categories, the value
    then ``*``. Dates: month, year, ``*``. Text of digit codes mostly of one
    length (ZIP codes, even with a few ZIP+4 or foreign ones): masked digit by
    digit (:class:`CodeHierarchy`). Text with more than :data:`MAX_CODES`
    distinct values (job titles): frequent values kept, rare ones pooled, at
    two levels (:class:`FrequencyHierarchy`), then ``*``. Anything else
    (text, booleans, categories): the value, then ``*``.
    """
    dtype = values.dtype
    if is_integer_code(values):
        return GroupingHierarchy()
    if dtype.is_numeric():
        distinct = values.drop_nulls().unique()
        if distinct.len() <= 2:
            return GroupingHierarchy()
        lo, hi = float(distinct.min()), float(distinct.max())  # type: ignore[arg-type]
        width = _nice((hi - lo) / 16)
        if dtype.is_integer():
            width = max(2.0, math.ceil(width))  # width 1 would repeat the values
        widths = [width]
        while widths[-1] * 4 < hi - lo:
            widths.append(widths[-1] * 4)
        return IntervalHierarchy(widths)
    if dtype in (pl.Date, pl.Datetime) or isinstance(dtype, pl.Datetime):
        return DateHierarchy(("month", "year"))
    if dtype == pl.String:
        codes = values.drop_nulls().unique()
        length = _is_code_text(codes)
        if length is not None:
            if codes.str.len_chars().n_unique() == 1:
                return MaskingHierarchy()
            return CodeHierarchy(length)
        if len(codes) > MAX_CODES:
            return FrequencyHierarchy()
    return GroupingHierarchy()


def hierarchy_from_spec(spec: str) -> Hierarchy:
    """A hierarchy from a short text, as the command line takes it.

    ``interval:5,10,20`` (:class:`IntervalHierarchy`), ``round:1,0,-1``
    (:class:`RoundingHierarchy`), ``date:month,year`` (:class:`DateHierarchy`),
    ``mask`` or ``mask:1,2,3`` (:class:`MaskingHierarchy`), ``suppress`` (the
    value, then ``*``); anything else is the path of an ARX-format CSV file.
    """
    from veil.anonymize.hierarchies import read_hierarchy

    kind, _, args = spec.partition(":")
    parts = [a.strip() for a in args.split(",") if a.strip()]
    try:
        if kind == "interval":
            return IntervalHierarchy([float(a) for a in parts])
        if kind == "round":
            return RoundingHierarchy([int(a) for a in parts])
        if kind == "date":
            return DateHierarchy(parts or ("month", "year"))
        if kind == "mask":
            return MaskingHierarchy([int(a) for a in parts] or None)
        if kind == "suppress":
            return GroupingHierarchy()
    except ValueError:
        raise ParameterError(
            f"cannot read hierarchy {spec!r}: expected numbers after {kind!r}:, e.g. "
            "interval:5,10,20"
        ) from None
    return read_hierarchy(spec)
