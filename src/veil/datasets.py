"""Example data veil generates itself: realistic, seeded, and nobody's real record.

``patients`` imitates a hospital discharge extract: demographics that act as
quasi-identifiers (age, sex, ZIP code, birth date...), a direct identifier
(the record number) and sensitive attributes (diagnosis, length of stay).
Values are drawn with the dependencies real extracts have: diagnoses depend
on age and sex, ZIP codes cluster in a few regions, stays depend on the
diagnosis. Because the randomness here is not a privacy mechanism, it is
seeded for reproducibility.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from veil.errors import ParameterError
from veil.roles import Roles

__all__ = ["EXAMPLE_ROLES", "patients"]

#: The column roles the example is meant to be assessed with.
EXAMPLE_ROLES = Roles(
    identifier=("record_id",),
    quasi=("age", "sex", "zip", "ethnicity", "marital_status", "education"),
    sensitive=("diagnosis",),
)

_REGIONS = {  # 3-digit ZIP prefix -> share of patients
    "021": 0.34,
    "024": 0.22,
    "017": 0.16,
    "018": 0.12,
    "010": 0.09,
    "026": 0.07,
}
_ETHNICITY = {
    "White": 0.62,
    "Black": 0.13,
    "Hispanic": 0.12,
    "Asian": 0.08,
    "Other": 0.05,
}
_EDUCATION = ["Primary", "Secondary", "Bachelor", "Master", "Doctorate"]
# diagnosis -> (base weight, age slope per decade, extra weight if female)
_DIAGNOSES = {
    "Hypertension": (0.16, 0.30, 0.0),
    "Type 2 diabetes": (0.10, 0.20, 0.0),
    "Asthma": (0.10, -0.10, 0.02),
    "Depression": (0.09, -0.02, 0.05),
    "Pneumonia": (0.07, 0.08, 0.0),
    "Fracture": (0.08, 0.02, 0.0),
    "Heart failure": (0.03, 0.25, -0.01),
    "Migraine": (0.06, -0.08, 0.06),
    "COPD": (0.04, 0.18, -0.01),
    "Pregnancy care": (0.05, -0.50, 0.0),
    "HIV": (0.015, -0.03, -0.005),
    "Cancer": (0.04, 0.22, 0.0),
}
_STAY_MEAN = {  # mean length of stay in days, by diagnosis
    "Hypertension": 2.5,
    "Type 2 diabetes": 3.5,
    "Asthma": 2.0,
    "Depression": 6.0,
    "Pneumonia": 5.5,
    "Fracture": 4.5,
    "Heart failure": 7.0,
    "Migraine": 1.5,
    "COPD": 6.5,
    "Pregnancy care": 3.0,
    "HIV": 5.0,
    "Cancer": 9.0,
}

# diagnosis -> added log-odds of readmission within 30 days
_READMISSION = {
    "Hypertension": 0.0,
    "Type 2 diabetes": 0.5,
    "Asthma": -0.3,
    "Depression": 0.3,
    "Pneumonia": 0.6,
    "Fracture": -0.2,
    "Heart failure": 1.3,
    "Migraine": -0.8,
    "COPD": 1.1,
    "Pregnancy care": -1.2,
    "HIV": 0.7,
    "Cancer": 1.0,
}


def _ages(rng: np.random.Generator, n: int) -> np.ndarray:
    # A mixture that gives the older-skewed age profile of hospital admissions.
    young = rng.normal(32, 12, n)
    old = rng.normal(66, 13, n)
    pick = rng.random(n) < 0.55
    return np.clip(np.where(pick, old, young), 0, 99).round().astype(np.int64)


def patients(n: int = 5_000, *, seed: int = 0) -> pl.DataFrame:
    """A synthetic hospital-discharge table of ``n`` patients.

    Columns: record_id (direct identifier); age, sex, zip, birth_date,
    ethnicity, marital_status, education (quasi-identifiers); diagnosis and
    length_of_stay (sensitive); readmitted ("yes"/"no" within 30 days, the target
    the demo's private model learns). ``EXAMPLE_ROLES`` gives the roles the demo uses.

    Parameters
    ----------
    n
        Number of rows (at least 1).
    seed
        Seed of the generator; the same seed gives the same table.
    """
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ParameterError(f"n must be a positive whole number of rows; got {n!r}")
    rng = np.random.default_rng(seed)
    age = _ages(rng, n)
    female = rng.random(n) < 0.52
    sex = np.where(female, "F", "M")

    prefixes = list(_REGIONS)
    region = rng.choice(len(prefixes), size=n, p=list(_REGIONS.values()))
    # Within a region, a handful of populous ZIPs and a long tail of small ones.
    suffix = np.minimum(rng.zipf(1.6, size=n), 99) - 1
    zips = np.array([f"{prefixes[r]}{s:02d}" for r, s in zip(region, suffix, strict=True)])

    today = dt.date(2026, 1, 1)
    day_of_year = rng.integers(0, 365, size=n)
    birth = [
        dt.date(today.year - 1 - int(a), 1, 1) + dt.timedelta(days=int(d))
        for a, d in zip(age, day_of_year, strict=True)
    ]

    ethnicity = rng.choice(list(_ETHNICITY), size=n, p=list(_ETHNICITY.values()))
    married_p = np.clip((age - 18) / 40, 0, 0.65)
    u = rng.random(n)
    widowed_p = np.clip((age - 60) / 80, 0, 0.35)
    marital = np.where(
        age < 18,
        "Never married",
        np.where(
            u < married_p,
            "Married",
            np.where(
                u < married_p + widowed_p,
                "Widowed",
                np.where(u < married_p + widowed_p + 0.12, "Divorced", "Never married"),
            ),
        ),
    )
    edu_level = np.clip(rng.normal(1.6, 1.0, n) + (age > 25) * 0.3 - (age < 18) * 1.5, 0, 4).round()
    education = np.array(_EDUCATION)[edu_level.astype(int)]

    names = list(_DIAGNOSES)
    decades = (age[:, None] - 45) / 10
    base = np.array([v[0] for v in _DIAGNOSES.values()])[None, :]
    slope = np.array([v[1] for v in _DIAGNOSES.values()])[None, :]
    fem = np.array([v[2] for v in _DIAGNOSES.values()])[None, :]
    weights = base * np.exp(slope * decades) + fem * female[:, None]
    pregnancy = names.index("Pregnancy care")
    weights[:, pregnancy] *= female & (age >= 16) & (age <= 48)
    weights = np.clip(weights, 1e-6, None)
    weights /= weights.sum(axis=1, keepdims=True)
    cumulative = weights.cumsum(axis=1)
    draw = rng.random(n)[:, None]
    diagnosis_idx = np.minimum((draw > cumulative).sum(axis=1), len(names) - 1)
    diagnosis = np.array(names)[diagnosis_idx]
    stay_mean = np.array([_STAY_MEAN[d] for d in names])[diagnosis_idx]
    length_of_stay = 1 + rng.poisson(stay_mean * (1 + np.maximum(age - 60, 0) / 60))
    # Readmission within 30 days, more likely when old, after long stays and for
    # chronic conditions: a target a model can learn (the demo's `veil train`).
    # Its own generator, so the columns above do not change with it.
    risk = np.array([_READMISSION[d] for d in names])[diagnosis_idx]
    logit = -2.0 + 0.35 * (age - 60) / 10 + 0.15 * (length_of_stay - 5) + risk
    readmitted = np.random.default_rng([seed, 1]).random(n) < 1 / (1 + np.exp(-logit))

    return pl.DataFrame(
        {
            "record_id": [f"P{100000 + i}" for i in range(n)],
            "age": age,
            "sex": sex,
            "zip": zips,
            "birth_date": birth,
            "ethnicity": ethnicity,
            "marital_status": marital,
            "education": education,
            "diagnosis": diagnosis,
            "length_of_stay": length_of_stay.astype(np.int64),
            "readmitted": np.where(readmitted, "yes", "no"),
        }
    )
