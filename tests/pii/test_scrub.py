"""Scrubbing files and tables, the CLI, and bad input: one line, exit 2, input untouched."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest

from veil.cli.app import main
from veil.errors import DataError, ParameterError
from veil.pii import scrub_file, scrub_text

TEXT = (
    "Patient Ana wrote from ana.silva@example.com and SSN 123-45-6789.\n"
    "Card 4111 1111 1111 1111, call +44 20 7946 0958.\n"
    "Nothing here.\n"
)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_scrub_text_replaces_with_type_tags() -> None:
    result = scrub_text(TEXT)
    assert result.text == (
        "Patient Ana wrote from <EMAIL> and SSN <US_SSN>.\n"
        "Card <CREDIT_CARD>, call <PHONE>.\n"
        "Nothing here.\n"
    )
    assert result.counts == {"EMAIL": 1, "US_SSN": 1, "CREDIT_CARD": 1, "PHONE": 1}


def test_scrub_file_streams_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import veil.pii.scrub as scrub

    monkeypatch.setattr(scrub, "_BLOCK", 7)  # lines and UTF-8 characters cut across blocks
    src = tmp_path / "notes.txt"
    src.write_text("é" + TEXT * 3 + "last line without newline ana@example.com", encoding="utf-8")
    out = tmp_path / "clean.txt"
    result = scrub_file(src, out)
    assert out.read_text(encoding="utf-8") == scrub_text(src.read_text(encoding="utf-8")).text
    assert result.counts["EMAIL"] == 4
    assert result.units == 10


def test_pseudonyms_agree_across_files(tmp_path: Path) -> None:
    key = "c3" * 16
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("from ana@example.com\n")
    b.write_text("to ANA@example.com and bob@example.com\n")
    scrub_file(a, tmp_path / "a2.txt", operator="pseudonymize", key=key)
    scrub_file(b, tmp_path / "b2.txt", operator="pseudonymize", key=key)
    tok_a = (tmp_path / "a2.txt").read_text().split()[1]
    tok_b = (tmp_path / "b2.txt").read_text().split()
    assert tok_a == tok_b[1] != tok_b[3]


def test_table_columns(tmp_path: Path) -> None:
    src = tmp_path / "people.csv"
    pl.DataFrame(
        {
            "name": ["Ana Silva", "John Smith", None, "Ana Silva"],
            "email": ["ana@example.com", "john@example.org", "x@example.net", "ana@example.com"],
            "note": ["call +44 20 7946 0958", "fine", "call +44 20 7946 0958", "x@example.org"],
            "zip": ["02139", "02139", "10001", "94110"],
            "age": [30, 41, 52, 30],
        }
    ).write_csv(src)
    out = tmp_path / "clean.csv"
    result = scrub_file(src, out, columns=["name", "email", "note"])
    clean = pl.read_csv(out, infer_schema=False)
    assert clean["email"].to_list() == ["<EMAIL>"] * 4
    assert clean["name"].to_list() == ["<PERSON>", "<PERSON>", None, "<PERSON>"]
    assert clean["note"].to_list() == ["call <PHONE>", "fine", "call <PHONE>", "<EMAIL>"]
    assert clean["zip"].to_list() == ["02139", "02139", "10001", "94110"]  # untouched, zeros kept
    # Counted per row: the repeated note holds two phone numbers in all.
    assert result.counts == {"EMAIL": 5, "PERSON": 3, "PHONE": 2}


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_scrub_and_reveal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.txt"
    src.write_text(TEXT)
    key = tmp_path / "key.hex"
    assert _run(capsys, "pii", "keygen", "-o", str(key))[0] == 0
    out = tmp_path / "out.txt"
    code, stdout, _ = _run(
        capsys, "pii", "scrub", str(src), "-o", str(out), "--operator", "encrypt",
        "--key-file", str(key), "--json",
    )  # fmt: skip
    assert code == 0
    assert json.loads(stdout)["replaced"]["EMAIL"] == 1
    assert "ana.silva@example.com" not in out.read_text()
    back = tmp_path / "back.txt"
    assert _run(capsys, "pii", "reveal", str(out), "-o", str(back), "--key-file", str(key))[0] == 0
    assert back.read_text() == TEXT
    # A key is never overwritten.
    code, _, err = _run(capsys, "pii", "keygen", "-o", str(key))
    assert code == 2 and "never overwritten" in err


def test_cli_scan_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "t.csv"
    pl.DataFrame({"email": [f"u{i}@example.com" for i in range(30)], "age": range(30)}).write_csv(
        src
    )
    code, stdout, _ = _run(capsys, "pii", "scan", str(src), "--json")
    assert code == 0
    data = json.loads(stdout)
    assert data["proposed_roles"] == {"identifier": ["email"], "quasi": ["age"], "sensitive": []}


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", [], "binary file"),
        ("café ana@example.com\n".encode("latin-1"), [], "not UTF-8 text"),
        (b"a" * 5000 + b"\n", ["--max-line-length", "1000"], "line 1 has over 1,000"),
        (b"ok\n" * 3 + b"b" * 5000, ["--max-line-length", "1000"], "line 4 has over 1,000"),
        (TEXT.encode(), ["--operator", "shred"], "unknown operator 'shred'"),
        (TEXT.encode(), ["--operator", "pseudonymize"], "needs --key-file"),
        (TEXT.encode(), ["--operator", "pseudonymize", "--key-file", "/nonexistent/k"],
         "key file"),
        (TEXT.encode(), ["--columns", "a"], "--columns applies to tables"),
        (TEXT.encode(), ["--ner-model", "no_such_pipeline_xyz"], "spacy-models/releases"),
    ],
)  # fmt: skip
def test_bad_input_one_line_exit_2_input_untouched(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: bytes,
    args: list[str],
    message: str,
) -> None:
    src = tmp_path / "in.txt"
    src.write_bytes(content)
    before = _digest(src)
    out = tmp_path / "out.txt"
    code, _, err = _run(capsys, "pii", "scrub", str(src), "-o", str(out), *args)
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert message in err
    assert _digest(src) == before
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["in.txt"]  # no temporary file left


def test_output_may_not_be_the_input(tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text(TEXT)
    with pytest.raises(ParameterError, match="input file"):
        scrub_file(src, src)
    with pytest.raises(DataError, match="does not exist"):
        scrub_file(tmp_path / "missing.txt", tmp_path / "o.txt")
    assert src.read_text() == TEXT
