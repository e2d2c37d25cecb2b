"""The interface every detector implements, and the registry that names them.

A detector is a class with a ``name``, the entity types it reports and a
``find(text)`` method yielding :class:`~veil.pii.findings.Finding` objects.
Decorating it with :func:`register` makes it available by name to
:class:`~veil.pii.analyzer.Analyzer` and to ``veil pii --entities``; a new
detector is a new module, nothing else changes (the shape of
:mod:`veil.privacy.accountants`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import ClassVar, TypeVar

from veil.errors import ParameterError
from veil.pii.context import CONTEXT_BOOST, has_context
from veil.pii.findings import Finding

__all__ = ["DETECTORS", "Detector", "get_detector", "register"]


class Detector(ABC):
    """Finds one family of entities in text by pattern and validation."""

    #: The name the detector is registered and reported under.
    name: ClassVar[str]
    #: The entity types it reports (keys of :data:`veil.pii.findings.ENTITY_TYPES`).
    entities: ClassVar[tuple[str, ...]]

    @abstractmethod
    def find(self, text: str) -> Iterator[Finding]:
        """Yield the entities in ``text``, each with its span and confidence."""

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
