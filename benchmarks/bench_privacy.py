"""Privacy accounting: epsilon of a DP-SGD run by veil, dp-accounting and Opacus, side by side.

The setting of the issue that asked for it: MNIST-sized data (60,000 rows),
batch 256, noise multiplier 1.1, 60 epochs, delta 1e-5. veil's
``PrivacyLoss.from_event`` tries every registered accountant and keeps the
tightest; dp-accounting's PLD and RDP and Opacus' RDP and PRV are each called
directly, once per round, in turn (ratios, not absolute times, are what count).
"""

from __future__ import annotations

from harness import markdown_table, side_by_side, update_section
from veil.privacy import PoissonSampledGaussianEvent, PrivacyLoss, compose

Q, SIGMA, EPOCHS, DELTA = 256 / 60000, 1.1, 60, 1e-5
STEPS = int(EPOCHS / Q)
EVENT = PoissonSampledGaussianEvent(noise_multiplier=SIGMA, sampling_probability=Q, steps=STEPS)


def _dp_accounting(kind: str) -> float:
    from dp_accounting import dp_event as ev
    from dp_accounting.pld.pld_privacy_accountant import PLDAccountant
    from dp_accounting.rdp.rdp_privacy_accountant import RdpAccountant

    accountant = PLDAccountant() if kind == "pld" else RdpAccountant()
    accountant.compose(
        ev.SelfComposedDpEvent(ev.PoissonSampledDpEvent(Q, ev.GaussianDpEvent(SIGMA)), STEPS)
    )
    return float(accountant.get_epsilon(DELTA))


def _opacus(kind: str) -> float | None:
    try:
        from opacus.accountants import PRVAccountant, RDPAccountant
    except ImportError:
        return None
    accountant = PRVAccountant() if kind == "prv" else RDPAccountant()
    accountant.history = [(SIGMA, Q, STEPS)]
    return float(accountant.get_epsilon(DELTA))


def main() -> None:
    values: dict[str, float | None] = {}
    computations = {
        "veil from_event (all accountants)": lambda: (
            PrivacyLoss.from_event(EVENT, delta=DELTA).epsilon
        ),
        "dp-accounting PLD": lambda: _dp_accounting("pld"),
        "dp-accounting RDP": lambda: _dp_accounting("rdp"),
        "Opacus PRV": lambda: _opacus("prv"),
        "Opacus RDP": lambda: _opacus("rdp"),
    }
    fns = {
        name: (lambda name=name, fn=fn: values.__setitem__(name, fn()))
        for name, fn in computations.items()
    }
    times = side_by_side(fns, repeat=5, warmup=1)
    loss = PrivacyLoss.from_event(EVENT, delta=DELTA)
    by = compose([loss], DELTA).by_accountant
    base = times["veil from_event (all accountants)"]
    rows = []
    for name, seconds in times.items():
        eps = values.get(name)
        rows.append(
            [
                name,
                f"{eps:.4f}" if eps is not None else "not installed",
                f"{seconds * 1e3:.0f}",
                f"{base / seconds:.2f}",
            ]
        )
    table = markdown_table(["accountant", "epsilon", "ms", "veil / this"], rows)
    md = f"""## Privacy accounting (`benchmarks/bench_privacy.py`)

DP-SGD on 60,000 rows: batch 256 (q = {Q:.6f}), noise multiplier {SIGMA}, {EPOCHS}
epochs ({STEPS:,} steps), delta {DELTA:g}. veil's `PrivacyLoss.from_event` runs
every registered accountant (basic, zCDP, RDP, PLD) and keeps the tightest: here
PLD, {by["pld"]:.4f} (its RDP: {by["rdp"]:.4f}). Median of 5 rounds, called in turn.

{table}
"""
    update_section("privacy", md)
    print(md)


if __name__ == "__main__":
    main()
