"""`veil dp` and `veil ledger` with hostile outputs: exit 2, one line, nothing changed or left."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from veil.cli.app import main


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def work(tmp_path: Path) -> Path:
    os.chdir(tmp_path)
    Path("data.csv").write_text("age\n" + "\n".join(str(20 + i % 40) for i in range(200)) + "\n")
    assert main(["ledger", "init", "d", "--epsilon", "1", "--delta", "0", "--ledger", "l.db"]) == 0
    Path("folder").mkdir()
    return tmp_path


QUERY = ["dp", "query", "data.csv", "--dataset", "d", "--count", "--epsilon", "0.1"]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ([*QUERY, "--ledger", "l.db", "--report", "l.db"], "is the privacy ledger"),
        ([*QUERY, "--ledger", "l.db", "--report", "l.db-wal"], "its -wal file"),
        ([*QUERY, "--ledger", "l.db", "--report", "data.csv"], "is the input file"),
        ([*QUERY, "--ledger", "l.db", "--report", "nodir/r.html"], "does not exist"),
        ([*QUERY, "--ledger", "l.db", "--report", "folder"], "is a folder"),
        ([*QUERY, "--ledger", "l.db", "--epsilon", "abc"], "'abc' is not a valid float"),
        (["ledger", "show", "d", "--ledger", "l.db", "--report", "l.db"], "is the privacy ledger"),
        (["ledger", "history", "d", "--ledger", "l.db", "--report", "l.db"], "privacy ledger"),
        (["ledger", "init", "e", "--epsilon", "-1", "--delta", "0", "--ledger", "n.db"], "epsilon"),
        (["ledger", "init", "e", "--epsilon", "1", "--delta", "2", "--ledger", "n.db"], "delta"),
        (["ledger", "init", "e", "--epsilon", "1", "--delta", "0", "--ledger", "no/n.db"],
         "does not exist"),
        (["ledger", "init", "e", "--epsilon", "1", "--delta", "0", "--ledger", "folder"],
         "is a folder"),
        (["ledger", "init", " ", "--epsilon", "1", "--delta", "0", "--ledger", "n.db"],
         "non-empty"),
        (["ledger", "init", "e", "--epsilon", "1", "--delta", "0", "--bogus"], "No such option"),
    ],
)  # fmt: skip
def test_refused_before_anything_changes(
    work: Path, args: list[str], match: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    before = _snapshot(work)
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 2
    assert match in err and err.count("\n") == 1 and err.startswith("error: ")
    assert out == ""
    assert _snapshot(work) == before  # inputs and ledger byte-identical, no new file


def test_the_value_is_printed_even_if_the_report_fails(
    work: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from veil.dp.results import Release

    def disk_full(self: object, path: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Release, "save_html", disk_full)
    capsys.readouterr()
    code = main([*QUERY, "--ledger", "l.db", "--report", "r.html", "--json"])
    out, err = capsys.readouterr()
    assert code == 2 and '"value"' in out
    assert "the release was recorded and is printed above" in err and err.count("\n") == 1


ANON = ["anonymize", "data.csv", "-q", "age", "--k", "2"]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ([*ANON, "-o", "out.csv", "--report", "nodir/r.html"], "does not exist"),
        ([*ANON, "-o", "data.csv"], "is the input file"),
        ([*ANON, "-o", "out.csv", "--report", "data.csv"], "is the input file"),
        ([*ANON, "-o", "folder"], "is a folder"),
        ([*ANON, "-o", "out.csv", "--report", "out.csv"], "are the same file"),
        ([*ANON, "-o", "h.csv", "--hierarchy", "age=h.csv"], "is the input file"),
        ([*ANON, "-o", "out.csv", "--k", "abc"], "'abc' is not a valid integer"),
        (["anonymize", "data.csv", "-q", "age", "--dp-epsilon", "1", "--dp-delta", "1e-6",
          "--dataset", "d", "--ledger", "l.db", "-o", "l.db"], "is the privacy ledger"),
        (["assess", "data.csv", "-q", "age", "--report", "data.csv"], "is the input file"),
        (["assess", "data.csv", "-q", "age", "--report", "folder"], "is a folder"),
    ],
)  # fmt: skip
def test_anonymize_and_assess_refuse_before_reading(
    work: Path, args: list[str], match: str, capsys: pytest.CaptureFixture[str]
) -> None:
    Path("h.csv").write_text("20;*\n")
    capsys.readouterr()
    before = _snapshot(work)
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2
    assert match in err and err.count("\n") == 1 and err.startswith("error: ")
    assert _snapshot(work) == before  # out.csv never appears
