"""Fixtures for the anonymization tests: the textbook hospital table and Adult."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

ADULT_QUASI = ["age", "education", "marital-status", "occupation", "sex", "native-country"]
ADULT_FILES = {
    "age": "age.csv",
    "education": "education.csv",
    "marital-status": "marital.csv",
    "occupation": "occupation.csv",
    "sex": "sex.csv",
    "native-country": "country.csv",
}


@pytest.fixture(scope="session")
def adult(shared_data: Path) -> pl.DataFrame:
    """UCI Adult with the leading spaces of its text values stripped (ANJANA's form)."""
    frame = pl.read_csv(shared_data / "adult.csv")
    return frame.with_columns(pl.col(pl.String).str.strip_chars())


@pytest.fixture(scope="session")
def adult_hierarchies(shared_data: Path) -> dict[str, Path]:
    """ANJANA's ARX-format hierarchies for Adult's quasi-identifiers."""
    folder = shared_data / "hierarchies" / "adult"
    return {column: folder / name for column, name in ADULT_FILES.items()}


@pytest.fixture
def hospital() -> pl.DataFrame:
    """The inpatient table of Machanavajjhala et al. 2007 (Figure 1)."""
    rows = [
        ("13053", 28, "Russian", "Heart Disease"),
        ("13068", 29, "American", "Heart Disease"),
        ("13068", 21, "Japanese", "Viral Infection"),
        ("13053", 23, "American", "Viral Infection"),
        ("14853", 50, "Indian", "Cancer"),
        ("14853", 55, "Russian", "Heart Disease"),
        ("14850", 47, "American", "Viral Infection"),
        ("14850", 49, "American", "Viral Infection"),
        ("13053", 31, "American", "Cancer"),
        ("13053", 37, "Indian", "Cancer"),
        ("13068", 36, "Japanese", "Cancer"),
        ("13068", 35, "American", "Cancer"),
    ]
    return pl.DataFrame(rows, schema=["zip", "age", "nationality", "condition"], orient="row")
