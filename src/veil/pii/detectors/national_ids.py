"""National identity numbers with their validity rules: US SSN, Spanish DNI and NIE."""

from __future__ import annotations

import re
from collections.abc import Iterator

from veil.pii.checksums import dni_valid, nie_valid, ssn_valid
from veil.pii.detectors.base import Detector, register, word_bounded
from veil.pii.findings import Finding

__all__ = ["SpanishIdDetector", "UsSsnDetector"]

_SSN = re.compile(r"\d(?:\d{2}([- ])\d{2}\1\d{4}|\d{8})")


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

    def find(self, text: str) -> Iterator[Finding]:
        for match in _SSN.finditer(text):
            start, end = match.span()
            if not word_bounded(text, start, end):
                continue
            if (start > 0 and text[start - 1] in "-+.") or (end < len(text) and text[end] == "-"):
                continue
            if ssn_valid(match.group()):
                base = 0.6 if match.group(1) else 0.2
                yield self._finding(text, start, end, "US_SSN", base)


_DNI = re.compile(r"\d{8}-?[A-Za-z]")
_NIE = re.compile(r"[XYZxyz]-?\d{7}-?[A-Za-z]")


@register
class SpanishIdDetector(Detector):
    """Spanish DNI (8 digits and a letter) and NIE (X/Y/Z, 7 digits, a letter), letter checked.

    The letter is the number modulo 23 looked up in a fixed table, so a right
    letter by chance happens once in 23: 0.85, and 1 after "DNI"/"NIE".
    """

    name = "es_id"
    entities = ("ES_DNI", "ES_NIE")

    def find(self, text: str) -> Iterator[Finding]:
        for match in _DNI.finditer(text):
            start, end = match.span()
            if word_bounded(text, start, end) and dni_valid(match.group().replace("-", "")):
                yield self._finding(text, start, end, "ES_DNI", 0.85)
        for match in _NIE.finditer(text):
            start, end = match.span()
            if word_bounded(text, start, end) and nie_valid(match.group().replace("-", "")):
                yield self._finding(text, start, end, "ES_NIE", 0.85)
