"""How the learning reports print numbers: one place, so every table reads the same."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["num", "pct"]


def num(x: Any) -> str:
    """A number with 4 significant digits; a dash for none or not finite."""
    if x is None:
        return "-"
    if isinstance(x, float):
        return "-" if not math.isfinite(x) else f"{x:.4g}"
    return str(x)


def pct(x: float) -> str:
    """A rate as a percentage with one decimal."""
    return f"{100 * x:.1f}%"
