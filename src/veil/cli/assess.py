"""`veil assess`: how identifiable is this table?"""

from __future__ import annotations

from typing import Annotated

import typer

from veil.anonymity import assess as assess_table
from veil.cli.app import app, fail
from veil.cli.options import Json, Quasi, ReportPath, Sensitive, columns, emit
from veil.outputs import check_outputs


@app.command()
def assess(
    file: Annotated[
        str | None, typer.Argument(help="Table to assess: CSV, TSV, Parquet or Arrow.")
    ] = None,
    quasi: Quasi = None,
    sensitive: Sensitive = None,
    others_as_quasi: Annotated[
        bool,
        typer.Option(
            "--others-as-quasi",
            help="With several sensitive attributes, assess each with the others as "
            "quasi-identifiers (pyCANON's gen=False).",
        ),
    ] = False,
    population: Annotated[
        str | None,
        typer.Option(help="Population table the file was sampled from (journalist risk)."),
    ] = None,
    risk_threshold: Annotated[
        float, typer.Option(help="Records with re-identification risk above this are at risk.")
    ] = 0.2,
    sampling_fraction: Annotated[
        float | None,
        typer.Option(
            help="Share of a population the file was sampled from (0.01 for 1%): estimate how "
            "many people of it are unique (Pitman, Zayatz, SNB; Dankar et al.'s choice).",
        ),
    ] = None,
    population_size: Annotated[
        float | None,
        typer.Option(help="Size of that population, instead of --sampling-fraction."),
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option(help="CSV delimiter (detected when omitted).")
    ] = None,
    example: Annotated[
        bool,
        typer.Option(
            "--example", help="Assess veil's embedded synthetic patients table instead of FILE."
        ),
    ] = False,
    json: Json = False,
    report: ReportPath = None,
) -> None:
    """Measure k-anonymity, l-diversity, t-closeness... and re-identification risk."""
    check_outputs({"--report": report}, inputs=[file, population])
    quasi_cols = columns(quasi, what="quasi-identifiers")
    sensitive_cols = columns(sensitive, what="sensitive attributes")
    if example:
        if file is not None:
            fail("give either FILE or --example, not both")
        from veil.datasets import EXAMPLE_ROLES, patients

        data = patients()
        quasi_cols = quasi_cols or list(EXAMPLE_ROLES.quasi)
        sensitive_cols = sensitive_cols or list(EXAMPLE_ROLES.sensitive)
    elif file is None:
        fail("give a table FILE to assess (or --example to try veil's own)")
    else:
        from veil.io import read_table

        data = read_table(file, delimiter=delimiter)
    if not quasi_cols:
        fail("give the quasi-identifier columns with -q, e.g. -q age,sex,zip")
    result = assess_table(
        data,
        quasi_cols,
        sensitive_cols,
        others_as_quasi=others_as_quasi,
        population=population,
        risk_threshold=risk_threshold,
        sampling_fraction=sampling_fraction,
        population_size=population_size,
    )
    emit(result, json=json, report=report)
