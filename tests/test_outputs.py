"""Output paths are refused before any work when writing them would hurt something."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from veil.errors import ParameterError
from veil.outputs import check_output, check_outputs, same_file


def test_refuses_inputs_ledgers_folders_and_missing_folders(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n")
    ledger = tmp_path / "l.db"
    ledger.write_bytes(b"x")
    os.chdir(tmp_path)
    cases = [
        (data, "is the input file"),
        (Path("data.csv"), "is the input file"),  # relative spelling of the same file
        (tmp_path / "sub" / ".." / "data.csv", "is the input file"),
        (ledger, "is the privacy ledger"),
        (Path(f"{ledger}-wal"), "its -wal file"),
        (Path(f"{ledger}.lock"), "its .lock file"),
        (tmp_path, "is a folder"),
        (tmp_path / "nodir" / "r.html", "does not exist"),
        ("", "is empty"),
    ]
    (tmp_path / "sub").mkdir()
    for path, match in cases:  # type: ignore[assignment]
        with pytest.raises(ParameterError, match=match):
            check_output(path, option="--report", inputs=[data], ledger=ledger)
    link = tmp_path / "link.csv"
    link.symlink_to(data)
    assert same_file(link, data)
    with pytest.raises(ParameterError, match="is the input file"):
        check_output(link, inputs=[data])
    assert check_output(tmp_path / "new.html", inputs=[data], ledger=ledger).name == "new.html"


def test_two_outputs_may_not_collide(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    with pytest.raises(ParameterError, match="-o and --report are the same file"):
        check_outputs({"--report": out, "-o": tmp_path / "." / "out.csv"})
    checked = check_outputs({"-o": out, "--report": None})
    assert list(checked) == ["-o"]


def test_read_only_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:
        # Root writes through permission bits; let the check see what a user would.
        real = os.access
        monkeypatch.setattr(
            "veil.outputs.os.access", lambda p, mode: False if mode & os.W_OK else real(p, mode)
        )
    try:
        with pytest.raises(ParameterError, match="not writable"):
            check_output(folder / "r.html")
    finally:
        folder.chmod(0o755)
