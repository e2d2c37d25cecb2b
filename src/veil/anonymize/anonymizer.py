"""The front door: ``Anonymizer(models=[...]).fit_transform(table, quasi, sensitive)``.

A scikit-learn-like estimator: the parameters are stored unchanged by
``__init__`` and checked in :meth:`Anonymizer.fit`, which learns the
generalization (``levels_`` for optimal global recoding, ``classes_`` for
Mondrian) and keeps the released table and its report (``result_``). Every
released table is re-measured by :mod:`veil.anonymity` before it is returned.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from veil.anonymize.encoding import EncodedTable, encode_table
from veil.anonymize.evaluation import NodeOutcome, evaluate_node
from veil.anonymize.models import KAnonymity, PrivacyModel
from veil.anonymize.mondrian import mondrian
from veil.anonymize.population import KMap, PopulationModel, read_population
from veil.anonymize.result import AnonymizationResult
from veil.anonymize.search import optimal_generalization
from veil.anonymize.utility import (
    average_class_size,
    classifier_accuracy,
    discernibility,
    generalization_intensity,
    non_uniform_entropy,
)
from veil.anonymize.verification import verify_models
from veil.errors import DataError, ParameterError
from veil.io import from_polars, to_polars
from veil.roles import Roles, as_column_list

__all__ = ["Anonymizer"]

METHODS = ("optimal", "mondrian")
LOSS_METRICS = ("ncp", "arx")


def _describe_node(table: EncodedTable, outcome: NodeOutcome) -> str:
    return ", ".join(f"{q.name}={h}" for q, h in zip(table.quasi, outcome.node, strict=True))


class Anonymizer:
    """Make a table satisfy privacy models with the least information loss.

    Parameters
    ----------
    models
        Privacy models every released equivalence class must satisfy, e.g.
        ``[KAnonymity(10), LDiversity(2)]``.
    hierarchies
        Column -> hierarchy for ``method="optimal"``: a path to an ARX-format
        CSV, a :class:`~veil.anonymize.Hierarchy` (``IntervalHierarchy([5, 10])``...)
        or a dict of groups. Quasi-identifiers without one get a default
        (numbers: nested intervals; dates: month, year; others: value, ``*``).
    suppression
        Largest share of rows that may be removed (``0.05``: 5 %). The
        optimal search suppresses the rows of the classes that fail the
        models; Mondrian peels outlying rows off partitions it cannot cut
        further, only where that lowers the loss (see
        :func:`~veil.anonymize.mondrian.mondrian`).
    method
        ``"optimal"``: global recoding, the least-loss node of the
        generalization lattice (Samarati 2001; Kohlmayer et al. 2012).
        ``"mondrian"``: local recoding by multidimensional partitioning
        (LeFevre et al. 2006).
    strict
        Mondrian only: strict (non-overlapping) or relaxed partitioning.
    target
        A column to measure classifier accuracy on, original vs released
        (needs scikit-learn).
    gs_factor
        ARX's generalization/suppression factor, in [0, 1], for
        ``method="optimal"``: how the search weighs generalizing cells
        against suppressing rows. ``0.5`` weighs them equally (ARX's default,
        the plain Loss metric); toward ``1`` generalization is favoured, so
        fewer rows are suppressed; toward ``0`` suppression is. Only the
        choice of node changes: the information loss reported in
        ``result_`` is always the unweighted Loss, comparable across factors.
    loss_metric
        How a generalized cell is charged, for ``method="optimal"``:
        ``"ncp"`` (default, veil's range-based NCP: a numeric or date group
        costs the share of the column's range it spans, a category group the
        share of the distinct values it covers) or ``"arx"`` (ARX's Loss:
        every group costs the share of the distinct values it covers, numbers
        included; Iyengar 2002, Prasser et al. 2016). They differ when the
        values of a numeric column are unevenly spread.

    Attributes
    ----------
    result_ : AnonymizationResult
        The report, with the released table in ``result_.table``.
    levels_ : dict[str, int] or None
        Chosen level per quasi-identifier (optimal search).
    classes_ : int
        Equivalence classes in the released table.
    suppressed_ : int
        Rows removed.
    """

    def __init__(
        self,
        models: Sequence[PrivacyModel],
        hierarchies: Mapping[str, Any] | None = None,
        suppression: float = 0.05,
        method: str = "optimal",
        *,
        strict: bool = True,
        target: str | None = None,
        gs_factor: float = 0.5,
        loss_metric: str = "ncp",
    ) -> None:
        self.models = models
        self.hierarchies = hierarchies
        self.suppression = suppression
        self.method = method
        self.strict = strict
        self.target = target
        self.gs_factor = gs_factor
        self.loss_metric = loss_metric

    def _check_params(self) -> list[PrivacyModel]:
        models = [self.models] if isinstance(self.models, PrivacyModel) else list(self.models)
        if not models:
            raise ParameterError("give at least one privacy model, e.g. models=[KAnonymity(5)]")
        for model in models:
            if not isinstance(model, PrivacyModel):
                raise ParameterError(
                    f"models must be privacy model objects such as KAnonymity(10); got {model!r}"
                )
        if self.method not in METHODS:
            raise ParameterError(f"method must be 'optimal' or 'mondrian'; got {self.method!r}")
        s = self.suppression
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not 0 <= s < 1:
            raise ParameterError(
                f"suppression is the share of rows that may be removed, in [0, 1); got {s!r}"
            )
        gs = self.gs_factor
        if (
            isinstance(gs, bool)
            or not isinstance(gs, numbers.Real)
            or not 0 <= gs <= 1  # also refuses NaN
        ):
            raise ParameterError(
                "gs_factor weighs generalization against suppression, in [0, 1] (0.5: equally, "
                f"1: generalize rather than suppress); got {gs!r}"
            )
        if self.method == "mondrian" and self.hierarchies:
            raise ParameterError(
                "hierarchies are used by method='optimal'; Mondrian releases the ranges and "
                "value sets it finds in the data. Drop the hierarchies or use 'optimal'"
            )
        if self.method == "mondrian" and gs != 0.5:
            raise ParameterError(
                f"gs_factor={gs!r} weighs generalization against suppression in "
                "method='optimal'; Mondrian suppresses no rows according to a gs-factor (it peels "
                "off outliers only where that lowers the loss). Drop gs_factor or use 'optimal'"
            )
        if self.loss_metric not in LOSS_METRICS:
            raise ParameterError(
                f"loss_metric must be 'ncp' (veil's range-based NCP) or 'arx' (ARX's Loss, "
                f"counting distinct values); got {self.loss_metric!r}"
            )
        if self.method == "mondrian" and self.loss_metric != "ncp":
            raise ParameterError(
                "loss_metric='arx' scores the levels of hierarchies, used by method='optimal'; "
                "Mondrian releases ranges. Drop loss_metric or use 'optimal'"
            )
        if self.method == "mondrian" and any(
            isinstance(m, PopulationModel) and m.population is not None for m in models
        ):
            raise ParameterError(
                "k-map with a population table and delta-presence need method='optimal' "
                "(global recoding, as in ARX): the population is generalized with the same "
                "hierarchy levels as the sample"
            )
        return models

    def _population(self, models, frame, qi):
        """The one population the population models share, read once; ``None`` if none."""
        sources = []
        for model in models:
            if (
                isinstance(model, PopulationModel)
                and model.population is not None
                and not any(model.population is s for s in sources)
            ):
                sources.append(model.population)
        if not sources:
            return None
        if len(sources) > 1:
            raise ParameterError(
                "the population models were given different population tables; pass the same "
                "population (the same object or path) to k-map and delta-presence"
            )
        population = read_population(sources[0], qi)
        if population.height < frame.height:
            raise DataError(
                f"the population has {population.height:,} rows, fewer than the "
                f"{frame.height:,} of the table to anonymize, which must be a sample of it; "
                "give the whole population"
            )
        return population

    def fit(
        self,
        data: Any,
        quasi: str | Sequence[str] | None = None,
        sensitive: str | Sequence[str] | None = None,
        *,
        identifier: str | Sequence[str] | None = None,
        roles: Roles | None = None,
    ) -> Anonymizer:
        """Anonymize ``data`` and keep the released table in ``result_.table``.

        Parameters
        ----------
        data
            A path, or a pandas, polars or pyarrow table.
        quasi, sensitive, identifier
            Column roles (or pass ``roles``). Identifier columns are removed.
        """
        start = time.perf_counter()
        models = self._check_params()
        if roles is None:
            roles = Roles(
                quasi=as_column_list(quasi, what="quasi-identifiers"),
                sensitive=as_column_list(sensitive, what="sensitive attributes"),
                identifier=as_column_list(identifier, what="identifiers"),
            )
        frame, self._source = to_polars(data)
        if isinstance(frame, pl.LazyFrame):
            frame = frame.collect()
        roles.check_against(frame.columns)
        if frame.height == 0:
            raise DataError("the table has no rows: there is nothing to anonymize")
        qi, sa = list(roles.quasi), list(roles.sensitive)
        if not qi:
            raise ParameterError("give the quasi-identifier columns, e.g. quasi=['age', 'zip']")
        needing = [m.describe() for m in models if m.needs_sensitive]
        if needing and not sa:
            raise ParameterError(
                f"{needing[0]} needs a sensitive attribute; pass sensitive=['column']"
            )
        # k' of an estimated k-map depends on the table's rows: fix it once
        models = [
            m.for_rows(frame.height) if isinstance(m, KMap) and m.population is None else m
            for m in models
        ]
        population = self._population(models, frame, qi)
        if self.method == "optimal":
            released, kept, info = self._optimal(frame, qi, sa, models, population)
        else:
            released, kept, info = self._mondrian(frame, qi, sa, models)
        dropped = [c for c in roles.identifier]
        output = released.filter(pl.Series(kept)).drop(dropped)
        checks = verify_models(
            output, qi, sa, models, population=info.get("population"), rows=frame.height
        )
        self.levels_ = info.get("levels")
        self.classes_ = info["classes"]
        self.suppressed_ = frame.height - output.height
        self.result_ = AnonymizationResult(
            method=self.method
            if self.method == "optimal"
            else f"mondrian ({'strict' if self.strict else 'relaxed'})",
            models=[m.describe() for m in models],
            quasi=qi,
            sensitive=sa,
            dropped=dropped,
            rows_in=frame.height,
            rows_out=output.height,
            suppression_limit=info["limit"],
            classes=info["classes"],
            seconds=0.0,
            levels=info.get("levels"),
            level_labels=info.get("examples"),
            nodes_checked=info.get("checked"),
            lattice_size=info.get("lattice"),
            gs_factor=float(self.gs_factor) if self.method == "optimal" else None,
            table=output,
        )
        self._measure(
            frame, released, kept, output, qi, sa, models, info, dropped, checks, population
        )
        self.result_.seconds = time.perf_counter() - start
        return self

    def fit_transform(self, data: Any, *args: Any, **kwargs: Any) -> Any:
        """:meth:`fit`, then return the released table in the type of ``data``."""
        self.fit(data, *args, **kwargs)
        return from_polars(self.result_.table, self._source)

    def _optimal(self, frame, qi, sa, models, population=None):
        needs_sa = any(m.needs_sensitive for m in models)
        table = encode_table(
            frame,
            qi,
            sa if needs_sa else [],
            self.hierarchies,
            population=population,
            loss_metric=self.loss_metric,
        )
        limit = math.floor(self.suppression * frame.height + 1e-9)
        gs_factor = float(self.gs_factor)
        search = optimal_generalization(table, models, limit, gs_factor=gs_factor)
        if search.best is None:
            self._unreachable(table, models, limit, search.closest, frame.height)
        best = search.best
        _, item_class, keep = evaluate_node(table, best.node, models, limit, gs_factor=gs_factor)
        kept = keep[item_class][table.row_item]
        columns = {}
        examples = {}
        for j, (q, h) in enumerate(zip(table.quasi, best.node, strict=True)):
            if h == 0:
                continue
            labels = q.labels[h].cast(pl.String)
            columns[q.name] = labels.gather(q.maps[h][table.row_leaf[:, j]]).alias(q.name)
            examples[q.name] = f"{q.hierarchy['value'][0]} -> {labels[int(q.maps[h][0])]}"
        released = frame.with_columns(**columns) if columns else frame
        generalized_population = None
        if population is not None:
            assert table.pop_row_leaf is not None
            generalized_population = pl.DataFrame(
                [
                    (q.labels[h].cast(pl.String) if h else q.hierarchy["value"])
                    .gather(q.maps[h][table.pop_row_leaf[:, j]])
                    .alias(q.name)
                    for j, (q, h) in enumerate(zip(table.quasi, best.node, strict=True))
                ]
            )
        info = {
            "population": generalized_population,
            "levels": {q.name: int(h) for q, h in zip(table.quasi, best.node, strict=True)},
            "heights": table.heights,
            "examples": examples,
            "classes": best.classes,
            "limit": limit,
            "checked": search.checked,
            "lattice": search.lattice_size,
            "loss": best.loss,
        }
        return released, kept, info

    def _unreachable(self, table, models, limit, closest, n) -> None:
        asked = " and ".join(m.describe() for m in models)
        message = (
            f"no generalization satisfies {asked} with at most {self.suppression:.1%} of rows "
            f"({limit:,}) suppressed"
        )
        if closest is not None and closest.suppressed >= n:
            message += (
                "; no equivalence class satisfies it at any node, even with every "
                "quasi-identifier fully generalized: relax the models"
            )
        elif closest is not None:
            share = closest.suppressed / n if n else 0.0
            message += (
                f"; the closest node ({_describe_node(table, closest)}) still needs "
                f"{closest.suppressed:,} rows ({share:.1%}) suppressed: allow suppression="
                f"{math.ceil(share * 1000) / 1000:g} or relax the models"
            )
        raise ParameterError(message)

    def _mondrian(self, frame, qi, sa, models):
        needs_sa = any(m.needs_sensitive for m in models)
        limit = math.floor(self.suppression * frame.height + 1e-9)
        part = mondrian(
            frame, qi, sa if needs_sa else [], models, strict=self.strict, suppression=limit
        )
        released = frame.with_columns(**part.columns)
        return released, part.kept, {"classes": part.classes, "limit": limit, "loss": part.loss}

    def _measure(
        self, frame, released, kept, output, qi, sa, models, info, dropped, checks, population
    ):
        from veil.anonymity import k_anonymity

        result = self.result_
        privacy: dict[str, dict[str, Any]] = {}
        k_before, k_after = k_anonymity(frame, qi), k_anonymity(output, qi)
        privacy["k-anonymity (k)"] = {"before": k_before, "after": k_after}
        privacy["highest re-identification risk (1/k)"] = {
            "before": 1 / k_before if k_before else None,
            "after": 1 / k_after if k_after else None,
        }
        for model, check in zip(models, checks, strict=True):
            if isinstance(model, PopulationModel):
                before, _ = model.measure(frame, qi, sa, population=population, rows=frame.height)
            else:
                before, _ = model.measure(frame, qi, sa)
            privacy[model.describe()] = {
                "before": before,
                "after": check.value,
                "required": model.requirement(),
            }
        result.privacy = privacy
        sizes_before = frame.group_by(qi).len()["len"].to_numpy()
        sizes_after = output.group_by(qi).len()["len"].to_numpy()
        k = max([m.k for m in models if isinstance(m, KAnonymity)], default=None)
        loss_name = (
            "information loss (ARX Loss)"
            if self.loss_metric == "arx"
            else ("information loss (NCP)")
        )
        utility: dict[str, dict[str, Any]] = {
            loss_name: {"before": 0.0, "after": info["loss"], "better": "lower"},
            "discernibility": {
                "before": discernibility(sizes_before, 0, frame.height),
                "after": discernibility(sizes_after, result.suppressed, frame.height),
                "better": "lower",
            },
            "average class size": {
                "before": average_class_size(sizes_before),
                "after": average_class_size(sizes_after),
                "better": "lower",
            },
            "non-uniform entropy": {
                "before": 0.0,
                "after": non_uniform_entropy(frame, released, kept, qi),
                "better": "lower",
            },
        }
        if k:
            utility["normalized average class size"] = {
                "before": average_class_size(sizes_before, k),
                "after": average_class_size(sizes_after, k),
                "better": "closer to 1",
            }
        if info.get("levels") is not None:
            utility["generalization intensity"] = {
                "before": 0.0,
                "after": generalization_intensity(list(info["levels"].values()), info["heights"]),
                "better": "lower",
            }
        if self.target is not None:
            acc = classifier_accuracy(frame, released, kept, self.target, exclude=dropped)
            utility[f"classifier accuracy ({self.target})"] = {
                "before": acc["original"],
                "after": acc["anonymized"],
                "better": "higher",
            }
        result.utility = utility
