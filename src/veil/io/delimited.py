"""Delimited text files (CSV, TSV): encoding, delimiter, and the one rule for malformed files.

The rule, the same for every command: a table file is a header line and
records of exactly as many fields as the header, separated by one delimiter,
with fields quoted RFC 4180 style (``"a, b"``, a quote inside a quoted field
written twice). A record with too many or too few fields, a blank line between
records, or a quote that is never closed makes the file malformed: it is
refused with the line to fix, never read with values moved to the wrong
column or filled with missing values. Blank lines at the end of the file are
ignored. Every value is read as text here; :mod:`veil.io.column_types` then
gives each column a type from all of its values.

Checking every record costs a pass over the bytes, so it runs only when a
record may be malformed: polars refuses a record with too many fields itself,
and a record with too few leaves the last column missing, so a file whose last
column has no missing value is well formed.
"""

from __future__ import annotations

import csv
import io as _stdio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from veil.errors import DataError, ParameterError
from veil.io.column_types import SAMPLE_ROWS

__all__ = ["DelimitedFile", "first_line", "has_text_bom", "open_delimited"]

_SNIFF_BYTES = 64 * 1024
_CHUNK_BYTES = 1 << 20
_QUOTE = ord('"')
_NEWLINE = ord("\n")
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def has_text_bom(head: bytes) -> bool:
    """Whether ``head`` starts with a Unicode byte order mark (UTF-16 text holds NUL bytes)."""
    return head.startswith(_BOMS)


@dataclass(frozen=True)
class DelimitedFile:
    """A delimited text file, ready to be read as text columns.

    Attributes
    ----------
    path
        The file.
    delimiter, encoding
        As given or detected.
    data
        The file re-encoded as UTF-8 when it is in another encoding (polars
        reads only UTF-8), else ``None``: the file is read from disk.
    """

    path: Path
    delimiter: str
    encoding: str
    data: bytes | None = None

    def text(self, *, lazy: bool) -> tuple[pl.DataFrame | pl.LazyFrame, pl.DataFrame]:
        """Every value as text (lazy: scanned, for files larger than memory), and the first rows.

        Nothing is checked yet: :meth:`record_checks` and :meth:`records` do
        it in the caller's pass over the data, or :meth:`check` in its own.
        """
        options: dict[str, Any] = {"separator": self.delimiter, "infer_schema": False}
        try:
            if lazy and self.data is None:
                frame: pl.DataFrame | pl.LazyFrame = pl.scan_csv(self.path, **options)
                sample = frame.head(SAMPLE_ROWS).collect()
            else:
                source = self.path if self.data is None else _stdio.BytesIO(self.data)
                frame = pl.read_csv(source, **options)
                sample = frame.head(SAMPLE_ROWS)
        except pl.exceptions.PolarsError as err:
            raise self.malformed_or(err) from err
        return (frame.lazy() if lazy else frame), sample

    @staticmethod
    def record_checks(names: list[str]) -> list[pl.Expr]:
        """One-row aggregations that tell whether a record may be malformed.

        A record with too few fields leaves the last column missing; a quote
        never closed swallows the rest of the file into the last record.
        Projecting every column also makes polars parse every field, so a
        record with too many fields is refused in that pass (an eager one: a
        lazy query parses only the columns it needs, so it is no check).
        """
        if not names:
            return []
        return [
            pl.len().alias("\x00rows"),
            pl.col(names[-1]).null_count().alias("\x00missing"),
            pl.col(names).last().name.suffix("\x00last"),
        ]

    def records(self, checks: dict[str, Any]) -> int | None:
        """Refuse a malformed file; return how many rows are records, or ``None``: all.

        Trailing blank lines are rows of missing values to polars, not records.
        """
        last = [v for k, v in checks.items() if k.endswith("\x00last")]
        spans = any(isinstance(v, str) and ("\n" in v or "\r" in v) for v in last)
        if not checks.get("\x00missing") and not spans:
            return None
        if not spans and self._delimiters_add_up(len(last)):
            return None
        trailing = self.check()
        return checks["\x00rows"] - trailing if trailing else None

    def _delimiters_add_up(self, width: int) -> bool:
        """Whether a file without quotes has ``width - 1`` delimiters per line, in total.

        After an eager read, where polars refuses any line with too many
        fields, that total proves that no line has too few: three byte counts,
        no pass line by line. Quotes or blank lines send the caller to :meth:`check`.
        """
        delimiters = lines = 0
        last = _NEWLINE
        for chunk in self._chunks():
            b = np.frombuffer(chunk, dtype=np.uint8)
            if not len(b):
                continue
            if np.count_nonzero(b == _QUOTE):
                return False
            delimiters += int(np.count_nonzero(b == ord(self.delimiter)))
            lines += int(np.count_nonzero(b == _NEWLINE))
            last = int(b[-1])
        lines += last != _NEWLINE
        return delimiters == (width - 1) * lines

    def redecoded(self) -> DelimitedFile | None:
        """This file decoded whole, when a byte past the 64 KiB sniffed is not UTF-8.

        ``None`` when the file is UTF-8 (or was decoded whole already).
        """
        if self.data is not None:
            return None
        raw = self.path.read_bytes()
        try:
            raw.decode("utf-8")
            return None
        except UnicodeDecodeError:
            encoding = _detect_encoding(raw)
        data = _as_utf8(raw, encoding, self.path)
        return DelimitedFile(self.path, self.delimiter, encoding, data)

    def malformed_or(self, err: BaseException) -> DataError:
        """The malformed record behind a polars error, or the error itself."""
        self.check()
        return DataError(f"could not read {str(self.path)!r}: {first_line(err)}")

    def check(self) -> int:
        """Refuse a malformed file (see the module); return the number of trailing blank lines.

        One pass over the bytes, a megabyte at a time, whatever the file's size.
        """
        scan = _FieldScan(ord(self.delimiter))
        for chunk in self._chunks():
            scan.feed(chunk)
        problem = scan.finish()
        if problem is not None:
            raise DataError(self._describe(problem, scan.width))
        return scan.trailing_blank if scan.width > 1 else 0

    def _chunks(self) -> Iterator[bytes | memoryview]:
        """The file's bytes, a megabyte at a time (so a file larger than memory is checked)."""
        if self.data is not None:
            view = memoryview(self.data)
            for start in range(0, len(view), _CHUNK_BYTES):
                yield view[start : start + _CHUNK_BYTES]
            return
        with open(self.path, "rb") as fh:
            while chunk := fh.read(_CHUNK_BYTES):
                yield chunk

    def _line_of(self, offset: int) -> int:
        """The 1-based line of byte ``offset``, counting every line break (quoted ones too)."""
        count, seen = 1, 0
        for chunk in self._chunks():
            part = bytes(chunk[: max(0, offset - seen)])
            count += part.count(b"\n")
            seen += len(chunk)
            if seen >= offset:
                break
        return count

    def _describe(self, problem: tuple[str, int, int], width: int) -> str:
        kind, offset, fields = problem
        where = f"{str(self.path)!r} line {self._line_of(offset)}"
        sep = {"\t": "tab", ",": "comma", ";": "semicolon"}.get(self.delimiter, self.delimiter)
        if kind == "quote":
            return (
                f"{where} opens a quoted field that is never closed; close it, and write a "
                f'value that holds a quote quoted, its quote doubled ("5\'10""")'
            )
        if kind == "blank":
            return (
                f"{where} is blank between records; remove the blank line (every row needs "
                f"{width} fields, one per column)"
            )
        return (
            f"{where} has {fields} field{'s' if fields != 1 else ''} but the header has "
            f"{width}; give every row one field per column: fix that line, or quote a value "
            f'that holds a {sep} ("a{self.delimiter} b")'
        )


class _FieldScan:
    """Count the fields of every record of a delimited file, chunk by chunk, with numpy.

    Quotes are followed by parity: a byte is inside a quoted field when an odd
    number of quotes precede it (a doubled inner quote counts twice), which is
    how RFC 4180 and polars read them. Delimiters and line breaks inside
    quotes do not count. ``problem`` is the first one in the file: its kind,
    the byte offset of its line and the fields found there.
    """

    def __init__(self, delimiter: int) -> None:
        self.delimiter = delimiter
        self.width = 0  # fields of the header; 0 until the header is read
        self.offset = 0  # bytes seen
        self.inside = 0  # parity of the quotes seen
        self.open_quote = 0  # offset of the last quote seen while inside
        self.seps = 0  # delimiters of the unfinished line
        self.line_start = 0  # offset of the unfinished line
        self.last_byte = -1  # the last byte of the previous chunk
        self.blank_at = -1  # first blank line of the run not yet followed by a record
        self.trailing_blank = 0  # length of that run
        self.problem: tuple[str, int, int] | None = None

    def feed(self, chunk: Any) -> None:
        if self.problem is not None:
            return
        b = np.frombuffer(chunk, dtype=np.uint8)
        if not len(b):
            return
        quotes = b == _QUOTE
        if self.inside or quotes.any():
            parity = (np.cumsum(quotes, dtype=np.uint8) + self.inside) & 1
            if parity[-1]:
                self.open_quote = self.offset + int(np.flatnonzero(quotes)[-1])
            self.inside = int(parity[-1])
            outside = parity == 0
            newlines = np.flatnonzero((b == _NEWLINE) & outside)
            seps = np.flatnonzero((b == self.delimiter) & outside)
        else:
            newlines = np.flatnonzero(b == _NEWLINE)
            seps = np.flatnonzero(b == self.delimiter)
        if len(newlines):
            before = np.searchsorted(seps, newlines)
            counts = np.diff(before, prepend=0)
            counts[0] += self.seps
            ends = newlines + self.offset
            starts = np.empty_like(ends)
            starts[0] = self.line_start
            starts[1:] = ends[:-1] + 1
            self._judge(b, counts, starts, ends)
            self.seps = len(seps) - int(before[-1])
            self.line_start = int(ends[-1]) + 1
        else:
            self.seps += len(seps)
        self.offset += len(b)
        self.last_byte = int(b[-1])

    def _blank(self, b: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Which lines are blank: empty, or a lone carriage return (CRLF files)."""
        lengths = ends - starts
        blank = lengths == 0
        for i in np.flatnonzero(lengths == 1):
            at = int(starts[i]) - self.offset
            byte = b[at] if at >= 0 else self.last_byte
            blank[i] = byte == ord("\r")
        return blank

    def _judge(
        self, b: np.ndarray, counts: np.ndarray, starts: np.ndarray, ends: np.ndarray
    ) -> None:
        """Judge the lines ending in this chunk: field counts, blank lines between records."""
        blank = self._blank(b, starts, ends)
        if self.width == 0:
            self.width = int(counts[0]) + 1
            counts, starts, blank = counts[1:], starts[1:], blank[1:]
            if not len(counts):
                return
        if self.width == 1:
            # One column: a blank line is a missing value, and a delimiter is one too many.
            bad = np.flatnonzero(counts != 0)
            if len(bad):
                self.problem = ("fields", int(starts[bad[0]]), int(counts[bad[0]]) + 1)
            return
        records = np.flatnonzero(~blank)
        if not len(records):
            if self.blank_at < 0:
                self.blank_at = int(starts[0])
            self.trailing_blank += len(blank)
            return
        bad = np.flatnonzero((counts != self.width - 1) & ~blank)
        first_bad = int(bad[0]) if len(bad) else len(counts)
        if self.blank_at >= 0:  # a blank run from an earlier chunk, then a record
            self.problem = ("blank", self.blank_at, 0)
            return
        inner = np.flatnonzero(blank[: min(first_bad, int(records[-1]))])
        if len(inner):
            self.problem = ("blank", int(starts[inner[0]]), 0)
            return
        if len(bad):
            self.problem = ("fields", int(starts[first_bad]), int(counts[first_bad]) + 1)
            return
        tail = len(blank) - 1 - int(records[-1])
        self.trailing_blank = tail
        self.blank_at = int(starts[len(blank) - tail]) if tail else -1

    def finish(self) -> tuple[str, int, int] | None:
        """The first problem in the file, once its last (unterminated) line is judged."""
        if self.problem is not None:
            return self.problem
        if self.inside:
            return ("quote", self.open_quote, 0)
        rest = self.offset - self.line_start
        if rest == 0 or (rest == 1 and self.last_byte == ord("\r")):
            return None
        fields = self.seps + 1
        if self.width == 0 or (self.width == 1 and fields == 1):
            self.width = self.width or fields
            return None
        if self.blank_at >= 0:
            return ("blank", self.blank_at, 0)
        if fields != self.width:
            return ("fields", self.line_start, fields)
        return None


def first_line(err: BaseException) -> str:
    """The first line of an error's message (polars adds hints below it)."""
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _sniff_encoding(raw: bytes) -> str:
    """Return the text encoding of ``raw``: UTF-8 when it decodes, else a detected one."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as err:
        # A multi-byte character cut by the sample boundary is still UTF-8.
        if err.start >= len(raw) - 4:
            return "utf-8"
    return _detect_encoding(raw)


def _detect_encoding(raw: bytes) -> str:
    """The text encoding charset-normalizer finds for ``raw``."""
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    if best is None:
        raise DataError("could not detect the text encoding; pass encoding=... explicitly")
    return best.encoding


def _sniff_delimiter(text: str) -> str:
    """Guess the field delimiter from the first lines of a delimited text file."""
    lines = text.splitlines()[:50]
    sample = "\n".join(lines)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        header = lines[0] if lines else ""
        counts = {d: header.count(d) for d in ",;\t|"}
        best = max(counts, key=counts.__getitem__)
        return best if counts[best] > 0 else ","


def open_delimited(path: Path, *, delimiter: str | None, encoding: str | None) -> DelimitedFile:
    """Detect the encoding and delimiter of a delimited text file from its first 64 KiB.

    A file in another encoding than UTF-8 is decoded whole, here, since polars
    reads only UTF-8.
    """
    with open(path, "rb") as fh:
        raw = fh.read(_SNIFF_BYTES)
    if not raw.strip():
        raise DataError(f"{path} is empty: expected a header line and at least one row")
    enc = encoding or _sniff_encoding(raw)
    if delimiter is None:
        delimiter = _sniff_delimiter(raw.decode(enc, errors="replace"))
    if len(delimiter) != 1:
        raise ParameterError(f"delimiter must be one character; got {delimiter!r}")
    data = None
    if enc.replace("_", "-").lower() not in {"utf-8", "utf8", "ascii"}:
        data = _as_utf8(path.read_bytes(), enc, path)
    return DelimitedFile(path, delimiter, enc, data)


def _as_utf8(raw: bytes, encoding: str, path: Path) -> bytes:
    """``raw`` text in ``encoding`` re-encoded as UTF-8, the only encoding polars reads."""
    try:
        return raw.decode(encoding).encode("utf-8")
    except (UnicodeDecodeError, LookupError) as err:
        raise DataError(
            f"could not read {str(path)!r} as {encoding} text ({err}); "
            "pass the file's encoding explicitly"
        ) from err
