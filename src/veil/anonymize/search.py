"""Optimal global recoding: the best node of the generalization lattice.

A node assigns one hierarchy level to each quasi-identifier; node ``a`` is
below ``b`` when every level of ``a`` is at most that of ``b`` (Samarati 2001).
The search finds the node that satisfies the privacy models with at most the
allowed number of suppressed rows and the least information loss, as OLA
(El Emam et al. 2009) and Flash (Kohlmayer et al. 2012) do, with two prunings:

* **monotonicity**: when the monotone models (k-anonymity, distinct
  l-diversity) reject more rows than allowed at a node, they do so at every
  node below it, which is then never evaluated;
* **a loss bound**: a node's loss is at least the loss of generalizing every
  row without suppressing any, a sum of per-level constants that grows up
  the lattice. Nodes are visited in increasing order of that bound, and the
  search stops as soon as the bound exceeds the best loss found.

The loss minimized is ARX's Loss weighted by its generalization/suppression
factor ``gs_factor`` (:func:`~veil.anonymize.evaluation.gs_weights`). The
bound then becomes ``g`` times the generalization loss of every row, still
a lower bound: a suppressed cell costs at least its NCP, itself at least
``g`` times its NCP. At ``gs_factor=1`` (``g = 0``) the bound is 0 and only
monotonicity prunes.

Both prunings are exact, so the result equals exhaustive search
(:func:`exhaustive_generalization`, used by the tests), ties broken by fewer
suppressed rows, then lower height, then the levels themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from veil.anonymize.encoding import EncodedTable
from veil.anonymize.evaluation import NodeOutcome, evaluate_node, gs_weights
from veil.anonymize.models import PrivacyModel
from veil.errors import ParameterError

__all__ = [
    "MAX_LATTICE",
    "SearchResult",
    "exhaustive_generalization",
    "lattice_nodes",
    "optimal_generalization",
]

MAX_LATTICE = 5_000_000


@dataclass
class SearchResult:
    """The chosen node (``None`` when none qualifies) and how the search went."""

    best: NodeOutcome | None
    closest: NodeOutcome | None
    checked: int
    lattice_size: int


def _rank(outcome: NodeOutcome) -> tuple[float, int, int, tuple[int, ...]]:
    return (round(outcome.objective, 12), outcome.suppressed, sum(outcome.node), outcome.node)


def _closeness(outcome: NodeOutcome) -> tuple[int, float]:
    return (outcome.suppressed, outcome.loss)


def lattice_nodes(heights: Sequence[int]) -> np.ndarray:
    """Every node of the lattice as rows of levels, shape (nodes, quasi-identifiers)."""
    size = int(np.prod(heights, dtype=np.float64))
    if size > MAX_LATTICE:
        raise ParameterError(
            f"the generalization lattice has {size:,} nodes (levels per quasi-identifier: "
            f"{list(heights)}); optimal search handles up to {MAX_LATTICE:,}. Use fewer "
            "levels, fewer quasi-identifiers, or method='mondrian'"
        )
    grids = np.indices(tuple(heights)).reshape(len(heights), -1).T
    return np.ascontiguousarray(grids, dtype=np.int64)


def _lower_bounds(table: EncodedTable, nodes: np.ndarray) -> np.ndarray:
    m = len(table.quasi)
    bound = np.zeros(nodes.shape[0])
    for j in range(m):
        bound += table.level_ncp[j][nodes[:, j]]
    return bound / max(table.n_rows * m, 1)


def _chain(node: np.ndarray, heights: Sequence[int]) -> list[tuple[int, ...]]:
    """A path from ``node`` up to the top, raising the quasi-identifiers in turn."""
    current = [int(h) for h in node]
    path = [tuple(current)]
    tops = [h - 1 for h in heights]
    while current != tops:
        for j, top in enumerate(tops):
            if current[j] < top:
                current[j] += 1
                path.append(tuple(current))
    return path


def optimal_generalization(
    table: EncodedTable,
    models: Sequence[PrivacyModel],
    limit: int,
    *,
    gs_factor: float = 0.5,
) -> SearchResult:
    """Find the least-loss node satisfying ``models`` with at most ``limit`` rows suppressed.

    Nodes are taken in increasing order of their loss bound. Before one is
    evaluated, the path from it to the top of the lattice is binary-searched
    for the highest node the monotone models reject (Flash's idea,
    Kohlmayer et al. 2012): that node's whole down-set, usually the node
    itself and many after it, is then pruned at the cost of a few evaluations.

    Parameters
    ----------
    table
        The encoded table (:func:`~veil.anonymize.encoding.encode_table`).
    models
        Privacy models every kept class must satisfy.
    limit
        Maximum number of suppressed rows.
    gs_factor
        ARX's generalization/suppression factor in [0, 1] (checked by the
        caller): 0.5 weighs both equally, toward 1 favours generalization,
        toward 0 suppression. Nodes are ranked by the weighted loss
        (``NodeOutcome.objective``); ``NodeOutcome.loss`` stays unweighted.
    """
    heights = table.heights
    nodes = lattice_nodes(heights)
    table.reset_rollups()
    bound = _lower_bounds(table, nodes)
    # Visit in order of the unweighted bound (the better order when g = 0); g * bound
    # is then non-decreasing too, so stopping at the first one too large is exact.
    order = np.lexsort((*nodes.T[::-1], nodes.sum(axis=1), bound))
    g, _ = gs_weights(gs_factor)
    stop = bound if g == 1.0 else g * bound
    pruned = np.zeros(nodes.shape[0], dtype=bool)
    seen: dict[int, NodeOutcome] = {}
    state: dict[str, NodeOutcome | None] = {"best": None, "closest": None}

    def check(node: tuple[int, ...]) -> NodeOutcome:
        index = int(np.ravel_multi_index(node, heights))
        if index in seen:
            return seen[index]
        outcome, _, _ = evaluate_node(table, node, models, limit, gs_factor=gs_factor)
        seen[index] = outcome
        best, closest = state["best"], state["closest"]
        if outcome.passes:
            if best is None or _rank(outcome) < _rank(best):
                state["best"] = outcome
        else:
            if closest is None or _closeness(outcome) < _closeness(closest):
                state["closest"] = outcome
            if outcome.monotone_fail:
                pruned[np.all(nodes <= nodes[index], axis=1)] = True
        return outcome

    # Without a monotone model nothing can be pruned, and probing would only add work.
    probing = any(model.monotone_parts() for model in models)
    for index in order:
        best = state["best"]
        if best is not None and stop[index] > best.objective + 1e-12:
            break
        if pruned[index] or int(index) in seen:
            continue
        path = _chain(nodes[index], heights) if probing else []
        lo, hi = 0, len(path) - 1
        while lo <= hi:  # the highest node on the path that the monotone models reject
            mid = (lo + hi) // 2
            if check(path[mid]).monotone_fail:
                lo = mid + 1
            else:
                hi = mid - 1
        if not pruned[index]:
            check(tuple(int(h) for h in nodes[index]))
    return SearchResult(state["best"], state["closest"], len(seen), nodes.shape[0])


def exhaustive_generalization(
    table: EncodedTable,
    models: Sequence[PrivacyModel],
    limit: int,
    *,
    gs_factor: float = 0.5,
) -> SearchResult:
    """Evaluate every node; the reference the pruned search is tested against."""
    nodes = lattice_nodes(table.heights)
    table.reset_rollups()
    best: NodeOutcome | None = None
    closest: NodeOutcome | None = None
    for node in nodes:
        outcome, _, _ = evaluate_node(table, node, models, limit, gs_factor=gs_factor)
        if outcome.passes:
            if best is None or _rank(outcome) < _rank(best):
                best = outcome
        elif closest is None or _closeness(outcome) < _closeness(closest):
            closest = outcome
    return SearchResult(best, closest, nodes.shape[0], nodes.shape[0])
