"""A statistician publishes DP statistics of a patients table under one budget.

Run: python examples/dp_budget.py [OUT_FOLDER]
Creates a ledger in OUT_FOLDER, releases a count, a mean and a histogram, and
shows that a release beyond the budget is refused before any noise is drawn.
"""

from __future__ import annotations

import sys
from pathlib import Path

import veil.dp as vdp
from veil.datasets import patients
from veil.errors import BudgetExceededError
from veil.ledger import Ledger

out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
table = patients(5_000, seed=0)
ledger = Ledger(out / "veil-ledger.db", create=True)
ledger.add_dataset("patients", epsilon=1.0, delta=1e-6)

common = {"dataset": "patients", "ledger": ledger}
n = vdp.count(table, epsilon=0.2, **common)
age = vdp.mean(table, "age", bounds=(0, 100), epsilon=0.3, **common)
stay = vdp.histogram(table, "length_of_stay", bounds=(0, 30), bins=10, epsilon=0.4, **common)
print(
    f"records ~ {n.value:.0f}, mean age ~ {age.value:.1f} "
    f"(95% interval {age.ci_low[0]:.1f} to {age.ci_high[0]:.1f})"
)
try:
    vdp.mean(table, "age", bounds=(0, 100), epsilon=0.5, **common)
except BudgetExceededError as err:
    print(f"refused: {err}")
print(ledger.status("patients").to_dict())
