"""The pattern detectors, one module per family, each registered by name in :data:`DETECTORS`."""

from __future__ import annotations

from veil.pii.detectors import contact, financial, national_ids, network, personal  # noqa: F401
from veil.pii.detectors.base import DETECTORS, Detector, get_detector, register

__all__ = ["DETECTORS", "Detector", "get_detector", "register"]
