"""One rule for malformed delimited files, the same in every command, eager or streaming."""

from __future__ import annotations

from pathlib import Path

import pytest

from veil.cli.app import main
from veil.errors import DataError
from veil.io import read_table, scan_table, to_polars


@pytest.fixture(autouse=True)
def _stream_lazy_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lazy reads of these small files stream, as a file larger than memory would."""
    monkeypatch.setattr("veil.io._streams", lambda path: True)


MALFORMED = {
    "too many fields": (
        "age,sex\n30,F\n40,M,x\n50,F\n",
        r"line 3 has 3 fields but the header has 2",
    ),
    "too few fields": ("age,sex\n30,F\n40\n50,F\n", r"line 3 has 1 field but the header has 2"),
    "trailing delimiter": ("age,sex\n30,F\n40,M,\n", r"line 3 has 3 fields"),
    "last line short": ("age,sex\n30,F\n40", r"line 3 has 1 field"),
    "blank line between rows": ("age,sex\n30,F\n\n40,M\n", r"line 3 is blank between records"),
    "quote never closed": ('age,sex\n30,F\n"40,M\n50,F\n', r"line 3 opens a quoted field"),
    "quote inside a field": ("h,sex\n5'10\",F\n6,M\n", r"line 2 opens a quoted field"),
    # A quoted line break counts as a line, so the line is the one a text editor shows.
    "after a quoted line break": ('a,b\n"x\ny",1\n2\n', r"line 4 has 1 field"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_files_are_refused_with_the_line(tmp_path: Path, case: str) -> None:
    text, message = MALFORMED[case]
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        read_table(path)
    with pytest.raises(DataError, match=message):
        to_polars(path, lazy_files=True)  # the streaming path checks the same rule
    with pytest.raises(DataError, match=message):
        scan_table(path)


@pytest.mark.parametrize(
    ("text", "rows"),
    [
        ('a,b\n"x, y",1\n"say ""hi""",2\n"two\nlines",3\n', 3),  # quoted fields
        ("a,b\n1,2\n\n\n", 1),  # blank lines at the end are no rows
        ("a,b\r\n1,2\r\n\r\n", 1),  # CRLF
        ("a,b\n1,\n,\n", 2),  # missing values are fields
        ("a,b,c\n1,2,\n3,,\n", 2),  # the last column missing: the delimiters add up
        ("a\n1\n\n3\n", 3),  # one column: a blank line is a missing value
        ("a,b\n", 0),  # a header alone
    ],
)
def test_well_formed_files(tmp_path: Path, text: str, rows: int) -> None:
    path = tmp_path / "ok.csv"
    path.write_bytes(text.encode())
    assert read_table(path).height == rows
    assert scan_table(path).collect().height == rows


def test_the_check_spans_chunks(tmp_path: Path) -> None:
    # Over a megabyte, so the field count crosses chunk boundaries, a quoted
    # line break included; the short line is near the end.
    rows = [f'{i},"a\nb",{i}' for i in range(120_000)] + ["7,x", "8,y,z"]
    path = tmp_path / "big.csv"
    path.write_text("n,t,m\n" + "\n".join(rows) + "\n")
    assert path.stat().st_size > 1 << 20
    with pytest.raises(DataError, match=r"line 240002 has 2 fields but the header has 3"):
        read_table(path)


def test_other_unreadable_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="is empty"):
        read_table(empty)
    binary = tmp_path / "blob.csv"
    binary.write_bytes(b"\x00\x01\x02garbage\x00")
    with pytest.raises(DataError, match="binary file"):
        read_table(binary)
    # A Latin-1 byte past the 64 KiB the encoding is sniffed from: the whole file tells.
    late = tmp_path / "late.csv"
    rows = [f"{i},Paris" for i in range(20_000)] + ["5,Besançon"]
    late.write_bytes(("n,city\n" + "\n".join(rows) + "\n").encode("latin-1"))
    assert read_table(late)["city"][-1] == "Besançon"
    assert scan_table(late).collect()["city"][-1] == "Besançon"
    # UTF-16 holds NUL bytes but is text: its byte order mark tells.
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes("age,city\n30,Zürich\n".encode("utf-16"))
    assert read_table(utf16)["city"].to_list() == ["Zürich"]


@pytest.fixture
def ragged(tmp_path: Path) -> Path:
    path = tmp_path / "ragged.csv"
    path.write_text("age,sex\n30,F\n40\n50,F\n")
    return path


def test_every_command_refuses_a_malformed_file(tmp_path: Path, ragged: Path, capsys) -> None:
    ledger = tmp_path / "ledger.db"
    assert main(["ledger", "init", "people", "--epsilon", "1", "--delta", "1e-6",
                 "--ledger", str(ledger)]) == 0  # fmt: skip
    commands = [
        ["assess", str(ragged), "-q", "age"],
        ["anonymize", str(ragged), "-q", "age", "--k", "2", "-o", str(tmp_path / "out.csv")],
        ["dp", "query", str(ragged), "--dataset", "people", "--count", "--epsilon", "0.1",
         "--ledger", str(ledger)],
    ]  # fmt: skip
    capsys.readouterr()
    for command in commands:
        assert main(command) == 2, command
        err = capsys.readouterr().err
        assert "line 3 has 1 field but the header has 2" in err, command
        assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out.csv").exists()
