"""Mock samples of a dataset: what scientists see of it and write their code against.

A mock has the real table's columns and types but none of its rows: either a
file the owner provides, or DP synthetic data made by veil's MST synthesizer
(McKenna, Miklau and Sheldon 2021, :mod:`veil.synth`), its privacy loss
charged to the dataset's budget in the ledger like any other release.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import polars as pl

from veil.errors import DataError, ParameterError

__all__ = ["check_mock_inputs", "make_mock", "write_parquet"]


def make_mock(
    frame: pl.DataFrame,
    *,
    identifiers: list[str],
    epsilon: float,
    rows: int,
    bounds: dict[str, tuple[float, float]] | None,
    ledger: Any,
    dataset: str,
    seed: int | None,
) -> pl.DataFrame:
    """A DP synthetic mock of ``frame`` by MST, charged to ``dataset`` in ``ledger``.

    Identifier columns are not modelled (they would only add noise): the mock
    holds made-up ids ``mock-1``, ``mock-2``... in their place.

    Raises
    ------
    ParameterError
        ``rows`` is not a positive integer.
    BudgetExceededError
        The dataset's budget cannot pay for the synthetic mock.
    """
    if int(rows) != rows or rows < 1:
        raise ParameterError(f"mock rows must be a positive integer; got {rows!r}")
    from veil.synth import MST  # heavy (JAX): imported only when a mock is synthesized

    modelled = frame.drop(identifiers)
    numeric = check_mock_inputs(frame, identifiers, bounds)
    synth = MST(
        epsilon=epsilon,
        delta=1e-9,
        bounds={c: tuple(bounds[c]) for c in numeric} if bounds else None,
        ledger=ledger,
        dataset=dataset,
        spender=None,
        seed=seed,
    )
    sample = synth.fit(modelled).sample(int(rows))
    sample = sample if isinstance(sample, pl.DataFrame) else pl.from_pandas(sample)
    fakes = [pl.Series(c, [f"mock-{i + 1}" for i in range(sample.height)]) for c in identifiers]
    sample = sample.with_columns(fakes) if fakes else sample
    # Numeric columns keep their type, so code written against the mock runs on the data.
    casts = [
        pl.col(c).cast(frame.schema[c], strict=False)
        for c in frame.columns
        if c in sample.columns and sample.schema[c] != frame.schema[c]
    ]
    return sample.with_columns(casts).select(frame.columns)


def check_mock_inputs(
    frame: pl.DataFrame, identifiers: list[str], bounds: dict[str, tuple[float, float]] | None
) -> list[str]:
    """The numeric columns a synthetic mock models, once each has public bounds; else raise.

    Called before anything is registered, so a refused mock leaves no budget behind.
    """
    modelled = [c for c in frame.columns if c not in identifiers]
    if not modelled:
        raise DataError("every column is an identifier: there is nothing to synthesize")
    numeric = [c for c in modelled if frame.schema[c].is_numeric()]
    missing = [c for c in numeric if not bounds or c not in bounds]
    if missing:
        raise ParameterError(
            f"a synthetic mock needs public bounds for numeric columns ({', '.join(missing)}): "
            "give them (--bounds age=0:120), chosen without looking at the data"
        )
    return numeric


def write_parquet(frame: pl.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` atomically (a temporary file in its folder, then renamed)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        frame.write_parquet(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
