"""Population uniqueness: how many people of the population are unique, estimated from a sample.

A table is often a sample of a larger population (a survey, a 1% census
extract). A record unique in the sample is at risk only if it is unique in the
population too, and the population is not at hand. Superpopulation models
estimate the number of population uniques from the sample's class-size
histogram and the sampling fraction: Pitman's (Pitman 1996; Hoshino 2001),
Zayatz's (1991) and Chen and McNulty's (1998) slide negative binomial (SNB).
Dankar et al. (2012) found which does best when, and their decision rule picks
one. veil follows ARX's implementation (``RiskModelPopulationUniqueness``,
ARX 3.9.2) so that the figures agree; see :mod:`veil.anonymity.population_models`.

The models are only as good as their assumptions: each supposes the
population was drawn from its own distribution of class sizes. On real or
realistic data they can be off by a factor of 2 or more (see docs/assess.md).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from veil.anonymity.classes import build_class_table
from veil.anonymity.population_models import pitman_uniques, snb_uniques, zayatz_uniques
from veil.anonymity.risk import class_size_histogram
from veil.errors import ParameterError
from veil.report import Document, Paragraph, Result, Section, Table

__all__ = ["MODELS", "PopulationUniqueness", "population_uniqueness"]

#: The models, by key, with their reference.
MODELS: dict[str, str] = {
    "pitman": "Pitman (Pitman 1996; Hoshino 2001)",
    "zayatz": "Zayatz (Zayatz 1991)",
    "snb": "slide negative binomial (Chen & McNulty 1998)",
}

_LABELS = {"pitman": "Pitman", "zayatz": "Zayatz", "snb": "SNB"}

#: Dankar et al.'s rule uses Pitman's model up to this sampling fraction.
DANKAR_PITMAN_UP_TO = 0.1

_SNB_VARIANTS = ("paper", "arx")


@dataclass(frozen=True)
class PopulationUniqueness(Result):
    """Estimated population uniques under each model, and Dankar et al.'s choice.

    ``population_uniques[model]`` is a number of people (a float: an estimate),
    ``population_unique_share[model]`` that number over the population size;
    both are None where the model gives no estimate (its equations have no
    solution, or it falls outside (0, population]).
    """

    n_records: int
    population_size: float
    sampling_fraction: float
    sample_uniques: int
    population_uniques: dict[str, float | None]
    dankar_model: str | None
    dankar_reason: str
    snb_variant: str = "paper"
    population_unique_share: dict[str, float | None] = field(init=False)

    def __post_init__(self) -> None:
        shares = {
            model: None if value is None else value / self.population_size
            for model, value in self.population_uniques.items()
        }
        object.__setattr__(self, "population_unique_share", shares)

    @property
    def sample_unique_share(self) -> float:
        """Share of the sample's records unique in the sample."""
        return self.sample_uniques / self.n_records

    @property
    def estimate(self) -> float | None:
        """Dankar et al.'s estimate of the number of population uniques."""
        return self.population_uniques["dankar"]

    @property
    def estimated_share(self) -> float | None:
        """Dankar et al.'s estimate of the share of the population that is unique."""
        return self.population_unique_share["dankar"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "sampling_fraction": self.sampling_fraction,
            "population_size": self.population_size,
            "sample_uniques": self.sample_uniques,
            "sample_unique_share": self.sample_unique_share,
            "population_unique_share": dict(self.population_unique_share),
            "population_uniques": dict(self.population_uniques),
            "dankar_model": self.dankar_model,
            "dankar_reason": self.dankar_reason,
            "snb_variant": self.snb_variant,
        }

    def to_document(self) -> Document:
        return Document(
            title="Population uniqueness",
            subtitle=f"{self.n_records:,} records sampled from a population of "
            f"{self.population_size:,.0f} (sampling fraction {self.sampling_fraction:.3g})",
            sections=[self.section()],
        )

    def section(self) -> Section:
        """The report section: each model's estimate, Dankar et al.'s choice, how to read them."""
        rows: list[list[Any]] = []
        for key, label in _LABELS.items():
            uniques = self.population_uniques[key]
            chosen = " (chosen)" if key == self.dankar_model else ""
            rows.append(
                [
                    label + chosen,
                    None if uniques is None else round(uniques),
                    self.population_unique_share[key],
                    "estimate" if uniques is not None else "not available",
                ]
            )
        share = self.estimated_share
        if self.sample_uniques == 0:
            headline = "No record is unique in the sample: no population unique is expected."
        elif share is None:
            headline = "No model gives an estimate of the population uniques for this sample."
        else:
            headline = (
                f"About {share:.2%} of the population ({self.estimate:,.0f} of "
                f"{self.population_size:,.0f} people) is estimated to be unique on the "
                f"quasi-identifiers, against {self.sample_unique_share:.1%} of the sample's "
                f"records unique in the sample."
            )
        blocks: list[Any] = [
            Paragraph(headline, tone="warn" if share else "good"),
            Table(["model", "population uniques", "share of the population", "status"], rows),
            Paragraph(f"Chosen by Dankar et al.'s (2012) rule: {self.dankar_reason}."),
            Paragraph(
                "Each model supposes the population was drawn from its own distribution of "
                "class sizes; none is a measurement. Pitman's fits a two-parameter "
                "Poisson-Dirichlet distribution by maximum likelihood, Zayatz's takes the "
                "sample's class sizes for the population's, SNB fits a shifted negative "
                "binomial to the classes of size 1 and 2. On populations drawn from their own "
                "distribution they came within 8% in veil's tests; on realistic tables "
                "they can be off by a factor of 2 to 4 (Zayatz's and SNB upwards at small "
                "fractions, which is why the rule uses Pitman's up to 10%). Read the figure "
                "as an order of magnitude."
            ),
            Paragraph(
                "These are shares of the population; the sample uniqueness is a share of the "
                "table's records. References: Pitman (1996) and Hoshino (2001), Zayatz (1991), "
                "Chen & McNulty (1998) for SNB, the slide negative binomial."
            ),
        ]
        if self.snb_variant == "arx":
            blocks.append(
                Paragraph("SNB solved with ARX 3.9.2's equations (snb='arx'), as ARX reports it.")
            )
        return Section("Population uniqueness (estimated)", blocks)


def _number(value: Any, name: str, expected: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterError(f"{name} must be {expected}; got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ParameterError(f"{name} must be {expected}; got {value!r}")
    return number


def check_sampling(sampling_fraction: Any, population_size: Any) -> None:
    """Refuse sampling parameters that cannot be right whatever the table (before any work)."""
    if (sampling_fraction is None) == (population_size is None):
        raise ParameterError(
            "give the sampling fraction (the share of the population in the table, e.g. "
            "sampling_fraction=0.01) or the population size, one of the two"
        )
    if sampling_fraction is not None:
        expected = "a number in (0, 1]: the share of the population the table holds"
        f = _number(sampling_fraction, "sampling_fraction", expected)
        if not 0 < f <= 1:
            raise ParameterError(
                f"sampling_fraction must be in (0, 1], the share of the population the table "
                f"holds (0.01 for a 1% sample); got {sampling_fraction!r}"
            )
    else:
        expected = "a number of people at least the table's record count"
        if _number(population_size, "population_size", expected) <= 0:
            raise ParameterError(f"population_size must be {expected}; got {population_size!r}")


def population_size_of(
    n_records: int, sampling_fraction: Any = None, population_size: Any = None
) -> tuple[float, float]:
    """Check the sampling parameters; return (population size, sampling fraction).

    The population size is ``n / f`` computed as ARX does, ``(1 / f) * n``.
    """
    check_sampling(sampling_fraction, population_size)
    if sampling_fraction is not None:
        f = float(sampling_fraction)
        return (1.0 / f) * n_records, f
    size = float(population_size)
    if size < n_records:
        raise ParameterError(
            f"population_size must be at least the {n_records:,} records of the table (it is "
            f"the population they were sampled from); got {population_size!r}"
        )
    return size, n_records / size


def _dankar(
    f: float, uniques: dict[str, float | None], sample_uniques: int
) -> tuple[str | None, str]:
    """Dankar et al.'s (2012) choice of model, as ARX implements it, and why."""
    if sample_uniques == 0:
        return None, "no record is unique in the sample, so none is unique in the population"
    if f <= DANKAR_PITMAN_UP_TO:
        why = f"the sampling fraction {f:.3g} is at most {DANKAR_PITMAN_UP_TO}: Pitman's model"
        if uniques["pitman"] is not None:
            return "pitman", why
        return "zayatz", why + " has no estimate here, so Zayatz's"
    why = f"the sampling fraction {f:.3g} is above {DANKAR_PITMAN_UP_TO}: the smaller of "
    if uniques["snb"] is None:
        return "zayatz", why + "Zayatz's and the SNB estimate, and SNB has none here: Zayatz's"
    zayatz = uniques["zayatz"]
    if zayatz is not None and zayatz < uniques["snb"]:
        return "zayatz", why + "Zayatz's and the SNB estimate: Zayatz's"
    return "snb", why + "Zayatz's and the SNB estimate: SNB's"


def uniqueness_of_histogram(
    size: np.ndarray,
    classes: np.ndarray,
    *,
    sampling_fraction: Any = None,
    population_size: Any = None,
    snb: str = "paper",
) -> PopulationUniqueness:
    """Population uniqueness from a class-size histogram (``classes[i]`` classes of ``size[i]``)."""
    if snb not in _SNB_VARIANTS:
        raise ParameterError(f"snb must be 'paper' or 'arx'; got {snb!r}")
    size = np.asarray(size, dtype=np.int64)
    classes = np.asarray(classes, dtype=np.int64)
    keep = classes > 0
    size, classes = size[keep], classes[keep]
    n = int((size * classes).sum())
    population, f = population_size_of(n, sampling_fraction, population_size)
    sample_uniques = int(classes[size == 1].sum())
    uniques: dict[str, float | None]
    if sample_uniques == 0:  # ARX: every model then estimates no population unique
        uniques = dict.fromkeys(MODELS, 0.0)
    else:
        uniques = {
            "pitman": pitman_uniques(size, classes, n, population),
            "zayatz": zayatz_uniques(size, classes, n, population),
            "snb": snb_uniques(size, classes, n, population, variant=snb),
        }
    model, reason = _dankar(f, uniques, sample_uniques)
    uniques["dankar"] = 0.0 if model is None else uniques[model]
    return PopulationUniqueness(
        n_records=n,
        population_size=population,
        sampling_fraction=f,
        sample_uniques=sample_uniques,
        population_uniques=uniques,
        dankar_model=model,
        dankar_reason=reason,
        snb_variant=snb,
    )


def population_uniqueness(
    data: Any,
    quasi: str | Sequence[str],
    *,
    sampling_fraction: float | None = None,
    population_size: float | None = None,
    snb: str = "paper",
) -> PopulationUniqueness:
    """Estimate how many people of the population are unique on ``quasi``, from a sample.

    Parameters
    ----------
    data
        The sample: a path, or a pandas, polars or pyarrow table.
    quasi
        Quasi-identifier columns.
    sampling_fraction
        The share of the population the table holds, in (0, 1]: 0.01 for a 1%
        sample. Give this or ``population_size``.
    population_size
        The number of people in the population the table was sampled from
        (at least the table's records).
    snb
        "paper" (default) solves Chen and McNulty's SNB equations; "arx"
        reproduces ARX 3.9.2's, which differ from the paper and rarely have a
        solution (SNB is then reported as not available, as ARX does).

    Returns
    -------
    PopulationUniqueness
        Each model's estimate of the number and share of population uniques
        (None where it has none), Dankar et al.'s (2012) choice and why, and
        the sample uniques.

    Raises
    ------
    ParameterError
        Neither or both of ``sampling_fraction`` and ``population_size``, a
        fraction outside (0, 1], a population smaller than the table, or a
        value that is not a number.

    References
    ----------
    Pitman (1996), Hoshino (2001), Zayatz (1991), Chen & McNulty (1998),
    Dankar, El Emam, Neisa & Roffey (2012), "Estimating the re-identification
    risk of clinical data sets", BMC Medical Informatics and Decision Making 12:66.
    """
    check_sampling(sampling_fraction, population_size)
    table = build_class_table(data, quasi, need_sensitive=False)
    size, classes = class_size_histogram(table.class_sizes())
    return uniqueness_of_histogram(
        size,
        classes,
        sampling_fraction=sampling_fraction,
        population_size=population_size,
        snb=snb,
    )
