"""Scrubbing: text files and tables' text columns rewritten with their PII replaced.

The input is never modified; the output is written to a temporary file and
renamed over the target at the end (:func:`veil.io.atomic_path`), so a
failure half way (a non-UTF-8 byte on line 900,000) leaves no half file.
Text files are streamed in blocks of lines, so their size is not bounded by
memory; a single line longer than ``max_line_length`` is refused (a binary
or minified file, which would otherwise be held whole).
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from veil.errors import ColumnError, DataError, ParameterError
from veil.io import atomic_path, to_polars, write_table
from veil.outputs import check_output
from veil.pii.analyzer import Analyzer
from veil.pii.columns import DIRECT, scan_columns
from veil.pii.findings import Finding
from veil.pii.operators import Operator, make_operator
from veil.report import Document, Result, Section, Table

__all__ = ["ScrubResult", "scrub_file", "scrub_text", "scrub_values"]

#: Suffixes read as tables; any other file is scrubbed as text.
TABLE_SUFFIXES = {".csv", ".tsv", ".parquet", ".pq", ".arrow", ".feather", ".ipc"}
_BLOCK = 1 << 20  # bytes read at a time from a text file


def _apply(text: str, findings: Sequence[Finding], operator: Operator) -> str:
    """``text`` with each finding replaced by the operator's output."""
    if not findings:
        return text
    parts, pos = [], 0
    for f in findings:
        parts.append(text[pos : f.start])
        parts.append(operator.apply(f.text, f.type))
        pos = f.end
    parts.append(text[pos:])
    return "".join(parts)


@dataclass
class ScrubResult(Result):
    """What a scrub found and replaced."""

    counts: dict[str, int] = field(default_factory=dict)
    operator: str = "replace"
    kind: str = "text"
    units: int = 0  # lines of a text file, rows of a table
    columns: list[str] = field(default_factory=list)
    output: str | None = None
    text: str | None = None

    def add(self, findings: Iterable[Finding]) -> None:
        for f in findings:
            self.counts[f.type] = self.counts.get(f.type, 0) + 1

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "operator": self.operator,
            "replaced": dict(sorted(self.counts.items())),
            "total": sum(self.counts.values()),
            "lines" if self.kind == "text" else "rows": self.units,
            "output": self.output,
        }
        if self.kind == "table":
            out["columns"] = list(self.columns)
        return out

    def to_document(self) -> Document:
        rows = [[k, v] for k, v in sorted(self.counts.items())] or [["(none found)", 0]]
        what = f"{self.units:,} {'lines' if self.kind == 'text' else 'rows'}"
        if self.columns:
            what += f", columns {', '.join(self.columns)}"
        return Document(
            title="PII scrub",
            subtitle=f"{what}; operator {self.operator}; written to {self.output}",
            sections=[Section("Replaced", [Table(["entity", "count"], rows)])],
        )


def _as_operator(operator: str | Operator, key: bytes | str | None) -> Operator:
    return operator if isinstance(operator, Operator) else make_operator(operator, key=key)


def scrub_text(
    text: str,
    *,
    operator: str | Operator = "replace",
    key: bytes | str | None = None,
    analyzer: Analyzer | None = None,
    **analyzer_options: Any,
) -> ScrubResult:
    """Replace the PII in a string; ``result.text`` is the scrubbed string.

    ``analyzer_options`` (``entities``, ``min_confidence``, ``ner``) build the
    :class:`~veil.pii.analyzer.Analyzer` when none is given.
    """
    op = _as_operator(operator, key)
    analyzer = analyzer or Analyzer(**analyzer_options)
    found = analyzer.analyze_block(text)
    result = ScrubResult(operator=op.name, units=text.count("\n") + 1)
    result.add(found)
    result.text = _apply(text, found, op)
    return result


def _check_input(path: Path) -> None:
    if not path.exists():
        raise DataError(f"file {str(path)!r} does not exist")
    if path.is_dir():
        raise DataError(f"{str(path)!r} is a folder; give a text file or a table")
    if not os.access(path, os.R_OK):
        raise DataError(f"file {str(path)!r} cannot be read (permission denied)")


def _text_blocks(path: Path, max_line_length: int) -> Iterable[tuple[str, int]]:
    """Blocks of whole lines decoded as UTF-8, with their line count; refuses binary input."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")("strict")
    carry, offset, line_no, line_len = "", 0, 1, 0
    with open(path, "rb") as fh:
        while True:
            raw = fh.read(_BLOCK)
            final = not raw
            nul = raw.find(0)
            if nul >= 0:
                raise DataError(
                    f"{str(path)!r} is a binary file (a NUL byte at offset {offset + nul:,}); "
                    "veil pii scrubs UTF-8 text and tables"
                )
            try:
                text = decoder.decode(raw, final=final)
            except UnicodeDecodeError as err:
                raise _not_utf8(path, raw, err, offset, line_no + carry.count("\n")) from err
            offset += len(raw)
            # Each line's length, the first one continuing the last block's unfinished line.
            lengths = [len(part) for part in text.split("\n")]
            lengths[0] += line_len
            longest = max(lengths)
            if longest > max_line_length:
                at = line_no + carry.count("\n") + lengths.index(longest)
                _too_long(path, at, longest, max_line_length)
            line_len = lengths[-1]
            block = carry + text
            if final:
                if block:
                    yield block, block.count("\n") + (0 if block.endswith("\n") else 1)
                return
            cut = block.rfind("\n")
            if cut < 0:
                carry = block
                continue
            done, carry = block[: cut + 1], block[cut + 1 :]
            lines = done.count("\n")
            line_no += lines
            yield done, lines


def _not_utf8(path: Path, raw: bytes, err: UnicodeDecodeError, offset: int, line: int) -> DataError:
    if err.start >= len(raw):
        return DataError(f"{str(path)!r} ends inside a UTF-8 character: truncated, or not text")
    return DataError(
        f"{str(path)!r} is not UTF-8 text (byte 0x{raw[err.start]:02x} at offset "
        f"{offset + err.start:,}, near line {line:,}); convert it first, e.g. "
        f"`iconv -f latin1 -t utf-8 {path.name} > {path.stem}.utf8{path.suffix}`"
    )


def _too_long(path: Path, line: int, length: int, limit: int) -> None:
    raise DataError(
        f"{str(path)!r}: line {line:,} has over {limit:,} characters ({length:,} read); this "
        "looks like a binary or minified file. Split it into lines, or raise the limit "
        "(--max-line-length)"
    )


def scrub_values(
    values: Sequence[str],
    *,
    operator: Operator,
    analyzer: Analyzer,
    whole_kind: str | None = None,
) -> tuple[list[str], list[list[Finding]]]:
    """Scrub each value; with ``whole_kind``, a value without findings is replaced whole.

    Returns the scrubbed values and, for each, what was replaced in it.

    ``whole_kind`` is for a column of direct identifiers whose values no
    pattern recognises (names without NER, customer numbers): the column scan
    names their kind.
    """
    out: list[str] = []
    per_value: list[list[Finding]] = []
    for value, found in zip(values, analyzer.analyze_many(values), strict=True):
        if found:
            out.append(_apply(value, found, operator))
        elif whole_kind is not None and value.strip():
            found = [Finding(0, len(value), whole_kind, 1.0, "column scan", value)]
            out.append(operator.apply(value, whole_kind))
        else:
            out.append(value)
        per_value.append(found)
    return out, per_value


def _scrub_table(
    source: Path,
    output: Path,
    operator: Operator,
    analyzer: Analyzer,
    columns: Sequence[str] | None,
) -> ScrubResult:
    frame, table_source = to_polars(source)
    assert isinstance(frame, pl.DataFrame)
    if columns:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ColumnError(
                f"column(s) {', '.join(map(repr, missing))} not found; columns are: "
                f"{', '.join(frame.columns)}"
            )
        chosen = list(columns)
    else:
        chosen = [c for c in frame.columns if frame.schema[c] == pl.String]
    scan = {c.name: c for c in scan_columns(frame.select(chosen), analyzer=analyzer).columns}
    result = ScrubResult(operator=operator.name, kind="table", units=frame.height)
    result.columns = chosen
    replaced = []
    for name in chosen:
        column = scan[name]
        whole = None
        if column.category == DIRECT and column.kind != "FREE_TEXT":
            whole = column.kind or "IDENTIFIER"
        text = frame[name].cast(pl.String)
        # Each distinct value is analysed once; its findings count once per row holding it.
        tally = text.drop_nulls().value_counts()
        distinct = tally[name].to_list()
        rows = tally["count"].to_list()
        new, found = scrub_values(distinct, operator=operator, analyzer=analyzer, whole_kind=whole)
        for findings, times in zip(found, rows, strict=True):
            for f in findings:
                result.counts[f.type] = result.counts.get(f.type, 0) + times
        mapping = dict(zip(distinct, new, strict=True))
        replaced.append(text.replace_strict(mapping, default=None, return_dtype=pl.String))
    write_table(frame.with_columns(replaced), output, formats=table_source.formats)
    return result


def scrub_file(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    operator: str | Operator = "replace",
    key: bytes | str | None = None,
    columns: Sequence[str] | None = None,
    analyzer: Analyzer | None = None,
    as_text: bool | None = None,
    max_line_length: int = 1_000_000,
    **analyzer_options: Any,
) -> ScrubResult:
    """Write a copy of a text file or a table with its PII replaced.

    Parameters
    ----------
    source, output
        The input (never modified) and the new file (written atomically).
    operator
        ``replace`` (type tag, the default), ``redact``, ``mask``,
        ``pseudonymize``, ``fake`` or ``encrypt`` (see :mod:`veil.pii.operators`).
    key
        The key of ``pseudonymize``/``encrypt`` (and of a consistent ``fake``).
    columns
        For a table: the columns to scrub (default: every text column). A
        column the scan finds to be a direct identifier whose values no
        detector recognises (names without NER) is replaced value by value.
    as_text
        Force text (True) or table (False); by default tables are told by suffix.
    max_line_length
        Longest line of a text file accepted, in characters.

    Raises
    ------
    DataError
        The input is missing, binary, not UTF-8, or holds a line over the limit.
    ParameterError
        Unknown operator, keyed operator without key, bad output path.
    """
    src, out = Path(source), Path(output)
    _check_input(src)
    check_output(out, option="the output", inputs=[src])
    if max_line_length < 1:
        raise ParameterError(f"max_line_length must be at least 1; got {max_line_length}")
    op = _as_operator(operator, key)
    analyzer = analyzer or Analyzer(**analyzer_options)
    table = src.suffix.lower() in TABLE_SUFFIXES if as_text is None else not as_text
    if table:
        if columns is not None and not columns:
            raise ParameterError("columns is empty; name at least one column or leave it out")
        result = _scrub_table(src, out, op, analyzer, columns)
    else:
        if columns:
            raise ParameterError(
                f"--columns applies to tables; {str(src)!r} is scrubbed as text (give a .csv, "
                ".tsv or .parquet file, or leave --columns out)"
            )
        result = ScrubResult(operator=op.name, kind="text")
        with atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
            for block, lines in _text_blocks(src, max_line_length):
                found = analyzer.analyze_block(block)
                result.add(found)
                result.units += lines
                fh.write(_apply(block, found, op))
    result.output = str(out)
    return result
