"""What a detector reports: one :class:`Finding` per entity found in a text."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable
from typing import Any, NamedTuple

__all__ = ["ENTITY_TYPES", "Finding", "resolve_overlaps"]

#: Every entity type veil's detectors and NER report, with what it is.
ENTITY_TYPES: dict[str, str] = {
    "EMAIL": "e-mail address",
    "PHONE": "telephone number (international or national format)",
    "CREDIT_CARD": "payment card number passing the Luhn check",
    "IBAN": "international bank account number passing the mod-97 check",
    "US_SSN": "US social security number (SSA's allocation rules)",
    "ES_DNI": "Spanish DNI with its check letter",
    "ES_NIE": "Spanish NIE (foreigner's number) with its check letter",
    "IP_ADDRESS": "IPv4 or IPv6 address",
    "URL": "web address",
    "DATE_OF_BIRTH": "date next to a birth context word",
    "POSTAL_ADDRESS": "street address (number, street name, street type)",
    "PERSON": "person's name (NER)",
    "LOCATION": "place name (NER)",
    "ORGANIZATION": "organisation name (NER)",
}


class Finding(NamedTuple):
    """One entity found in a text (an immutable tuple: the regex mode makes many).

    Attributes
    ----------
    start, end
        The span, as Python string offsets: ``text[start:end]`` is the entity.
    type
        One of :data:`ENTITY_TYPES`.
    confidence
        In [0, 1]: the detector's base score, raised by context words
        (:mod:`veil.pii.context`) or a passed checksum.
    source
        The rule (``"email"``, ``"credit_card"``...) or model (``"ner:PATH"``)
        that found it.
    text
        The matched text.
    """

    start: int
    end: int
    type: str
    confidence: float
    source: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "type": self.type,
            "confidence": round(self.confidence, 3),
            "source": self.source,
            "text": self.text,
        }

    def shifted(self, offset: int) -> Finding:
        """The same finding in a text that starts ``offset`` characters earlier."""
        return Finding(
            self.start + offset,
            self.end + offset,
            self.type,
            self.confidence,
            self.source,
            self.text,
        )


def _position(f: Finding) -> tuple[int, int]:
    return f.start, f.end


def resolve_overlaps(findings: Iterable[Finding]) -> list[Finding]:
    """Keep non-overlapping findings, preferring higher confidence, then longer spans.

    Two detectors may claim the same characters (a card number is also a run of
    digits a phone pattern accepts); the scrubbed text must replace each
    character once, so the most certain claim wins.
    """
    ordered = sorted(findings, key=_position)
    if all(a.end <= b.start for a, b in itertools.pairwise(ordered)):
        return ordered  # the usual case: nothing to resolve
    ranked = sorted(ordered, key=lambda f: (-f.confidence, -(f.end - f.start), f.start))
    starts: list[int] = []  # kept spans, sorted by start; they never overlap
    ends: list[int] = []
    kept: list[Finding] = []
    for f in ranked:
        i = bisect.bisect_right(starts, f.start)
        if i > 0 and ends[i - 1] > f.start:  # the span starting before reaches into f
            continue
        if i < len(starts) and starts[i] < f.end:  # the next span starts inside f
            continue
        starts.insert(i, f.start)
        ends.insert(i, f.end)
        kept.append(f)
    return sorted(kept, key=_position)
