"""One entry point that runs the detectors (and the NER model) over a text."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from veil.errors import ParameterError
from veil.pii.detectors import DETECTORS, Detector
from veil.pii.detectors.digit_runs import scan_digit_runs
from veil.pii.findings import ENTITY_TYPES, Finding, resolve_overlaps
from veil.pii.ner import NerModel, load_ner

__all__ = ["Analyzer", "analyze"]

_NER_TYPES = ("PERSON", "LOCATION", "ORGANIZATION")


def _entity_list(entities: Iterable[str] | str | None) -> tuple[str, ...]:
    if entities is None:
        return tuple(ENTITY_TYPES)
    items = entities.split(",") if isinstance(entities, str) else entities
    names = [e.strip().upper() for e in items]
    unknown = [e for e in names if e not in ENTITY_TYPES]
    if unknown:
        raise ParameterError(
            f"unknown entity type(s) {', '.join(map(repr, unknown))}; known: "
            f"{', '.join(ENTITY_TYPES)}"
        )
    return tuple(dict.fromkeys(names))


class Analyzer:
    """Finds PII in text with the registered detectors and, when given, a spaCy NER model.

    Parameters
    ----------
    entities
        The entity types to report (default: all of
        :data:`~veil.pii.findings.ENTITY_TYPES`).
    min_confidence
        Findings scoring below this are dropped (0.5: bare nine-digit numbers
        and other weak matches need a context word to pass).
    ner
        A spaCy pipeline: an installed package name, a folder, a loaded
        ``Language`` or a :class:`~veil.pii.ner.NerModel`. Without one, no
        PERSON, LOCATION or ORGANIZATION is found.
    """

    def __init__(
        self,
        *,
        entities: Iterable[str] | str | None = None,
        min_confidence: float = 0.5,
        ner: Any = None,
    ) -> None:
        if not 0.0 <= min_confidence <= 1.0:
            raise ParameterError(f"min_confidence must be in [0, 1]; got {min_confidence}")
        self.entities = _entity_list(entities)
        self.min_confidence = min_confidence
        wanted = set(self.entities)
        self.detectors: list[Detector] = [
            cls() for cls in DETECTORS.values() if wanted.intersection(cls.entities)
        ]
        self.ner: NerModel | None = None
        if ner is not None:
            self.ner = ner if isinstance(ner, NerModel) else load_ner(ner)

    def _patterns(self, text: str) -> list[Finding]:
        # One scan for every digit-led pattern of every detector, then the others.
        found = list(scan_digit_runs(text, self.detectors))
        for detector in self.detectors:
            found.extend(detector.find_other(text))
        wanted, floor = set(self.entities), self.min_confidence
        return [f for f in found if f.type in wanted and f.confidence >= floor]

    def analyze(self, text: str) -> list[Finding]:
        """The findings in ``text``, sorted by position, no two overlapping."""
        return self.analyze_many([text])[0]

    def analyze_many(self, texts: Sequence[str]) -> list[list[Finding]]:
        """The findings of each text (NER runs them in batches)."""
        found = [self._patterns(t) for t in texts]
        if self.ner is not None and set(_NER_TYPES) & set(self.entities):
            wanted = set(self.entities)
            for i, ents in enumerate(self.ner.find_many(texts)):
                found[i].extend(
                    f for f in ents if f.type in wanted and f.confidence >= self.min_confidence
                )
        return [resolve_overlaps(f) for f in found]

    def analyze_block(self, text: str) -> list[Finding]:
        """The findings of a block of lines: patterns over it whole, NER line by line.

        What a text file is scrubbed with: one regular-expression pass per
        block is faster than one per line, and spaCy works best on short docs.
        """
        found = self._patterns(text)
        if self.ner is not None and set(_NER_TYPES) & set(self.entities):
            wanted = set(self.entities)
            lines = text.split("\n")
            offsets, pos = [], 0
            for line in lines:
                offsets.append(pos)
                pos += len(line) + 1
            for offset, ents in zip(offsets, self.ner.find_many(lines), strict=True):
                found.extend(
                    f.shifted(offset)
                    for f in ents
                    if f.type in wanted and f.confidence >= self.min_confidence
                )
        return resolve_overlaps(found)


def analyze(
    text: str,
    *,
    entities: Iterable[str] | str | None = None,
    min_confidence: float = 0.5,
    ner: Any = None,
) -> list[Finding]:
    """The PII findings in ``text`` (see :class:`Analyzer`)."""
    return Analyzer(entities=entities, min_confidence=min_confidence, ner=ner).analyze(text)
