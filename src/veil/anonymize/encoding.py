"""The table as the search sees it: integer codes per level, distinct combinations, NCP weights.

Global recoding never needs the rows themselves: two rows with the same
quasi-identifier values and the same sensitive values stay together at every
node of the lattice. The search therefore runs on the *items*, the distinct
(quasi-identifiers, sensitive attributes) combinations with their row counts
(Kohlmayer et al. 2012 evaluate nodes on such a compressed table too), and each
hierarchy becomes integer arrays: for every level, leaf code -> group code.

The normalized certainty penalty of a value generalized to a group
(Xu et al. 2006) is computed here once per leaf and level: for a numeric or
date column, the range of the group's values over the column's range; for any
other column, (values in the group - 1) / (values in the column - 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from veil.anonymize.builders import default_hierarchy
from veil.anonymize.hierarchies import Hierarchy, as_hierarchy, level_names, validate_table
from veil.errors import ColumnError

__all__ = ["EncodedTable", "QuasiEncoding", "dense_codes", "encode_table"]

# Per-level item arrays are cached while they hold at most this many cells.
_CACHE_CELLS = 20_000_000
# Population classes kept for rolling up (k-map, delta-presence): at most this many.
_ROLLUP_CELLS = 4_000_000
# Population items' keys over half the quasi-identifiers are cached while they hold at
# most this many cells in all.
_BLOCK_CELLS = 4_000_000
_NONE = np.iinfo(np.int64).max  # a rollup's class count when it is not below the node


@dataclass
class QuasiEncoding:
    """One quasi-identifier's hierarchy as arrays over its leaf codes.

    Attributes
    ----------
    name
        The column.
    hierarchy
        The materialised hierarchy: ``value``, ``level_1 .. level_H``; row ``i``
        is leaf code ``i``.
    maps
        ``maps[h][leaf]``: the group code of a leaf at level ``h`` (level 0 is the identity).
    labels
        ``labels[h]``: the label of each group code at level ``h`` (a polars Series).
    ncp
        ``ncp[h][leaf]``: normalized certainty penalty of the leaf at level ``h``.
    numeric
        Whether the column is numeric or temporal (range-based NCP).
    """

    name: str
    hierarchy: pl.DataFrame
    maps: list[np.ndarray]
    labels: list[pl.Series]
    ncp: list[np.ndarray]
    numeric: bool

    @property
    def height(self) -> int:
        """Number of levels, the raw value included."""
        return len(self.maps)

    @property
    def groups(self) -> list[int]:
        """Number of groups at each level."""
        return [len(lab) for lab in self.labels]


class PopulationRollups:
    """Population classes of evaluated nodes (a representative item and a count each).

    What k-map and delta-presence roll the next nodes' classes up from. At
    most :data:`_ROLLUP_CELLS` representatives are kept; past that all are
    dropped and the keeping starts again.
    """

    def __init__(self, width: int) -> None:
        self.nodes = np.zeros((64, width), dtype=np.int64)
        self.sizes = np.zeros(64, dtype=np.int64)
        self.data: list[tuple[np.ndarray, np.ndarray]] = []
        self.cells = 0

    def below(self, node: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The kept node at or below ``node`` with the fewest classes, if any."""
        count = len(self.data)
        if not count:
            return None
        sizes = np.where((self.nodes[:count] <= node).all(axis=1), self.sizes[:count], _NONE)
        best = int(sizes.argmin())
        return None if sizes[best] == _NONE else self.data[best]

    def add(self, node: Sequence[int], reps: np.ndarray, counts: np.ndarray) -> None:
        if self.cells + reps.size > _ROLLUP_CELLS:
            self.data, self.cells = [], 0
        count = len(self.data)
        if count == self.nodes.shape[0]:
            self.nodes = np.concatenate([self.nodes, np.zeros_like(self.nodes)])
            self.sizes = np.concatenate([self.sizes, np.zeros_like(self.sizes)])
        self.nodes[count] = node
        self.sizes[count] = reps.size
        self.data.append((reps, counts))
        self.cells += reps.size


@dataclass
class EncodedTable:
    """Rows reduced to distinct items, with codes for the quasi-identifiers and sensitive values."""

    quasi: list[QuasiEncoding]
    sensitive: list[str]
    row_leaf: np.ndarray  # (rows, m) leaf code of each row per quasi-identifier
    row_item: np.ndarray  # (rows,) item of each row
    leaf: np.ndarray  # (items, m) leaf codes of each item
    weight: np.ndarray  # (items,) rows per item
    sa_codes: list[np.ndarray]  # per sensitive attribute, (items,) value code
    sa_values: list[pl.Series]  # per sensitive attribute, value of each code (sorted)
    sa_numeric: list[bool]
    level_ncp: list[np.ndarray]  # per quasi-identifier, (levels,) summed NCP of all rows
    # With a population (k-map, delta-presence): its rows' leaf codes, its distinct
    # leaf combinations with their record counts, and the combination of each item.
    pop_row_leaf: np.ndarray | None = None  # (population rows, m)
    pop_leaf: np.ndarray | None = None  # (population items, m)
    pop_weight: np.ndarray | None = None  # (population items,)
    item_pop: np.ndarray | None = None  # (items,) population item of each item

    def __post_init__(self) -> None:
        self._groups: dict[tuple[int, int], np.ndarray] = {}
        self._wncp: dict[tuple[int, int], np.ndarray] = {}
        cells = self.leaf.shape[0] * sum(q.height for q in self.quasi)
        self._cache = cells <= _CACHE_CELLS
        self.group_counts = [q.groups for q in self.quasi]
        self._pop_groups: dict[tuple[int, int], np.ndarray] = {}
        self._pop_blocks: dict[tuple[int, ...], np.ndarray] = {}
        self._pop_block_cells = 0
        self._pop_items: tuple[np.ndarray, np.ndarray] | None = None
        self.reset_rollups()

    def pop_item_groups(self, j: int, h: int) -> np.ndarray:
        """Group code at level ``h`` of quasi-identifier ``j`` for every population item."""
        assert self.pop_leaf is not None
        got = self._pop_groups.get((j, h))
        if got is None:
            got = self.quasi[j].maps[h][self.pop_leaf[:, j]]
            if self._cache:
                self._pop_groups[j, h] = got
        return got

    def pop_radix(self) -> list[int] | None:
        """Multipliers giving each population item one int64 key per node, or ``None``.

        ``None`` when the leaves' product reaches 2**62: a node's mixed-radix key
        (:meth:`pop_node_key`, bounded by that product) might not fit an int64.
        """
        if not hasattr(self, "_radix"):
            leaves = [q.groups[0] for q in self.quasi]
            total = 1
            for n in leaves:
                total *= n
            self._radix = None
            if total < 1 << 62:
                self._radix = [
                    int(np.prod(leaves[j + 1 :], dtype=object)) for j in range(len(leaves))
                ]
        return self._radix

    def pop_node_key(self, node: Sequence[int], sizes: Sequence[int], at: np.ndarray) -> np.ndarray:
        """The mixed-radix key at ``node`` of the population items ``at``.

        The key is :func:`dense_codes`'s before any renumbering (``sizes`` are the
        node's group counts, their product below 2**62). It is the first half of
        the quasi-identifiers' key times the second half's bound plus the second
        half's key, each half's key cached over all population items per levels:
        two gathers instead of one per quasi-identifier.
        """
        m = len(node)
        half = m // 2
        # all the population's items (no rollup below): the blocks as they are
        whole = self._pop_items is not None and at is self._pop_items[0]
        if half == 0:
            block = self._pop_block(node, sizes, 0, m)
            return (block if whole else block[at]).astype(np.int64)
        block = self._pop_block(node, sizes, 0, half)
        key = (block if whole else block[at]).astype(np.int64)
        scale = 1
        for size in sizes[half:]:
            scale *= size
        key *= scale
        block = self._pop_block(node, sizes, half, m)
        key += block if whole else block[at]
        return key

    def _pop_block(self, node: Sequence[int], sizes: Sequence[int], lo: int, hi: int) -> np.ndarray:
        """Mixed-radix key of columns ``lo:hi`` at ``node`` for every population item.

        In the narrowest integer type that holds it: the search gathers from
        these at random, and the smaller they are the more of them stay in cache.
        """
        name = (lo, *node[lo:hi])
        got = self._pop_blocks.get(name)
        if got is None:
            got = self.pop_item_groups(lo, node[lo]).copy()
            bound = sizes[lo]
            for j in range(lo + 1, hi):
                got *= sizes[j]
                got += self.pop_item_groups(j, node[j])
                bound *= sizes[j]
            for dtype in (np.int16, np.int32):
                if bound <= np.iinfo(dtype).max:
                    got = got.astype(dtype)
                    break
            if self._pop_block_cells + got.size <= _BLOCK_CELLS:
                self._pop_blocks[name] = got
                self._pop_block_cells += got.size
        return got

    def pop_rollup_from(self, node: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Population classes of the kept node below ``node`` with the fewest classes.

        Returns one representative population item per class and the class's
        record count; the population's own items when no such node is kept.
        """
        assert self.pop_weight is not None
        kept = self._rollups.below(np.asarray(node, dtype=np.int64))
        if kept is None:
            if self._pop_items is None:  # made once: read-only, like every kept rollup
                items = np.arange(self.pop_weight.shape[0])
                weights = self.pop_weight.astype(np.float64)
                items.flags.writeable = weights.flags.writeable = False
                self._pop_items = (items, weights)
            return self._pop_items
        return kept

    def reset_rollups(self) -> None:
        """Forget the kept population classes (each search starts afresh)."""
        self._rollups = PopulationRollups(len(self.quasi))

    def pop_rollup_store(self, node: Sequence[int], reps: np.ndarray, counts: np.ndarray) -> None:
        """Keep a node's population classes for the nodes above it (bounded memory)."""
        self._rollups.add(node, reps, counts)

    @property
    def has_population(self) -> bool:
        return self.pop_leaf is not None

    def item_groups(self, j: int, h: int) -> np.ndarray:
        """Group code at level ``h`` of quasi-identifier ``j`` for every item (cached)."""
        got = self._groups.get((j, h))
        if got is None:
            got = self.quasi[j].maps[h][self.leaf[:, j]]
            if self._cache:
                self._groups[j, h] = got
        return got

    def item_weighted_ncp(self, j: int, h: int) -> np.ndarray:
        """Rows times NCP at level ``h`` of quasi-identifier ``j`` for every item (cached)."""
        got = self._wncp.get((j, h))
        if got is None:
            got = self.weight * self.quasi[j].ncp[h][self.leaf[:, j]]
            if self._cache:
                self._wncp[j, h] = got
        return got

    @property
    def n_rows(self) -> int:
        return int(self.row_item.shape[0])

    @property
    def heights(self) -> list[int]:
        return [q.height for q in self.quasi]


def dense_codes(columns: Sequence[np.ndarray], sizes: Sequence[int]) -> tuple[np.ndarray, int]:
    """Combine integer code columns into one code per row, dense when cheap.

    A mixed-radix key is built column by column and re-densified (np.unique)
    whenever it would pass 2**40, so it never overflows. Returns the codes and
    their upper bound (codes lie in ``[0, bound)``; some may be unused).
    """
    key = np.zeros(columns[0].shape[0] if columns else 0, dtype=np.int64)
    bound = 1
    for col, size in zip(columns, sizes, strict=True):
        if bound * size >= 1 << 40:
            uniq, key = np.unique(key, return_inverse=True)
            bound = len(uniq)
        key = key * size + col
        bound *= size
    if bound > max(4 * key.shape[0], 1 << 16):
        uniq, key = np.unique(key, return_inverse=True)
        bound = len(uniq)
    return key, bound


def _leaf_ncp(table: pl.DataFrame, maps: list[np.ndarray], numeric: bool) -> list[np.ndarray]:
    n = table.height
    ncps = []
    if numeric:
        x = table["value"].to_physical().cast(pl.Float64).to_numpy()
        valid = ~np.isnan(x)
        span = float(np.nanmax(x) - np.nanmin(x)) if valid.any() else 0.0
    for codes in maps:
        groups = int(codes.max()) + 1 if n else 0
        if numeric and span > 0:
            hi = np.full(groups, -np.inf)
            lo = np.full(groups, np.inf)
            np.maximum.at(hi, codes[valid], x[valid])
            np.minimum.at(lo, codes[valid], x[valid])
            width = np.where(np.isfinite(hi), hi - lo, 0.0) / span
            # A group holding a missing value with others is as vague as the whole column.
            mixed = np.bincount(codes, minlength=groups) > np.bincount(
                codes[valid], minlength=groups
            )
            mixed &= np.bincount(codes[valid], minlength=groups) > 0
            width = np.where(mixed, 1.0, width)
        else:
            size = np.bincount(codes, minlength=groups)
            width = (size - 1) / (n - 1) if n > 1 else np.zeros(groups)
        ncps.append(np.asarray(width, dtype=np.float64)[codes])
    return ncps


def _encode_quasi(
    name: str, values: pl.Series, spec: Hierarchy, loss_metric: str = "ncp"
) -> QuasiEncoding:
    table = spec.table(values)
    validate_table(table, name)
    table = table.sort("value", nulls_last=True)
    maps = [np.arange(table.height, dtype=np.int64)]
    labels = [table["value"]]
    for level in level_names(table.width - 1):
        col = table[level]
        distinct = col.unique(maintain_order=True)
        maps.append(_codes_of(col, distinct))
        labels.append(distinct)
    numeric = values.dtype.is_numeric() or values.dtype.is_temporal()
    # ARX's Loss counts the distinct values a group covers, whatever the type.
    ncp = _leaf_ncp(table, maps, numeric and loss_metric == "ncp")
    return QuasiEncoding(name, table, maps, labels, ncp, numeric)


def encode_table(
    frame: pl.DataFrame,
    quasi: Sequence[str],
    sensitive: Sequence[str],
    hierarchies: Mapping[str, Any] | None,
    *,
    population: pl.DataFrame | None = None,
    loss_metric: str = "ncp",
) -> EncodedTable:
    """Encode the quasi-identifiers through their hierarchies and reduce rows to items.

    Parameters
    ----------
    frame
        The table (polars).
    quasi, sensitive
        Column names.
    hierarchies
        Column -> hierarchy (anything :func:`as_hierarchy` accepts); a
        quasi-identifier without one gets :func:`default_hierarchy`.
    population
        The population the table is a sample of (k-map, delta-presence), with
        the quasi-identifier columns: hierarchies are built over its values (the
        domain is the population's, as in ARX) and its records are encoded too.
    loss_metric
        ``"ncp"``: a numeric or date group costs the share of the column's range
        it spans; ``"arx"``: every group costs the share of the distinct values
        it covers, as ARX's Loss does (:mod:`veil.anonymize.utility`).
    """
    hierarchies = dict(hierarchies or {})
    unknown = [c for c in hierarchies if c not in quasi]
    if unknown:
        raise ColumnError(
            f"a hierarchy is given for {unknown[0]!r}, which is not a quasi-identifier; "
            f"quasi-identifiers are: {', '.join(quasi)}"
        )
    encodings: list[QuasiEncoding] = []
    row_leaf = np.empty((frame.height, len(quasi)), dtype=np.int64)
    pop_row_leaf = None
    if population is not None:
        pop_row_leaf = np.empty((population.height, len(quasi)), dtype=np.int64)
    for j, name in enumerate(quasi):
        values = frame[name]
        domain = values
        if population is not None:
            pop_values = _same_dtype(population[name], values)
            domain = pl.concat([values, pop_values])
        spec = hierarchies.get(name)
        hier = as_hierarchy(spec, name) if spec is not None else default_hierarchy(domain)
        enc = _encode_quasi(name, domain, hier, loss_metric)
        encodings.append(enc)
        row_leaf[:, j] = _codes_of(values, enc.hierarchy["value"])
        if pop_row_leaf is not None:
            pop_row_leaf[:, j] = _codes_of(pop_values, enc.hierarchy["value"])
    sa_codes_rows, sa_values, sa_numeric = [], [], []
    for name in sensitive:
        values = frame[name]
        distinct = values.unique().sort(nulls_last=True)
        sa_codes_rows.append(_codes_of(values, distinct))
        sa_values.append(distinct)
        sa_numeric.append(values.dtype.is_numeric())
    sizes = [e.hierarchy.height for e in encodings] + [len(v) for v in sa_values]
    key, _ = dense_codes([*row_leaf.T, *sa_codes_rows], sizes)
    _, first, row_item, weight = np.unique(
        key, return_index=True, return_inverse=True, return_counts=True
    )
    leaf = row_leaf[first]
    level_ncp = [
        np.array([float((weight * ncp[leaf[:, j]]).sum()) for ncp in enc.ncp])
        for j, enc in enumerate(encodings)
    ]
    pop = {}
    if pop_row_leaf is not None:
        pop = _encode_population(encodings, row_leaf[first], weight, pop_row_leaf)
    return EncodedTable(
        **pop,
        quasi=encodings,
        sensitive=list(sensitive),
        row_leaf=row_leaf,
        row_item=row_item.astype(np.int64),
        leaf=leaf,
        weight=weight.astype(np.int64),
        sa_codes=[c[first] for c in sa_codes_rows],
        sa_values=sa_values,
        sa_numeric=sa_numeric,
        level_ncp=level_ncp,
    )


def _same_dtype(values: pl.Series, like: pl.Series) -> pl.Series:
    """The population's column in the sample's dtype (a CSV may read them differently)."""
    from veil.errors import DataError

    if values.dtype == like.dtype:
        return values
    cast = values.cast(pl.String).cast(like.dtype, strict=False)
    bad = values.filter(cast.is_null() & values.is_not_null())
    if bad.len():
        raise DataError(
            f"population value {bad[0]!r} of {values.name!r} cannot be read as {like.dtype} like "
            "the sample's column; give both tables the same column types"
        )
    return cast


def _encode_population(
    encodings: list[QuasiEncoding],
    item_leaf: np.ndarray,
    item_weight: np.ndarray,
    pop_row_leaf: np.ndarray,
) -> dict[str, np.ndarray]:
    """Population items, and each sample item's population item (the sample is a subset).

    Raises
    ------
    DataError
        Some combination of quasi-identifier values has more rows in the
        sample than in the population: the table is not a sample of it.
    """
    from veil.errors import DataError

    sizes = [e.hierarchy.height for e in encodings]
    n_items = item_leaf.shape[0]
    both = np.concatenate([item_leaf, pop_row_leaf])
    key, _ = dense_codes(list(both.T), sizes)
    item_key, pop_key = key[:n_items], key[n_items:]
    pop_values, first, pop_weight = np.unique(pop_key, return_index=True, return_counts=True)
    pos = np.minimum(np.searchsorted(pop_values, item_key), max(pop_values.size - 1, 0))
    found = pop_values[pos] == item_key if pop_values.size else np.zeros(n_items, dtype=bool)
    # rows of the sample per population item (several items share one: sensitive values)
    in_sample = np.bincount(pos[found], weights=item_weight[found], minlength=pop_values.size)
    short = int(item_weight[~found].sum()) + int(np.clip(in_sample - pop_weight, 0, None).sum())
    if short:
        raise DataError(
            f"the table to anonymize is not a sample of the population: {short:,} of its rows "
            "have quasi-identifier values the population lacks (or holds fewer times); give "
            "the population the sample was drawn from, which contains every sample row"
        )
    return {
        "pop_row_leaf": pop_row_leaf,
        "pop_leaf": pop_row_leaf[first],
        "pop_weight": pop_weight.astype(np.int64),
        "item_pop": pos.astype(np.int64),
    }


def _codes_of(values: pl.Series, distinct: pl.Series) -> np.ndarray:
    """Position of each value in ``distinct`` (sorted, nulls last), as int64."""
    lookup = pl.DataFrame({"v": distinct, "code": np.arange(len(distinct), dtype=np.int64)})
    joined = pl.DataFrame({"v": values}).join(
        lookup, on="v", how="left", nulls_equal=True, maintain_order="left"
    )
    return joined["code"].to_numpy()
