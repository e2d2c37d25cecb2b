"""Output paths checked before any work or spend, so that no command can hurt what it reads.

Every command that writes (a released table, an HTML report, a new ledger)
resolves each output path first and refuses, before reading data or spending
budget, one that

- is one of the command's inputs (the data, a hierarchy, a population table),
- is the ledger or one of its side files (``-wal``, ``-shm``, ``-journal``, ``.lock``),
- is an existing folder, or lies in a folder that is missing or not writable,
- or is another output of the same command.

The check is the same for the library and the CLI: :func:`check_outputs`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from veil.errors import ParameterError

__all__ = ["LEDGER_SIDE_FILES", "check_output", "check_outputs", "same_file"]

#: Files SQLite and veil keep next to a ledger; writing over any of them corrupts it.
LEDGER_SIDE_FILES = ("", "-wal", "-shm", "-journal", ".lock")

PathLike = str | os.PathLike[str]


def same_file(a: PathLike, b: PathLike) -> bool:
    """Whether ``a`` and ``b`` name the same file (links and relative paths resolved)."""
    pa, pb = Path(a), Path(b)
    try:
        if pa.exists() and pb.exists():
            return os.path.samefile(pa, pb)
    except OSError:
        pass
    return pa.resolve() == pb.resolve()


def check_output(
    path: PathLike,
    *,
    option: str = "the output",
    inputs: Iterable[PathLike | None] = (),
    ledger: PathLike | None = None,
) -> Path:
    """Return ``path`` if the command may write there; raise a one-line error if not.

    Parameters
    ----------
    path
        Where the command will write.
    option
        How the user gave it (``-o``, ``--report``...), for the message.
    inputs
        Files the command reads: never overwritten.
    ledger
        The ledger the command charges: neither it nor its side files are overwritten.

    Raises
    ------
    ParameterError
        The path is an input, the ledger or one of its side files, an existing
        folder, or its folder is missing or not writable.
    """
    out = Path(path)
    if str(path).strip() == "":
        raise ParameterError(f"{option} is empty; give a file path")
    if out.is_dir():
        raise ParameterError(
            f"{option} {str(out)!r} is a folder; give a file path, e.g. {str(out / 'out')!r}"
        )
    for source in inputs:
        if source is not None and same_file(out, source):
            raise ParameterError(
                f"{option} {str(out)!r} is the input file {str(source)!r} of this command; "
                "writing it would destroy the input: choose another path"
            )
    if ledger is not None:
        for suffix in LEDGER_SIDE_FILES:
            if same_file(out, f"{ledger}{suffix}"):
                raise ParameterError(
                    f"{option} {str(out)!r} is the privacy ledger"
                    f"{' (its ' + suffix + ' file)' if suffix else ''}; writing it would erase "
                    "the record of spent budget: choose another path"
                )
    folder = out.parent
    if not folder.is_dir():
        raise ParameterError(
            f"{option} {str(out)!r}: folder {str(folder)!r} does not exist; create it first "
            "or choose another path"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ParameterError(
            f"{option} {str(out)!r}: folder {str(folder)!r} is not writable; choose another path"
        )
    if out.exists() and not os.access(out, os.W_OK):
        raise ParameterError(f"{option} {str(out)!r} exists and is read-only; choose another path")
    return out


def check_outputs(
    outputs: Mapping[str, PathLike | None],
    *,
    inputs: Iterable[PathLike | None] = (),
    ledger: PathLike | None = None,
) -> dict[str, Path]:
    """Check several outputs of one command (``{"-o": path, "--report": path}``).

    Each is checked by :func:`check_output`; two outputs may not name the same
    file. Outputs given as None are skipped.
    """
    sources = [s for s in inputs if s is not None]
    checked: dict[str, Path] = {}
    for option, path in outputs.items():
        if path is None:
            continue
        out = check_output(path, option=option, inputs=sources, ledger=ledger)
        for other, seen in checked.items():
            if same_file(out, seen):
                raise ParameterError(
                    f"{option} and {other} are the same file {str(out)!r}; give each its own path"
                )
        checked[option] = out
    return checked
