"""JSON for machines: strict JSON, with non-finite floats made explicit."""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["to_json"]


def _clean(value: Any) -> Any:
    # Strict JSON has no NaN or Infinity: NaN (undefined) becomes null and an
    # infinite value the string "inf" / "-inf", so no parser chokes on the output.
    # Negative zero (a mean of one value minus itself, say) is printed as 0.0:
    # "-0.0" reads as a sign where there is none.
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return 0.0 if value == 0.0 else value
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _clean(value.item())
    return value


def to_json(data: Any, *, indent: int | None = 2) -> str:
    """Serialise a ``to_dict()`` result as strict JSON."""
    return json.dumps(_clean(data), indent=indent, allow_nan=False, default=str)
