"""The document model every report is built from, and the base of result objects."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from veil.report.charts import Chart

__all__ = ["Block", "Document", "Paragraph", "Result", "Section", "Table"]


@dataclass
class Paragraph:
    """Plain-language text; ``tone`` is "note", "good" or "warn" for emphasis."""

    text: str
    tone: str = "note"


@dataclass
class Table:
    """A table of cells; cells are str, int, float or None (shown as a dash)."""

    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    title: str | None = None


# What a section holds, in order: text, tables and charts (see veil.report.charts).
Block = Paragraph | Table | Chart


@dataclass
class Section:
    """A titled part of a document: its blocks, in reading order."""

    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Document:
    """A whole report: a title, a subtitle saying what it is about, and its sections."""

    title: str
    sections: list[Section] = field(default_factory=list)
    subtitle: str = ""


class Result(ABC):
    """Base of every result object: knows its data and how it reads as a document."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """Everything computed, as plain Python types (JSON-ready after :func:`to_json`)."""

    @abstractmethod
    def to_document(self) -> Document:
        """The human-readable form, shared by the terminal and HTML renderers."""

    def to_json(self, *, indent: int | None = 2) -> str:
        from veil.report.jsonify import to_json

        return to_json(self.to_dict(), indent=indent)

    def to_html(self) -> str:
        from veil.report.html import render_html

        return render_html(self.to_document())

    def save_html(self, path: str | os.PathLike[str]) -> None:
        """Write the HTML report atomically to ``path``."""
        from veil.io import write_text

        write_text(self.to_html(), path)

    def print(self, console: Any = None) -> None:
        """Print the report on the terminal (rich)."""
        from veil.report.terminal import render_terminal

        render_terminal(self.to_document(), console)
