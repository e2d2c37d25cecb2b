"""A data steward checks how identifiable a discharge extract is before sharing it.

Run: python examples/assess_patients.py [OUT_FOLDER]
Writes patients.csv (veil's synthetic example) and assessment.html there.
"""

from __future__ import annotations

import sys
from pathlib import Path

import veil.anonymity as va
from veil.datasets import patients

out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
table = patients(5_000, seed=0)
table.write_csv(out / "patients.csv")

# Which combinations of demographics single people out?
for quasi in (["age", "sex"], ["age", "sex", "zip"], ["age", "sex", "zip", "ethnicity"]):
    risk = va.reidentification_risk(out / "patients.csv", quasi)
    print(
        f"{'+'.join(quasi):28s} k={va.k_anonymity(table, quasi):<3d} "
        f"unique records {risk.unique_share:6.1%}  at risk {risk.prosecutor_at_risk:6.1%}"
    )

# Full assessment of the release the steward has in mind.
report = va.assess(table, ["age", "sex", "zip"], ["diagnosis"])
report.save_html(out / "assessment.html")
print(
    f"l-diversity of diagnosis: {report.techniques['l-diversity']}; "
    f"report written to {out / 'assessment.html'}"
)
