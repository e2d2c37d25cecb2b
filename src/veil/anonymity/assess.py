"""``assess``: every technique, metric and risk measure of a table in one report."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from veil.anonymity.beta_likeness import beta_of, enhanced_beta_of
from veil.anonymity.classes import build_class_table
from veil.anonymity.delta_disclosure import delta_of
from veil.anonymity.k_anonymity import alpha_of, k_of
from veil.anonymity.l_diversity import entropy_l_of, l_of, recursive_c_l_of
from veil.anonymity.metrics import classification_metric_of, entropy_of_counts
from veil.anonymity.population import (
    PopulationUniqueness,
    check_sampling,
    uniqueness_of_histogram,
)
from veil.anonymity.risk import RiskProfile, class_size_histogram, risk_of
from veil.anonymity.t_closeness import t_of
from veil.report import BarChart, Document, Paragraph, Result, Section, Table

__all__ = ["TECHNIQUES", "AssessmentReport", "assess"]

#: Each technique: what it prevents, and how to read its value.
TECHNIQUES: dict[str, tuple[str, str]] = {
    "k-anonymity": (
        "linkage, re-identification",
        "every record shares its quasi-identifiers with at least k-1 others; higher is safer",
    ),
    "(alpha,k)-anonymity": (
        "linkage, re-identification, homogeneity",
        "no sensitive value makes up more than alpha of a class; lower alpha is safer",
    ),
    "l-diversity": (
        "homogeneity, background knowledge",
        "every class holds at least l distinct sensitive values; higher is safer",
    ),
    "entropy l-diversity": (
        "homogeneity, background knowledge",
        "every class's sensitive values are as spread as l equally likely values; higher is safer",
    ),
    "recursive (c,l)-diversity": (
        "homogeneity, background knowledge",
        "the commonest value in a class is outweighed by the rest (pyCANON's c); lower c is safer",
    ),
    "t-closeness": (
        "skewness, similarity",
        "each class's sensitive distribution is within distance t of the table's; lower is safer",
    ),
    "basic beta-likeness": (
        "skewness",
        "no sensitive value is over-represented in a class by more than beta, relatively; "
        "lower is safer",
    ),
    "enhanced beta-likeness": (
        "skewness",
        "beta-likeness with the gain on frequent values capped at -ln p; lower is safer",
    ),
    "delta-disclosure privacy": (
        "inference",
        "learning a record's class changes belief in any sensitive value by at most a factor "
        "e^delta; lower is safer",
    ),
}


@dataclass(frozen=True)
class AssessmentReport(Result):
    """Everything ``assess`` measured, and how: roles, techniques, metrics, risk."""

    quasi: tuple[str, ...]
    sensitive: tuple[str, ...]
    others_as_quasi: bool
    n_records: int
    n_classes: int
    techniques: dict[str, Any]
    metrics: dict[str, Any]
    risk: RiskProfile
    population_uniqueness: PopulationUniqueness | None = None

    @property
    def k(self) -> int:
        return int(self.techniques["k-anonymity"])

    def to_dict(self) -> dict[str, Any]:
        techniques = {}
        for name, value in self.techniques.items():
            if isinstance(value, tuple):
                first, second = ("alpha", "k") if name.startswith("(alpha") else ("c", "l")
                value = {first: value[0], second: value[1]}
            techniques[name] = value
        return {
            "records": self.n_records,
            "equivalence_classes": self.n_classes,
            "quasi_identifiers": list(self.quasi),
            "sensitive_attributes": list(self.sensitive),
            "others_as_quasi": self.others_as_quasi,
            "techniques": techniques,
            "metrics": self.metrics,
            "risk": self.risk.to_dict(),
            "population_uniqueness": None
            if self.population_uniqueness is None
            else self.population_uniqueness.to_dict(),
        }

    def to_document(self) -> Document:
        sections = [self._summary(), self._techniques(), self._risk()]
        if self.population_uniqueness is not None:
            sections.append(self.population_uniqueness.section())
        sections.append(self._metrics())
        return Document(
            title="Anonymity assessment",
            subtitle=(
                f"{self.n_records:,} records, {self.n_classes:,} equivalence classes over "
                f"quasi-identifiers {', '.join(self.quasi)}"
                + (f"; sensitive: {', '.join(self.sensitive)}" if self.sensitive else "")
            ),
            sections=sections,
        )

    def _summary(self) -> Section:
        r = self.risk
        blocks = [
            Paragraph(
                f"The smallest group of records that share all quasi-identifier values has "
                f"{self.k} record{'s' if self.k != 1 else ''}: an attacker who knows a person's "
                f"{', '.join(self.quasi)} and that they are in this table can re-identify them "
                f"with probability up to {r.prosecutor_highest:.0%}.",
                tone="warn" if self.k < 5 else "good",
            ),
            Paragraph(
                f"{r.unique_share:.1%} of records are unique on their quasi-identifiers; "
                f"{r.prosecutor_at_risk:.1%} have a re-identification risk above "
                f"{r.threshold:.0%} (classes smaller than {math.ceil(1 / r.threshold - 1e-9)}).",
                tone="warn" if r.prosecutor_at_risk > 0 else "good",
            ),
        ]
        pu = self.population_uniqueness
        if pu is not None and pu.estimated_share is not None:
            blocks.append(
                Paragraph(
                    f"In the population it was sampled from (sampling fraction "
                    f"{pu.sampling_fraction:.3g}), an estimated {pu.estimated_share:.2%} of "
                    f"people are unique on the quasi-identifiers ({_MODEL_NAMES[pu.dankar_model]}"
                    "'s model, chosen by Dankar et al.'s rule; an estimate, see below).",
                    tone="warn" if pu.estimated_share > 0 else "good",
                )
            )
        return Section("Summary", blocks)

    def _techniques(self) -> Section:
        rows = []
        for name, (prevents, reading) in TECHNIQUES.items():
            value = self.techniques.get(name)
            if value is None:
                continue
            if isinstance(value, tuple):
                first = "alpha" if name.startswith("(alpha") else "c"
                second = "k" if first == "alpha" else "l"
                shown = f"{first}={_num(value[0])}, {second}={_num(value[1])}"
            else:
                shown = value
            rows.append([name, shown, prevents, reading])
        blocks: list[Any] = [Table(["technique", "value", "prevents", "how to read it"], rows)]
        if not self.sensitive:
            blocks.append(Paragraph("No sensitive attribute was given: only k-anonymity applies."))
        elif len(self.sensitive) > 1:
            how = (
                "each assessed with the other sensitive attributes added to the quasi-identifiers"
                if self.others_as_quasi
                else "the worst one counts"
            )
            blocks.append(Paragraph(f"Several sensitive attributes: {how}."))
        return Section("Privacy techniques", blocks)

    def _risk(self) -> Section:
        r = self.risk
        rows = [["prosecutor", r.prosecutor_highest, r.prosecutor_average, r.prosecutor_at_risk]]
        if r.journalist_highest is not None:
            rows.append(
                ["journalist", r.journalist_highest, r.journalist_average, r.journalist_at_risk]
            )
        rows.append(["marketer", None, r.marketer, None])
        dist = r.size_distribution
        marketer = (
            "the mean of f/F over records"
            if r.journalist_highest is not None
            else "without a population table it equals the prosecutor's average, classes / records"
        )
        blocks: list[Any] = [
            Table(
                [
                    "attacker model",
                    "highest risk",
                    "average risk per record",
                    "records at risk",
                ],
                rows,
            ),
            Paragraph(
                "Prosecutor: the attacker knows the person is in this table; a record in a "
                "class of f records is re-identified with probability 1/f, and the average "
                "over records is classes / records. Journalist: the attacker only knows the "
                "person is in the wider population; risk is 1/F with F the class size in the "
                "population table. Marketer: the share of records an attacker re-identifies "
                f"when linking the whole table ({marketer}). Records at risk: share of records "
                f"whose risk is above {r.threshold:.0%}."
            ),
            BarChart(
                labels=[d["size"] for d in dist],
                values=[d["classes"] for d in dist],
                title="Equivalence classes by size",
                x_label="class size (records sharing the quasi-identifiers)",
                y_label="classes",
            ),
            BarChart(
                labels=[_risk_label(d["size"]) for d in dist],
                values=[d["records"] / r.n_records for d in dist],
                title="Records by prosecutor re-identification risk",
                x_label="re-identification risk (1 / class size)",
                y_label="share of records",
            ),
        ]
        if r.population_unique_share is not None:
            blocks.append(
                Paragraph(
                    f"{r.population_unique_share:.1%} of the table's records are unique in the "
                    "population table too: those are re-identifiable by anyone holding the "
                    "population register."
                )
            )
        return Section("Re-identification risk", blocks)

    def _metrics(self) -> Section:
        m = self.metrics
        rows: list[list[Any]] = [
            [
                "average class size (normalised)",
                m["average_class_size"],
                "1 is ideal; larger means classes bigger than k needs",
            ],
            [
                "discernibility",
                m["discernibility"],
                "sum of squared class sizes; lower keeps more detail",
            ],
            [
                "average risk per class (pyCANON's average_rir)",
                m["average_reidentification_risk"],
                "mean over classes of 1 / size: each class counts once",
            ],
            ["maximum re-identification risk", m["max_reidentification_risk"], "1 / k"],
        ]
        for sa, value in m.get("classification_metric", {}).items():
            rows.append(
                [
                    f"classification metric ({sa})",
                    value,
                    "share of records unlike their class majority",
                ]
            )
        for sa, value in m.get("sensitive_entropy", {}).items():
            rows.append(
                [f"entropy of {sa} (nats)", value, "spread of the sensitive values over the table"]
            )
        blocks: list[Any] = [Table(["metric", "value", "meaning"], rows)]
        per_class, per_record = m["average_reidentification_risk"], self.risk.prosecutor_average
        if not math.isclose(per_class, per_record, rel_tol=1e-12):
            blocks.append(
                Paragraph(
                    f"Two averages of the same risk 1/size: the average risk per class "
                    f"({per_class:.4g}) counts every class once, however many records it "
                    f"holds; the prosecutor's average risk per record ({per_record:.4g}, in "
                    "the risk section) counts every record once, so large classes weigh by "
                    "their size. The per-class figure is never the lower (a mean of 1/size is "
                    "at least 1 / the mean size); they agree only when all classes have one size."
                )
            )
        return Section("Utility and disclosure metrics", blocks)


_MODEL_NAMES = {"pitman": "Pitman", "zayatz": "Zayatz", "snb": "the SNB", None: "no"}


def _num(value: Any) -> str:
    from veil.report.format import cell

    return cell(value)


def _risk_label(size_label: str) -> str:
    if size_label.endswith("+"):
        return f"≤ {1 / int(size_label[:-1]):.2g}"
    lo, _, hi = size_label.partition("-")
    if not hi:
        return f"{1 / int(lo):.2g}"
    return f"{1 / int(hi):.2g}–{1 / int(lo):.2g}"


def assess(
    data: Any,
    quasi: str | Sequence[str],
    sensitive: str | Sequence[str] | None = None,
    *,
    others_as_quasi: bool = False,
    population: Any = None,
    risk_threshold: float = 0.2,
    sampling_fraction: float | None = None,
    population_size: float | None = None,
) -> AssessmentReport:
    """Assess how identifiable ``data`` is: all nine techniques, metrics and risk, in one pass.

    The table is grouped once by quasi-identifiers and sensitive attributes;
    every number below derives from that count table.

    Parameters
    ----------
    data
        A path, or a pandas, polars or pyarrow table.
    quasi
        Quasi-identifier columns.
    sensitive
        Sensitive attribute column(s); without any, only k-anonymity and the
        risk measures are computed.
    others_as_quasi
        With several sensitive attributes, assess each with the others added to
        the quasi-identifiers (pyCANON's ``gen=False``).
    population
        Optional population table for the journalist risk model.
    risk_threshold
        Records whose prosecutor (or journalist) risk exceeds this are *at risk*.
    sampling_fraction
        The share of a population the table was sampled from (0.01 for a 1%
        sample): adds the estimated population uniqueness (Pitman, Zayatz, SNB
        and Dankar et al.'s choice; see :func:`population_uniqueness`).
    population_size
        The size of that population, instead of ``sampling_fraction``.

    Returns
    -------
    AssessmentReport
    """
    estimate_population = sampling_fraction is not None or population_size is not None
    if estimate_population:
        check_sampling(sampling_fraction, population_size)
    table = build_class_table(data, quasi, sensitive, need_sensitive=False)
    sizes = table.class_sizes()
    histogram = class_size_histogram(sizes)
    k = k_of(table)
    techniques: dict[str, Any] = {"k-anonymity": k}
    metrics: dict[str, Any] = {
        "average_class_size": table.n_rows / (len(sizes) * k),
        # sum of squared sizes, from the histogram: one term per distinct size
        "discernibility": float(int((histogram[0] ** 2 * histogram[1]).sum())),
        "average_reidentification_risk": float((1 / sizes).mean()),
        "max_reidentification_risk": 1 / k,
    }
    if table.sensitive:
        mode = {"others_as_quasi": others_as_quasi}
        techniques.update(
            {
                "(alpha,k)-anonymity": (alpha_of(table, **mode), k),
                "l-diversity": l_of(table, **mode),
                "entropy l-diversity": entropy_l_of(table, **mode),
                "recursive (c,l)-diversity": recursive_c_l_of(table, **mode),
                "t-closeness": t_of(table, **mode),
                "basic beta-likeness": beta_of(table, **mode),
                "enhanced beta-likeness": enhanced_beta_of(table, **mode),
                "delta-disclosure privacy": delta_of(table, **mode),
            }
        )
        metrics["classification_metric"] = {
            sa: classification_metric_of(table, sa, table.n_rows) for sa in table.sensitive
        }
        metrics["sensitive_entropy"] = {
            sa: entropy_of_counts(table.view(sa).totals) for sa in table.sensitive
        }
    return AssessmentReport(
        quasi=table.quasi,
        sensitive=table.sensitive,
        others_as_quasi=others_as_quasi,
        n_records=table.n_rows,
        n_classes=len(sizes),
        techniques=techniques,
        metrics=metrics,
        risk=risk_of(table, population=population, threshold=risk_threshold, histogram=histogram),
        population_uniqueness=uniqueness_of_histogram(
            *histogram, sampling_fraction=sampling_fraction, population_size=population_size
        )
        if estimate_population
        else None,
    )
