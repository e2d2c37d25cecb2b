"""How numbers read in reports: short, exact where it matters."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["cell"]


def cell(value: Any) -> str:
    """Format one table cell for people (JSON keeps the full values)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "undefined"
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        if value == 0:
            return "0"
        if abs(value) >= 1e6 or abs(value) < 1e-3:
            return f"{value:.3g}"
        return f"{value:.4g}"
    return str(value)
