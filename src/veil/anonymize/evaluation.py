"""Evaluating one candidate generalization: its classes, the models, suppression and loss.

A node of the lattice (one level per quasi-identifier) turns the items into
equivalence classes; :class:`ClassStats` holds each class's size and its
sensitive-value counts as flat arrays, so that every privacy model tests all
classes in a few numpy operations. Classes that fail are suppressed (their
rows removed, as ANJANA does); models that compare a class with the whole
table (t-closeness, beta-likeness, delta-disclosure) are then re-tested
against the distribution of the rows that remain, until nothing changes, so
the released table satisfies them exactly as :mod:`veil.anonymity` measures it.

Information loss is the mean normalized certainty penalty of all
quasi-identifier cells (Xu et al. 2006), a suppressed row costing 1 per cell:
the "Loss" metric of ARX (Iyengar 2002), in [0, 1]. The search ranks nodes by
that loss weighted with ARX's generalization/suppression factor
(:func:`gs_weights`); at the default factor 0.5 the two are the same number.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from veil.anonymize.encoding import EncodedTable, dense_codes
from veil.anonymize.models import PrivacyModel

__all__ = [
    "ClassStats",
    "NodeOutcome",
    "SensitiveStats",
    "evaluate_node",
    "gs_weights",
    "node_classes",
]

_DENSE_CELLS = 4_000_000
# Population counts at a node whose class codes the sample renumbered: one bincount
# over the codes' whole range while it is at most this long, else a sort.
_DIRECT_BOUND = 1 << 20
# Bits a population class key and a representative's position may share in one sort.
_PACK_BITS = 62


def _class_starts(cls: np.ndarray) -> np.ndarray:
    """Start index of each run of equal values in a sorted array."""
    if cls.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, cls[1:] != cls[:-1]])


class SensitiveStats:
    """Counts of one sensitive attribute's values per class, as (class, value, count) pairs."""

    def __init__(
        self,
        item_class: np.ndarray,
        n_classes: int,
        codes: np.ndarray,
        n_values: int,
        weight: np.ndarray,
        sizes: np.ndarray,
        numeric: bool,
    ) -> None:
        key = item_class * n_values + codes
        if n_classes * n_values <= max(4 * key.size, 1 << 16):
            counts = np.bincount(key, weights=weight, minlength=n_classes * n_values)
            pairs = np.flatnonzero(counts)
            count = counts[pairs]
        else:
            pairs, inverse = np.unique(key, return_inverse=True)
            count = np.bincount(inverse, weights=weight)
        self.pair_class = pairs // n_values
        self.pair_value = pairs % n_values
        self.pair_count = count
        self.n_classes = n_classes
        self.n_values = n_values
        self.sizes = sizes
        self.numeric = numeric
        self.p = np.zeros(n_values)

    def set_keep(self, keep: np.ndarray) -> None:
        """Recompute the table-wide distribution over the rows of the kept classes."""
        kept = keep[self.pair_class]
        totals = np.bincount(
            self.pair_value[kept], weights=self.pair_count[kept], minlength=self.n_values
        )
        self.p = totals / max(totals.sum(), 1.0)

    def set_distribution(self, p: np.ndarray) -> None:
        """Use a fixed table-wide distribution (Mondrian, which suppresses nothing)."""
        self.p = p

    def distinct(self) -> np.ndarray:
        return np.bincount(self.pair_class, minlength=self.n_classes)

    def _share(self) -> np.ndarray:
        return self.pair_count / self.sizes[self.pair_class]

    def entropy(self) -> np.ndarray:
        q = self._share()
        return -np.bincount(self.pair_class, weights=q * np.log(q), minlength=self.n_classes)

    def top_share(self) -> np.ndarray:
        top = np.zeros(self.n_classes)
        starts = _class_starts(self.pair_class)
        if starts.size:
            top[self.pair_class[starts]] = np.maximum.reduceat(self.pair_count, starts)
        return top / np.maximum(self.sizes, 1)

    def head_and_tail(self, l: int) -> tuple[np.ndarray, np.ndarray]:  # noqa: E741
        """Most frequent count ``r_1`` and the tail ``r_l + ... + r_m`` of each class."""
        order = np.lexsort((-self.pair_count, self.pair_class))
        cls, count = self.pair_class[order], self.pair_count[order]
        starts = _class_starts(cls)
        first_of = np.zeros(self.n_classes, dtype=np.int64)
        first_of[cls[starts]] = starts
        rank = np.arange(cls.size) - first_of[cls]
        head = np.bincount(cls[rank < l - 1], weights=count[rank < l - 1], minlength=self.n_classes)
        first = np.zeros(self.n_classes)
        first[cls[starts]] = count[starts]
        return first, self.sizes - head

    def pair_shares(self) -> tuple[np.ndarray, np.ndarray]:
        """Table share ``p`` and class share ``q`` of each (class, value) pair."""
        p = self.p[self.pair_value]
        with np.errstate(divide="ignore", invalid="ignore"):
            p = np.where(p > 0, p, np.nan)  # values seen only in suppressed classes
        return p, self._share()

    def emd(self) -> np.ndarray:
        """Earth mover's distance of each class to the kept table (pyCANON's t-closeness)."""
        q = self._share()
        present = self.p > 0
        if not self.numeric:
            p = self.p[self.pair_value]
            diff = np.bincount(self.pair_class, weights=np.abs(q - p), minlength=self.n_classes)
            covered = np.bincount(self.pair_class, weights=p, minlength=self.n_classes)
            return 0.5 * (diff + 1.0 - covered)
        m = int(present.sum())
        if m <= 1:
            return np.zeros(self.n_classes)
        rank = np.cumsum(present) - 1
        ok = present[self.pair_value]
        out = np.zeros(self.n_classes)
        block = max(1, _DENSE_CELLS // m)
        p = self.p[present]
        for lo in range(0, self.n_classes, block):
            hi = min(lo + block, self.n_classes)
            sel = ok & (self.pair_class >= lo) & (self.pair_class < hi)
            dense = np.zeros((hi - lo, m))
            dense[self.pair_class[sel] - lo, rank[self.pair_value[sel]]] = q[sel]
            dense -= p
            out[lo:hi] = np.abs(np.cumsum(dense, axis=1)).sum(axis=1) / (m - 1)
        return out


@dataclass
class ClassStats:
    """Sizes and sensitive-value counts of every equivalence class of a candidate.

    ``population`` holds, when the models need one (k-map, delta-presence),
    the number of population records matching each class.
    """

    sizes: np.ndarray
    sensitive: list[SensitiveStats]
    population: np.ndarray | None = None

    @classmethod
    def build(
        cls,
        item_class: np.ndarray,
        n_classes: int,
        weight: np.ndarray,
        sa_codes: Sequence[np.ndarray],
        sa_sizes: Sequence[int],
        sa_numeric: Sequence[bool],
        *,
        with_sensitive: bool = True,
    ) -> ClassStats:
        sizes = np.bincount(item_class, weights=weight, minlength=n_classes)
        sensitive = []
        if with_sensitive:
            sensitive = [
                SensitiveStats(item_class, n_classes, codes, n, weight, sizes, numeric)
                for codes, n, numeric in zip(sa_codes, sa_sizes, sa_numeric, strict=True)
            ]
        return cls(sizes, sensitive)

    def set_keep(self, keep: np.ndarray) -> None:
        for sa in self.sensitive:
            sa.set_keep(keep)


def suppress_failing(
    stats: ClassStats, models: Sequence[PrivacyModel]
) -> tuple[np.ndarray, np.ndarray]:
    """Classes kept after removing those that fail a model, to a fixed point.

    Returns the kept mask, and the mask kept by the monotone models alone
    (whose rejected rows only shrink as the generalization grows: the search
    prunes with it).
    """
    keep = stats.sizes > 0
    for model in models:
        for part in model.monotone_parts():
            keep &= part.passes(stats)
    monotone_keep = keep
    for model in models:
        if not model.monotone and not model.depends_on_kept:
            keep = keep & model.passes(stats)
    others = [m for m in models if not m.monotone and m.depends_on_kept]
    while others:
        stats.set_keep(keep)
        ok = keep.copy()
        for model in others:
            ok &= model.passes(stats)
        if np.array_equal(ok, keep):
            break
        keep = ok
    stats.set_keep(keep)
    return keep, monotone_keep


def gs_weights(gs_factor: float) -> tuple[float, float]:
    """ARX's generalization and suppression factors for a gs-factor in [0, 1].

    A kept cell costs ``g * ncp``; a suppressed cell costs 1 when ``s == 1``,
    else ``ncp + s * (1 - ncp)``, ``ncp`` being what the cell would cost if
    kept. With ``gs_factor`` 0.5 both factors are 1 (the plain Loss metric);
    toward 1 generalization gets cheaper (``g = 1 - 2 (gs - 0.5)``), toward 0
    suppression does (``s = 2 gs``), as in ARX's ``MetricMDNMLoss``.
    """
    suppression = 2.0 * gs_factor if gs_factor < 0.5 else 1.0
    generalization = 1.0 if gs_factor <= 0.5 else 1.0 - 2.0 * (gs_factor - 0.5)
    return generalization, suppression


@dataclass
class NodeOutcome:
    """What one node gives: suppression needed, whether it passes, its loss.

    ``loss`` is the plain Loss metric (what veil reports); ``objective`` is
    the loss weighted by the gs-factor, which the search minimizes. They are
    the same number at the default gs-factor 0.5.
    """

    node: tuple[int, ...]
    suppressed: int
    passes: bool
    monotone_fail: bool
    loss: float
    classes: int
    objective: float


def node_classes(table: EncodedTable, node: Sequence[int]) -> tuple[np.ndarray, int]:
    """Equivalence class of each item at ``node``, and an upper bound on the class count."""
    columns = [table.item_groups(j, h) for j, h in enumerate(node)]
    sizes = [table.group_counts[j][h] for j, h in enumerate(node)]
    return dense_codes(columns, sizes)


def _mixed_key(
    groups: Callable[[int, int], np.ndarray],
    node: tuple[int, ...],
    sizes: list[int],
    at: np.ndarray,
) -> np.ndarray:
    """:func:`dense_codes`'s key before any renumbering, for the items ``at``."""
    key = groups(0, node[0])[at]
    for j in range(1, len(node)):
        key *= sizes[j]
        key += groups(j, node[j])[at]
    return key


def _population_rollup(
    table: EncodedTable, node: tuple[int, ...], sizes: list[int], bound: int
) -> tuple[np.ndarray, np.ndarray]:
    """The population's class keys at ``node`` (sorted) and the records in each.

    Rolled up from the kept node below ``node`` with the fewest classes
    (hierarchies nest, so each of its classes falls in one class here), or
    from the population's items when none is kept. The keys are
    :func:`_mixed_key`'s, below ``bound``.
    """
    reps, weights = table.pop_rollup_from(node)
    key = table.pop_node_key(node, sizes, reps)
    shift = max(int(reps.size).bit_length(), 1)
    if reps.size and bound < 1 << (_PACK_BITS - shift):
        # sort the keys with each one's position in its low bits: a plain sort,
        # several times faster than np.unique's argsort
        key <<= shift
        key |= np.arange(reps.size)
        key.sort()
        order = key & ((1 << shift) - 1)
        key >>= shift
        start = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
        keys = key[start]
        counts = np.add.reduceat(weights[order], start)
        representative = reps[order[start]]  # any member of a class stands for it
    else:
        keys, inverse = np.unique(key, return_inverse=True)  # quicksort: no return_index
        inverse = inverse.reshape(-1)
        counts = np.bincount(inverse, weights=weights, minlength=keys.size)
        representative = np.empty(keys.size, dtype=reps.dtype)
        representative[inverse] = reps
    table.pop_rollup_store(node, representative, counts)
    return keys, counts


def _population_bincount(
    table: EncodedTable, node: tuple[int, ...], sizes: list[int], bound: int
) -> tuple[np.ndarray, np.ndarray]:
    """Population records per mixed-radix class code at ``node`` (codes below ``bound``).

    The codes are :func:`dense_codes`'s key before any renumbering, so they are
    the sample's class codes where it has not renumbered. Rolled up like
    :func:`_population_rollup`, and kept for the nodes above in the same way.
    Returns the codes of the population's classes (increasing) and their records.
    """
    reps, weights = table.pop_rollup_from(node)
    key = table.pop_node_key(node, sizes, reps)
    counts = np.bincount(key, weights=weights, minlength=bound)
    representative = np.empty(bound, dtype=reps.dtype)
    representative[key] = reps  # any member of a class stands for it
    used = np.flatnonzero(counts > 0)  # faster than on the floats
    counts = counts[used]
    table.pop_rollup_store(node, representative[used], counts)
    return used, counts


def population_classes(
    table: EncodedTable, node: Sequence[int]
) -> tuple[np.ndarray, int, np.ndarray]:
    """Classes of the sample's items at ``node`` and population records matching each.

    The sample's classes are those of k-anonymity (numbered differently); the
    population's classes at ``node`` are rolled up from a node evaluated before
    (:func:`_population_bincount`, :func:`_population_rollup`), by far fewer
    than the population's distinct combinations at most nodes. Where the class
    codes' bound is small, as at most nodes, one bincount over the population's
    representatives counts every class; else one item of each sample class finds
    its class's key among the population's.
    """
    assert table.pop_weight is not None and table.item_pop is not None
    node = tuple(int(h) for h in node)
    if table.pop_radix() is None:  # keys would overflow: number the population's classes
        columns = [table.pop_item_groups(j, h) for j, h in enumerate(node)]
        sizes = [table.group_counts[j][h] for j, h in enumerate(node)]
        pop_class, n_pop = dense_codes(columns, sizes)
        counts = np.bincount(pop_class, weights=table.pop_weight, minlength=n_pop)
        return pop_class[table.item_pop], n_pop, counts
    sizes = [table.group_counts[j][h] for j, h in enumerate(node)]
    bound = 1
    for size in sizes:
        bound *= size
    if bound <= max(4 * table.leaf.shape[0], 1 << 16):
        # node_classes would keep the plain mixed-radix key (dense_codes would not
        # renumber): each item's is its population item's, and the population's
        # representatives get the same key, so one bincount counts the records of
        # every class, no sort. The classes are numbered afresh, by the population's
        # classes (a few thousand where the codes' bound may be tens of thousands):
        # the sample's are among them.
        item_key = table.pop_node_key(node, sizes, table.item_pop)
        pop_used, counts = _population_bincount(table, node, sizes, bound)
        code = np.empty(bound, dtype=np.int64)
        code[pop_used] = np.arange(pop_used.size)
        return code[item_key], pop_used.size, counts
    if bound <= _DIRECT_BOUND:
        # the classes numbered by their keys' order; the population's records
        # counted by one bincount over the keys' whole range (no rollup kept)
        class_key, item_class = np.unique(
            table.pop_node_key(node, sizes, table.item_pop), return_inverse=True
        )
        reps, weights = table.pop_rollup_from(node)
        key = table.pop_node_key(node, sizes, reps)
        full = np.bincount(key, weights=weights, minlength=bound)
        return item_class.reshape(-1), class_key.size, full[class_key]
    item_class, n_classes = node_classes(table, node)
    keys, pop_counts = _population_rollup(table, node, sizes, bound)
    # number the sample's classes in use 0, 1, ..., and look each up through one item
    seen = np.zeros(n_classes, dtype=bool)
    seen[item_class] = True
    used = np.flatnonzero(seen)
    code = np.empty(n_classes, dtype=np.int64)
    code[used] = np.arange(used.size)
    first = np.empty(n_classes, dtype=np.int64)
    first[item_class] = np.arange(item_class.size)
    class_key = _mixed_key(table.item_groups, node, sizes, first[used])
    # every class's key is among the population's: the sample is a subset of it
    return code[item_class], used.size, pop_counts[np.searchsorted(keys, class_key)]


def evaluate_node(
    table: EncodedTable,
    node: Sequence[int],
    models: Sequence[PrivacyModel],
    limit: int,
    *,
    gs_factor: float = 0.5,
) -> tuple[NodeOutcome, np.ndarray, np.ndarray]:
    """Evaluate ``node``: classes, suppression to satisfy ``models``, loss.

    ``gs_factor`` weighs generalization against suppression in the
    outcome's ``objective`` (:func:`gs_weights`); ``loss`` is unweighted.
    Returns the outcome, the class of each item and the kept-class mask.
    """
    node = tuple(int(h) for h in node)
    population = None
    if table.has_population:
        item_class, n_classes, population = population_classes(table, node)
    else:
        item_class, n_classes = node_classes(table, node)
    needs_sa = any(m.needs_sensitive for m in models)
    stats = ClassStats.build(
        item_class,
        n_classes,
        table.weight,
        table.sa_codes,
        [len(v) for v in table.sa_values],
        table.sa_numeric,
        with_sensitive=needs_sa,
    )
    stats.population = population
    keep, monotone_keep = suppress_failing(stats, models)
    n = table.n_rows
    mono_suppressed = n - int(stats.sizes[monotone_keep].sum())
    kept_rows = int(stats.sizes[keep].sum())
    suppressed = n - kept_rows
    m = len(table.quasi)
    total = sum(float(table.level_ncp[j][h]) for j, h in enumerate(node))
    generalized = total  # NCP of every cell, suppressed rows' cells as if kept
    lost = 0.0  # NCP the suppressed rows' cells would have had
    if suppressed:
        gone = ~keep[item_class]
        ncp = table.item_weighted_ncp(0, node[0]).copy()
        for j in range(1, m):
            ncp += table.item_weighted_ncp(j, node[j])
        # a plain sum: np.dot would go through BLAS threads, slow on small arrays
        lost = float(ncp[gone].sum())
        total -= lost
        total += suppressed * m
    loss = total / (n * m) if n and m else 0.0
    g, s = gs_weights(gs_factor)
    if g == 1.0 and s == 1.0:
        objective = loss
    else:
        # kept cells: g * ncp; suppressed cells: 1 each when s == 1, else ncp + s (1 - ncp)
        weighted = g * (generalized - lost)
        weighted += suppressed * m if s == 1.0 else lost + s * (suppressed * m - lost)
        objective = weighted / (n * m) if n and m else 0.0
    outcome = NodeOutcome(
        node=node,
        suppressed=suppressed,
        passes=suppressed <= limit and kept_rows > 0,
        monotone_fail=mono_suppressed > limit,
        loss=loss,
        classes=int((stats.sizes[keep] > 0).sum()),
        objective=objective,
    )
    return outcome, item_class, keep
