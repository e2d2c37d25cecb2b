"""Column scan: classes with evidence, and the roles proposed for assess/anonymize."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from veil.pii import scan_columns


def test_scan_classifies_columns_with_evidence() -> None:
    rng = np.random.default_rng(0)
    n = 200
    frame = pl.DataFrame(
        {
            "patient_id": [f"P{i:05d}" for i in range(n)],
            "contact": [f"user{i}@example.com" for i in range(n)],
            "Full Name": [f"Person {i}" for i in range(n)],
            "zip": [f"{int(z):05d}" for z in rng.integers(1000, 1100, n)],
            "age": rng.integers(18, 90, n),
            "diagnosis": rng.choice(["flu", "asthma", "diabetes"], n).tolist(),
            "notes": [
                f"seen today, call +44 20 7946 {i:04d} if worse"
                if i % 3 == 0
                else "seen today, all fine"
                for i in range(n)
            ],
            "score": rng.normal(size=n),
            "shift": rng.choice(["a", "b"], n).tolist(),
        }
    )
    scan = scan_columns(frame)
    by = {c.name: c for c in scan.columns}
    assert by["contact"].category == "direct identifier" and by["contact"].kind == "EMAIL"
    assert "100% of sampled distinct values are EMAIL" in by["contact"].evidence[0]
    assert by["Full Name"].kind == "PERSON"
    assert by["patient_id"].category == "direct identifier"
    # 67 distinct notes hold a phone number, 1 does not: shares are of distinct values.
    assert by["notes"].kind == "FREE_TEXT"
    assert by["notes"].pii_share["PHONE"] == pytest.approx(67 / 68)
    assert by["zip"].category == "quasi-identifier"
    assert by["age"].category == "quasi-identifier"
    assert by["diagnosis"].category == "sensitive"
    assert by["score"].category == "other" and by["shift"].category == "other"
    assert scan.quasi == ["zip", "age"] and scan.sensitive == ["diagnosis"]
    cmd = scan.commands()
    assert cmd["assess"] == "veil assess DATA -q zip,age -s diagnosis"
    assert "--identifier 'patient_id,contact,Full Name,notes'" in cmd["anonymize"]
    assert scan.to_dict()["proposed_roles"]["identifier"] == [
        "patient_id", "contact", "Full Name", "notes",
    ]  # fmt: skip


def test_scan_adult(shared_data: Path) -> None:
    scan = scan_columns(shared_data / "adult.csv", sample=200)
    assert scan.identifier == []
    assert {"age", "sex", "race", "native-country", "education"} <= set(scan.quasi)
    assert "salary-class" in scan.sensitive
