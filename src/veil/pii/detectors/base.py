"""The interface every detector implements, and the registry that names them.

A detector is a class with a ``name`` and the entity types it reports. Most
entities contain a run of digits (cards, IBANs, ids, phone numbers, IP
addresses, dates, house numbers); a detector lists the patterns of such
entities in ``digit_patterns``, each written as it continues after the
**first digit of a run** (see :mod:`veil.pii.detectors.digit_runs`), and
validates a candidate in ``accept``. The analyzer joins every detector's
patterns into one regular expression and scans the text once, so the cost
of the digit-led detectors does not add up pass by pass. Entities not led
by a digit run (e-mail, URL, IPv6, "March 3, 1981") come from ``find_other``.

Decorating a detector with :func:`register` makes it available by name to
:class:`~veil.pii.analyzer.Analyzer`; a new detector is a new module,
nothing else changes (the shape of :mod:`veil.privacy.accountants`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar, TypeVar

from veil.errors import ParameterError
from veil.pii.context import CONTEXT_BOOST, has_context
from veil.pii.findings import Finding

__all__ = ["DETECTORS", "Detector", "get_detector", "register", "word_bounded"]


class Detector:
    """Finds one family of entities in text by pattern and validation."""

    #: The name the detector is registered and reported under.
    name: ClassVar[str]
    #: The entity types it reports (keys of :data:`veil.pii.findings.ENTITY_TYPES`).
    entities: ClassVar[tuple[str, ...]]
    #: ``(pattern, lead)`` pairs: ``pattern`` continues an entity after the first
    #: digit of a run of digits; ``lead`` characters before that digit belong to
    #: the entity too (the "DE" of an IBAN, the "+" of a phone number).
    digit_patterns: ClassVar[tuple[tuple[str, int], ...]] = ()
    #: Where the patterns go in the shared scan: lower first. Checksummed and
    #: specific shapes come before loose ones (phone numbers), so that the first
    #: pattern to match is usually the right reading.
    scan_order: ClassVar[int] = 50

    def accept(self, text: str, start: int, end: int, index: int) -> Finding | None:
        """The finding for candidate ``text[start:end]`` of pattern ``index``, or None."""
        return None

    def find_other(self, text: str) -> Iterator[Finding]:
        """Entities not led by a run of digits."""
        return iter(())

    def find(self, text: str) -> Iterator[Finding]:
        """Yield the entities in ``text``, each with its span and confidence."""
        from veil.pii.detectors.digit_runs import scan_digit_runs

        yield from scan_digit_runs(text, (self,))
        yield from self.find_other(text)

    def _finding(
        self,
        text: str,
        start: int,
        end: int,
        kind: str,
        confidence: float,
        *,
        after: bool = False,
    ) -> Finding:
        """A finding whose confidence is raised when a context word stands nearby."""
        if confidence < 1.0 and has_context(text, start, end, kind, after=after):
            confidence = min(1.0, confidence + CONTEXT_BOOST)
        return Finding(start, end, kind, confidence, self.name, text[start:end])


DETECTORS: dict[str, type[Detector]] = {}

D = TypeVar("D", bound=type[Detector])


def register(cls: D) -> D:
    """Class decorator: make a detector available by its ``name``."""
    DETECTORS[cls.name] = cls
    return cls


def get_detector(name: str) -> Detector:
    """A new detector by its registered name."""
    try:
        return DETECTORS[name]()
    except KeyError:
        raise ParameterError(
            f"unknown PII detector {name!r}; known: {', '.join(sorted(DETECTORS))}"
        ) from None


def word_bounded(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is neither preceded nor followed by a letter or digit."""
    if start > 0 and text[start - 1].isalnum():
        return False
    return not (end < len(text) and text[end].isalnum())
