"""National identity numbers with their validity rules: US SSN, Spanish DNI and NIE."""

from __future__ import annotations

from veil.pii.checksums import dni_valid, nie_valid, ssn_valid
from veil.pii.detectors.base import Detector, register, word_bounded
from veil.pii.findings import Finding

__all__ = ["SpanishIdDetector", "UsSsnDetector"]


@register
class UsSsnDetector(Detector):
    """US social security numbers that follow the SSA's allocation rules.

    ``123-45-6789`` scores 0.6 (plus the context boost after "SSN"...); nine
    bare digits score 0.2, so they are reported only after a context word.
    The rules (:func:`veil.pii.checksums.ssn_valid`) have no check digit,
    hence the lower scores than for checksummed identifiers.
    """

    name = "us_ssn"
    entities = ("US_SSN",)
    scan_order = 20
    digit_patterns = ((r"\d{2}-\d{2}-\d{4}", 0), (r"\d{2} \d{2} \d{4}", 0), (r"\d{8}", 0))

    def accept(self, text: str, start: int, end: int, index: int) -> Finding | None:
        if not word_bounded(text, start, end):
            return None
        if (start > 0 and text[start - 1] in "-+.") or (end < len(text) and text[end] == "-"):
            return None
        if not ssn_valid(text[start:end]):
            return None
        return self._finding(text, start, end, "US_SSN", 0.2 if index == 2 else 0.6)


@register
class SpanishIdDetector(Detector):
    """Spanish DNI (8 digits and a letter) and NIE (X/Y/Z, 7 digits, a letter), letter checked.

    The letter is the number modulo 23 looked up in a fixed table, so a right
    letter by chance happens once in 23: 0.85, and 1 after "DNI"/"NIE".
    """

    name = "es_id"
    entities = ("ES_DNI", "ES_NIE")
    scan_order = 20
    digit_patterns = (
        (r"\d{7}-?[A-Za-z]", 0),
        (r"(?<=(?<![A-Za-z0-9])[XYZxyz]\d)\d{6}-?[A-Za-z]", 1),
        (r"(?<=(?<![A-Za-z0-9])[XYZxyz]-\d)\d{6}-?[A-Za-z]", 2),
    )

    def accept(self, text: str, start: int, end: int, index: int) -> Finding | None:
        if not word_bounded(text, start, end):
            return None
        value = text[start:end].replace("-", "")
        if index == 0:
            return self._finding(text, start, end, "ES_DNI", 0.85) if dni_valid(value) else None
        return self._finding(text, start, end, "ES_NIE", 0.85) if nie_valid(value) else None
