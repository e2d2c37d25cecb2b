"""SafePub: anonymization with an (epsilon, delta)-differential-privacy guarantee.

Bild, Kuhn and Prasser 2018, "SafePub: A Truthful Data Anonymization
Algorithm With Strong Privacy Guarantees" (PoPETs 2018(1)), as ARX
implements it, in three steps:

1. **Random sampling**: each row is kept independently with probability
   ``beta = 1 - exp(-epsilon_anon)`` (exact Bernoulli draws from the
   operating system's secure source, :func:`veil.randomness.bernoulli`).
2. **Generalization and suppression**: the sample is generalized with one
   level per quasi-identifier, and every class with fewer than ``k`` sampled
   rows is suppressed. Li, Qardaji and Su 2012 show that this (k, beta)
   "safe k-anonymization" is (epsilon_anon, delta)-DP when the generalization
   does not depend on the data, for the smallest ``k`` with
   ``d(k) = max_{n >= n_m} sum_{j > gamma n} Binomial(n, beta)(j) <= delta``,
   ``gamma = (e^epsilon_anon - 1 + beta) / e^epsilon_anon``,
   ``n_m = ceil(k / gamma - 1)`` (:func:`safepub_parameters`).
3. **A private search** for the generalization: starting at the top of the
   lattice, ``steps`` times, the children of the current pivot join the
   candidates and the next pivot is drawn from them with the exponential
   mechanism (:class:`veil.dp.mechanisms.ExponentialMechanism`, OpenDP's exact
   sampler), each draw spending ``epsilon_search / (steps + 1)``; a last draw
   among the pivots picks the release. The score is ARX's Loss score:
   minus the mean over quasi-identifiers of, per row, the share of the
   hierarchy's values its generalized value covers (a suppressed or
   unsampled row costs 1), whose sensitivity is ``max(1, k - 1)``
   (SafePub, section 5).

The whole is (epsilon_anon + epsilon_search, delta)-DP by composition, with
``epsilon = epsilon_anon + epsilon_search`` the caller's budget, charged to
the ledger before any random draw.

Differences from ARX, both on the safe side: ARX's search returns the pivot
with the best *exact* score, a choice its code makes outside the exponential
mechanism; veil makes that choice with one more exponential-mechanism draw
out of the same search budget. ARX's ``k`` loop returns one more than the
smallest ``k`` meeting delta; veil returns the smallest (a larger ``k`` is
also valid: it only suppresses more).

Because the hierarchies must not depend on the data, SafePub takes an
explicit hierarchy (an ARX-format file, rows or a frame) for every
quasi-identifier; shares are counted over all of the hierarchy's rows.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import polars as pl

from veil.anonymize.encoding import EncodedTable, encode_table
from veil.anonymize.evaluation import node_classes
from veil.anonymize.hierarchies import TableHierarchy, as_hierarchy, level_names
from veil.errors import ParameterError
from veil.io import to_polars
from veil.ledger import as_ledger
from veil.privacy import PrivacyLoss
from veil.randomness import bernoulli
from veil.report import Document, Paragraph, Result, Section, Table
from veil.roles import Roles, as_column_list

__all__ = [
    "MAX_EPSILON_ANON",
    "SafePub",
    "SafePubParameters",
    "SafePubResult",
    "safepub_parameters",
]

# Largest epsilon for the sampling and suppression step: k is already 1,031 at 5.
MAX_EPSILON_ANON = 5.0


@dataclass(frozen=True)
class SafePubParameters:
    """The budget split and the derived sampling probability and class size."""

    epsilon: float
    delta: float
    epsilon_anon: float
    epsilon_search: float
    beta: float
    k: int
    steps: int

    @property
    def epsilon_per_selection(self) -> float:
        """Epsilon of each exponential-mechanism draw: ``steps`` walks and one final pick."""
        return self.epsilon_search / (self.steps + 1)


@lru_cache(maxsize=128)
def _delta_of_k(k: int, epsilon: float, beta: float) -> float:
    """d(k): the largest probability that ``k`` sampled rows out of ``n`` exceed ``gamma n``."""
    from scipy import stats

    gamma = (math.exp(epsilon) - 1 + beta) / math.exp(epsilon)
    first = max(1, math.ceil(k / gamma - 1))
    # a_n is bounded by c_n = exp(-n (gamma ln(gamma / beta) - (gamma - beta))), which
    # decreases in n: once the largest a_n seen reaches c_n no later a_n can exceed it.
    rate = gamma * math.log(gamma / beta) - (gamma - beta)
    worst, block = 0.0, 256
    while True:
        n = np.arange(first, first + block)
        tails = stats.binom.sf(np.floor(n * gamma), n, beta)  # P(X >= floor(n gamma) + 1)
        running = np.maximum.accumulate(np.maximum(tails, worst))
        done = np.flatnonzero(running >= np.exp(-n * rate))
        if done.size:
            return float(running[done[0]])
        worst = float(running[-1])
        first += block
        block = min(block * 2, 1 << 16)


def safepub_parameters(
    epsilon: float, delta: float, *, search_share: float = 0.1, steps: int = 100
) -> SafePubParameters:
    """Split the budget and derive ``beta`` and ``k`` (Li, Qardaji and Su 2012; SafePub).

    ``epsilon_search = search_share * epsilon``, ``epsilon_anon = epsilon -
    epsilon_search``, ``beta = 1 - exp(-epsilon_anon)`` and ``k`` the smallest
    integer with ``d(k) <= delta`` (module docstring).

    Raises
    ------
    ParameterError
        epsilon <= 0, delta outside (0, 1), search_share outside (0, 1), steps < 1,
        or an ``epsilon_anon`` above :data:`MAX_EPSILON_ANON`.
    """
    try:
        eps, dlt, share = float(epsilon), float(delta), float(search_share)
    except (TypeError, ValueError):
        raise ParameterError(
            f"epsilon, delta and search_share must be numbers; got {epsilon!r}, {delta!r}, "
            f"{search_share!r}"
        ) from None
    if not (eps > 0 and math.isfinite(eps)):
        raise ParameterError(f"epsilon must be a finite number > 0; got {epsilon!r}")
    if not 0 < dlt < 1:
        raise ParameterError(
            f"delta must be in (0, 1), typically below 1 / rows (e.g. 1e-6); got {delta!r}"
        )
    if not 0 < share < 1:
        raise ParameterError(
            f"search_share is the share of epsilon spent on the search, in (0, 1); got "
            f"{search_share!r}"
        )
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ParameterError(f"steps must be an integer >= 1; got {steps!r}")
    eps_search = share * eps
    eps_anon = eps - eps_search
    if eps_anon > MAX_EPSILON_ANON:
        raise ParameterError(
            f"SafePub with epsilon_anon={eps_anon:g} (epsilon {eps:g} minus the search's share) "
            f"is refused: above {MAX_EPSILON_ANON:g} the class size k grows past a thousand "
            "rows (about as e^epsilon) and deriving it takes minutes; use a smaller epsilon"
        )
    beta = -math.expm1(-eps_anon)
    # d(k) is the largest a_n over n >= n_m(k), a set that shrinks as k grows, so d is
    # non-increasing in k: the smallest k with d(k) <= delta is found by bisection.
    lo, hi = 0, 1  # d(lo) > delta (or lo = 0), d(hi) <= delta once found
    while _delta_of_k(hi, eps_anon, beta) > dlt:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _delta_of_k(mid, eps_anon, beta) > dlt:
            lo = mid
        else:
            hi = mid
    k = hi
    return SafePubParameters(eps, dlt, eps_anon, eps_search, beta, k, int(steps))


@dataclass
class SafePubResult(Result):
    """What SafePub released: its parameters, the chosen levels and the released table.

    Everything here is the released table or computed from it and the public
    parameters; nothing is measured on the input, which would leak outside the
    differential-privacy guarantee.
    """

    parameters: SafePubParameters
    quasi: list[str]
    levels: dict[str, int]
    rows_out: int
    classes: int
    smallest_class: int
    steps_taken: int
    dataset: str
    ledger_entry: int
    seconds: float
    table: pl.DataFrame | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        p = self.parameters
        return {
            "method": "SafePub",
            "epsilon": p.epsilon,
            "delta": p.delta,
            "epsilon_anon": p.epsilon_anon,
            "epsilon_search": p.epsilon_search,
            "beta": p.beta,
            "k": p.k,
            "steps": p.steps,
            "quasi": self.quasi,
            "levels": self.levels,
            "rows_out": self.rows_out,
            "classes": self.classes,
            "smallest_class": self.smallest_class,
            "dataset": self.dataset,
            "ledger_entry": self.ledger_entry,
            "seconds": self.seconds,
        }

    def to_document(self) -> Document:
        p = self.parameters
        summary = (
            f"SafePub released {self.rows_out:,} rows in {self.classes:,} classes of at least "
            f"{p.k} rows, with ({p.epsilon:g}, {p.delta:g})-differential privacy "
            f"(epsilon {p.epsilon_anon:.4g} for sampling and suppression, "
            f"{p.epsilon_search:.4g} for the search), charged to {self.dataset!r} "
            f"(ledger entry {self.ledger_entry})."
        )
        rows = [[name, level] for name, level in self.levels.items()]
        params = [
            ["sampling probability beta", round(p.beta, 6)],
            ["class size k", p.k],
            ["search steps", p.steps],
        ]
        return Document(
            title="veil anonymize (SafePub)",
            subtitle=f"quasi-identifiers: {', '.join(self.quasi)}",
            sections=[
                Section(
                    "Result",
                    [
                        Paragraph(summary, tone="good"),
                        Table(["quasi-identifier", "level"], rows, title="Generalization"),
                        Table(["parameter", "value"], params, title="Parameters"),
                    ],
                )
            ],
        )


def _shares(table: EncodedTable, specs: Mapping[str, Any]) -> list[list[np.ndarray]]:
    """Per quasi-identifier and level, the share of the hierarchy's rows each leaf's group holds.

    Counted on the hierarchy as given (all its rows), never on the data.
    """
    out = []
    for q in table.quasi:
        full = as_hierarchy(specs[q.name], q.name)
        assert isinstance(full, TableHierarchy)
        given = full._frame()
        size = given.height
        per_level = [np.full(q.hierarchy.height, 1.0 / size)]
        for level in level_names(q.hierarchy.width - 1):
            counts = given.group_by(level).agg(n=pl.len())
            joined = q.hierarchy.select(level).join(
                counts, on=level, how="left", nulls_equal=True, maintain_order="left"
            )
            share = joined["n"].fill_null(1).to_numpy() / size
            per_level.append(np.minimum(share, 1.0))
        out.append(per_level)
    return out


class SafePub:
    """Anonymize with (epsilon, delta)-differential privacy (Bild, Kuhn and Prasser 2018).

    Parameters
    ----------
    epsilon, delta
        The total privacy loss, charged to the ledger: ``(epsilon, delta)``-DP.
    hierarchies
        Column -> hierarchy for every quasi-identifier, each given explicitly
        (an ARX-format file path, rows, or a frame): a hierarchy built from the
        data would make the release depend on the data outside the guarantee.
    search_share
        Share of ``epsilon`` spent on the search (ARX's search budget);
        the rest goes to sampling and suppression.
    steps
        Steps of the private search (ARX's "search steps").

    Attributes
    ----------
    parameters_ : SafePubParameters
        The budget split, ``beta`` and ``k``.
    levels_ : dict[str, int]
        The chosen level per quasi-identifier.
    result_ : SafePubResult
        The report, with the released table in ``result_.table``.

    References
    ----------
    Bild, Kuhn and Prasser 2018, PoPETs 2018(1): 67-87; Li, Qardaji and Su
    2012, "On sampling, anonymization, and differential privacy", ASIACCS.
    """

    def __init__(
        self,
        epsilon: float,
        delta: float,
        hierarchies: Mapping[str, Any] | None = None,
        *,
        search_share: float = 0.1,
        steps: int = 100,
    ) -> None:
        self.epsilon = epsilon
        self.delta = delta
        self.hierarchies = hierarchies
        self.search_share = search_share
        self.steps = steps

    def _check(self, qi: list[str]) -> tuple[SafePubParameters, dict[str, Any]]:
        params = safepub_parameters(
            self.epsilon, self.delta, search_share=self.search_share, steps=self.steps
        )
        specs = dict(self.hierarchies or {})
        missing = [c for c in qi if c not in specs]
        if missing:
            raise ParameterError(
                f"SafePub needs an explicit hierarchy for every quasi-identifier; none for "
                f"{missing[0]!r}. Give an ARX-format file (--hierarchy {missing[0]}=FILE, or "
                f"hierarchies={{{missing[0]!r}: 'FILE'}} in Python): a hierarchy built from the "
                "data would leak outside the guarantee"
            )
        for name in qi:
            spec = as_hierarchy(specs[name], name)
            if not isinstance(spec, TableHierarchy):
                raise ParameterError(
                    f"SafePub needs the hierarchy of {name!r} as a table (an ARX-format file, "
                    f"rows or a frame), not {type(spec).__name__}, whose groups depend on the data"
                )
        return params, specs

    def fit(
        self,
        data: Any,
        quasi: str | Sequence[str],
        *,
        dataset: str,
        ledger: Any,
        identifier: str | Sequence[str] | None = None,
    ) -> SafePub:
        """Release ``data`` anonymized with SafePub, charging ``(epsilon, delta)`` to ``dataset``.

        Parameters
        ----------
        data
            A path, or a pandas, polars or pyarrow table.
        quasi
            The quasi-identifier columns.
        dataset
            The dataset's name in the ledger.
        ledger
            A :class:`veil.ledger.Ledger` or the path of a ledger file.
        identifier
            Direct identifiers, removed from the output.

        Raises
        ------
        ParameterError
            Bad parameters, a missing hierarchy, no quasi-identifier.
        BudgetExceededError
            The dataset's budget cannot pay ``(epsilon, delta)``; nothing is drawn.
        """

        start = time.perf_counter()
        roles = Roles(
            quasi=as_column_list(quasi, what="quasi-identifiers"),
            identifier=as_column_list(identifier, what="identifiers"),
        )
        qi = list(roles.quasi)
        if not qi:
            raise ParameterError("give the quasi-identifier columns, e.g. quasi=['age', 'zip']")
        params, specs = self._check(qi)
        frame, self._source = to_polars(data)
        if isinstance(frame, pl.LazyFrame):
            frame = frame.collect()
        roles.check_against(frame.columns)
        # the hierarchies are checked against the data before anything is spent
        encode_table(frame.select(qi), qi, [], {c: specs[c] for c in qi})
        book, owned = as_ledger(ledger)
        try:
            reservation = book.reserve(
                dataset,
                PrivacyLoss.approximate(params.epsilon, params.delta),
                what=f"SafePub anonymization of {', '.join(qi)}",
                mechanism="SafePub",
                parameters={
                    "epsilon_anon": params.epsilon_anon,
                    "epsilon_search": params.epsilon_search,
                    "beta": params.beta,
                    "k": params.k,
                    "steps": params.steps,
                    "quasi": qi,
                },
            )
            try:
                output, levels, steps_taken = self._release(frame, qi, specs, params)
            except Exception:
                book.cancel(reservation, reason="SafePub failed before releasing anything")
                raise
            output = output.drop(list(roles.identifier))
            sizes = output.group_by(qi).len()["len"] if output.height else pl.Series([0])
            self.result_ = SafePubResult(
                parameters=params,
                quasi=qi,
                levels=levels,
                rows_out=output.height,
                classes=int(output.group_by(qi).len().height) if output.height else 0,
                smallest_class=int(sizes.min() or 0),  # type: ignore[arg-type]
                steps_taken=steps_taken,
                dataset=dataset,
                ledger_entry=reservation.id,
                seconds=time.perf_counter() - start,
                table=output,
            )
            book.finish(reservation, self.result_.to_dict())
        finally:
            if owned:
                book.close()
        self.parameters_ = params
        self.levels_ = levels
        return self

    def fit_transform(self, data: Any, *args: Any, **kwargs: Any) -> Any:
        """:meth:`fit`, then return the released table in the type of ``data``."""
        from veil.io import from_polars

        self.fit(data, *args, **kwargs)
        return from_polars(self.result_.table, self._source)

    def _release(self, frame, qi, specs, params):
        # Here, not at the top: veil.dp's query stack adds 70 ms to every CLI start.
        from veil.dp.mechanisms import ExponentialMechanism

        n = frame.height
        sampled = frame.filter(pl.Series(bernoulli(params.beta, n)))
        table = encode_table(sampled.select(qi), qi, [], {c: specs[c] for c in qi})
        shares = _shares(table, specs)
        m = len(qi)
        unsampled = n - sampled.height
        sensitivity = float(max(1, params.k - 1))

        def score(node: tuple[int, ...]) -> float:
            if sampled.height == 0:
                return -float(n)
            item_class, n_classes = node_classes(table, node)
            sizes = np.bincount(item_class, weights=table.weight, minlength=n_classes)
            kept = (sizes >= params.k)[item_class]
            cost = 0.0
            for j, h in enumerate(node):
                cost += float((table.weight * shares[j][h][table.leaf[:, j]])[kept].sum())
            cost += m * (float(table.weight[~kept].sum()) + unsampled)
            return -cost / m

        chooser = ExponentialMechanism(
            epsilon=params.epsilon_per_selection, sensitivity=sensitivity
        )
        heights = table.heights
        pivot = tuple(h - 1 for h in heights)
        candidates: dict[tuple[int, ...], float] = {pivot: score(pivot)}
        pivots = {pivot: candidates[pivot]}
        steps_taken = 0
        for _ in range(params.steps):
            for j in range(m):
                if pivot[j] > 0:
                    child = (*pivot[:j], pivot[j] - 1, *pivot[j + 1 :])
                    if child not in candidates:
                        candidates[child] = score(child)
            candidates.pop(pivot, None)
            if not candidates:
                break
            options = list(candidates)
            pivot = options[chooser(np.array([candidates[o] for o in options]))]
            pivots[pivot] = candidates[pivot]
            steps_taken += 1
        # the release among the pivots: one more draw, not the exact best score
        options = list(pivots)
        chosen = options[chooser(np.array([pivots[o] for o in options]))]
        item_class, n_classes = node_classes(table, chosen)
        sizes = np.bincount(item_class, weights=table.weight, minlength=n_classes)
        keep_row = (sizes >= params.k)[item_class][table.row_item]
        columns = {}
        for j, (q, h) in enumerate(zip(table.quasi, chosen, strict=True)):
            if h:
                labels = q.labels[h].cast(pl.String)
                columns[q.name] = labels.gather(q.maps[h][table.row_leaf[:, j]]).alias(q.name)
        released = sampled.with_columns(**columns) if columns else sampled
        output = released.filter(pl.Series(keep_row))
        return output, {q: int(h) for q, h in zip(qi, chosen, strict=True)}, steps_taken
