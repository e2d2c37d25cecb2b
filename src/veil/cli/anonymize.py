"""`veil anonymize`: make a table k-anonymous, l-diverse, t-close... with the least loss."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from veil.cli.app import app, fail
from veil.cli.options import (
    Dates,
    Json,
    Quasi,
    ReportPath,
    Sensitive,
    Strip,
    columns,
    date_columns,
    emit,
)
from veil.outputs import check_outputs


def _models(k, l, entropy_l, recursive_cl, t, alpha, beta, enhanced_beta, delta):  # noqa: E741
    from veil.anonymize import (
        AlphaKAnonymity,
        BetaLikeness,
        DeltaDisclosure,
        EntropyLDiversity,
        KAnonymity,
        LDiversity,
        RecursiveCLDiversity,
        TCloseness,
    )

    models = []
    if alpha is not None:
        models.append(AlphaKAnonymity(alpha, k or 1))
    elif k is not None:
        models.append(KAnonymity(k))
    if l is not None:
        models.append(LDiversity(l))
    if entropy_l is not None:
        models.append(EntropyLDiversity(entropy_l))
    if recursive_cl is not None:
        c, _, ell = recursive_cl.partition(",")
        try:
            models.append(RecursiveCLDiversity(float(c), int(ell)))
        except ValueError:
            fail(f"--recursive-cl takes 'c,l' such as 3,2; got {recursive_cl!r}")
    if t is not None:
        models.append(TCloseness(t))
    if beta is not None:
        models.append(BetaLikeness(beta))
    if enhanced_beta is not None:
        models.append(BetaLikeness(enhanced_beta, enhanced=True))
    if delta is not None:
        models.append(DeltaDisclosure(delta))
    if not models:
        fail("give at least one privacy model, e.g. --k 10 (and --l 2, --t 0.2 ...)")
    return models


def _population_models(k_map, delta_presence, population, sampling_fraction, strip=False):
    """k-map and delta-presence from their flags; they share one population."""
    from veil.anonymize import DeltaPresence, KMap
    from veil.io import read_table

    models: list[object] = []
    if population is not None and k_map is None and delta_presence is None:
        fail("--population is for --k-map or --delta-presence; give one of them")
    if sampling_fraction is not None and k_map is None:
        fail("--sampling-fraction is for --k-map; give --k-map K")
    if (k_map is not None or delta_presence is not None) and population is not None:
        population = read_table(population, strip=strip)  # read as the sample is
    if k_map is not None:
        if population is None and sampling_fraction is None:
            fail("--k-map needs --population FILE or --sampling-fraction F (e.g. 0.1)")
        if population is not None and sampling_fraction is not None:
            fail("give --population or --sampling-fraction for --k-map, not both")
        models.append(KMap(k_map, population=population, sampling_fraction=sampling_fraction))
    if delta_presence is not None:
        lo, sep, hi = delta_presence.partition(",")
        try:
            bounds = (float(lo), float(hi))
        except ValueError:
            fail(f"--delta-presence takes 'MIN,MAX' such as 0.05,0.5; got {delta_presence!r}")
        if not sep:
            fail(f"--delta-presence takes 'MIN,MAX' such as 0.05,0.5; got {delta_presence!r}")
        if population is None:
            fail("--delta-presence needs --population FILE (the table the sample was drawn from)")
        models.append(DeltaPresence(*bounds, population=population))
    return models


def _safepub(file, output, quasi, identifier, hierarchy, epsilon, delta, dataset, ledger,
             read, json, report) -> None:  # fmt: skip
    """``--dp-epsilon``: SafePub, charged to the ledger (one library call)."""
    from veil.anonymize import SafePub

    if epsilon is None or delta is None or not dataset:
        fail("SafePub needs --dp-epsilon, --dp-delta and --dataset (the dataset in the ledger)")
    data, source = read(file)
    names = data.collect_schema().names()
    safepub = SafePub(epsilon, delta, _hierarchies(hierarchy) or None)
    safepub.fit(
        data,
        columns(quasi, what="quasi-identifiers", available=names),
        dataset=dataset,
        ledger=ledger,
        identifier=columns(identifier, what="identifiers", available=names),
    )
    _write(safepub.result_, output, source, json, report)


def _write(result, output, source, json, report) -> None:
    """Write the released table in the input's formats, then the report."""
    from veil.io import write_table

    assert result.table is not None
    write_table(result.table, output, formats=source.formats)
    emit(result, json=json, report=report)
    if not json:
        typer.echo(f"anonymized table written to {output}")


def _hierarchies(specs: list[str] | None) -> dict[str, object]:
    from veil.anonymize.builders import hierarchy_from_spec

    out: dict[str, object] = {}
    for spec in specs or []:
        column, sep, value = spec.partition("=")
        if not sep or not column.strip() or not value.strip():
            fail(f"--hierarchy takes COLUMN=FILE (or COLUMN=interval:5,10...); got {spec!r}")
        out[column.strip()] = hierarchy_from_spec(value.strip())
    return out


@app.command()
def anonymize(
    file: Annotated[str, typer.Argument(help="Table to anonymize: CSV, TSV, Parquet or Arrow.")],
    output: Annotated[
        str, typer.Option("--output", "-o", help="Where to write the anonymized table.")
    ],
    quasi: Quasi = None,
    sensitive: Sensitive = None,
    identifier: Annotated[
        list[str] | None,
        typer.Option("--identifier", help="Direct identifier columns, removed from the output."),
    ] = None,
    k: Annotated[int | None, typer.Option("--k", help="k-anonymity: rows per class.")] = None,
    l: Annotated[  # noqa: E741
        int | None, typer.Option("--l", help="l-diversity: distinct sensitive values per class.")
    ] = None,
    entropy_l: Annotated[
        int | None, typer.Option("--entropy-l", help="Entropy l-diversity.")
    ] = None,
    recursive_cl: Annotated[
        str | None, typer.Option("--recursive-cl", help="Recursive (c,l)-diversity, as 'c,l'.")
    ] = None,
    t: Annotated[float | None, typer.Option("--t", help="t-closeness (EMD bound).")] = None,
    alpha: Annotated[
        float | None, typer.Option("--alpha", help="(alpha,k)-anonymity with --k.")
    ] = None,
    beta: Annotated[float | None, typer.Option("--beta", help="Basic beta-likeness.")] = None,
    enhanced_beta: Annotated[
        float | None, typer.Option("--enhanced-beta", help="Enhanced beta-likeness.")
    ] = None,
    delta: Annotated[
        float | None, typer.Option("--delta", help="delta-disclosure privacy.")
    ] = None,
    k_map: Annotated[
        int | None,
        typer.Option("--k-map", help="k-map: population records each class must match."),
    ] = None,
    delta_presence: Annotated[
        str | None,
        typer.Option("--delta-presence", help="delta-presence bounds as 'MIN,MAX' (0.05,0.5)."),
    ] = None,
    population: Annotated[
        str | None,
        typer.Option("--population", help="Population table the input is a sample of."),
    ] = None,
    sampling_fraction: Annotated[
        float | None,
        typer.Option(
            "--sampling-fraction", help="k-map without a population: sample share in (0, 1]."
        ),
    ] = None,
    dp_epsilon: Annotated[
        float | None,
        typer.Option("--dp-epsilon", help="SafePub: (epsilon, delta)-DP anonymization."),
    ] = None,
    dp_delta: Annotated[float | None, typer.Option("--dp-delta", help="SafePub's delta.")] = None,
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="SafePub: the dataset's name in the ledger.")
    ] = None,
    ledger: Annotated[
        str, typer.Option("--ledger", help="SafePub: the ledger file (SQLite).")
    ] = "veil-ledger.db",
    loss_metric: Annotated[
        str,
        typer.Option(
            "--loss-metric",
            help="ncp (veil's range-based NCP) or arx (ARX's Loss, counting distinct values).",
        ),
    ] = "ncp",
    method: Annotated[
        str, typer.Option("--method", help="optimal (global recoding) or mondrian.")
    ] = "optimal",
    relaxed: Annotated[
        bool, typer.Option("--relaxed", help="Mondrian: relaxed instead of strict partitioning.")
    ] = False,
    hierarchy: Annotated[
        list[str] | None,
        typer.Option(
            "--hierarchy",
            help="COLUMN=FILE (ARX CSV) or COLUMN=interval:5,10 | round:1,0 | date:month,year "
            "| mask | suppress (repeatable).",
        ),
    ] = None,
    suppression: Annotated[
        float, typer.Option("--suppression", help="Largest share of rows that may be removed.")
    ] = 0.05,
    gs_factor: Annotated[
        float,
        typer.Option(
            "--gs-factor",
            help="Optimal search: weigh generalization against suppression, in [0, 1]. "
            "0.5 weighs them equally; toward 1 generalize rather than drop rows, toward 0 "
            "the reverse (ARX's gs-factor). The reported loss is unweighted.",
        ),
    ] = 0.5,
    target: Annotated[
        str | None,
        typer.Option("--target", help="Also measure classifier accuracy on this column."),
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option(help="CSV delimiter (detected when omitted).")
    ] = None,
    dates: Dates = None,
    strip: Strip = False,
    json: Json = False,
    report: ReportPath = None,
) -> None:
    """Generalize and suppress quasi-identifiers until the privacy models hold."""
    from veil.anonymize import Anonymizer
    from veil.errors import DataError, ParameterError
    from veil.io import to_polars

    # Before reading anything or spending budget: neither output may hurt an input
    # (the table, a population, a hierarchy file), the ledger, or each other.
    hierarchy_files = [v for _, _, v in (h.partition("=") for h in hierarchy or []) if v]
    check_outputs(
        {"-o": output, "--report": report},
        inputs=[file, population, *(f for f in hierarchy_files if Path(f).is_file())],
        ledger=ledger if dp_epsilon is not None or dataset is not None else None,
    )
    if not columns(quasi, what="quasi-identifiers"):
        fail("give the quasi-identifier columns with -q, e.g. -q age,sex,zip")
    if dp_epsilon is not None or dp_delta is not None or dataset is not None:
        flags = (k, l, entropy_l, recursive_cl, t, alpha, beta, enhanced_beta, delta, k_map)
        if any(v is not None for v in (*flags, delta_presence)) or method != "optimal":
            fail("--dp-epsilon runs SafePub, whose k follows from epsilon and delta; drop the "
                 "other privacy models and --method")  # fmt: skip
        _safepub(file, output, quasi, identifier, hierarchy, dp_epsilon, dp_delta, dataset,
                 ledger, lambda f: to_polars(f, delimiter=delimiter, dates=date_columns(dates),
                                             strip=strip), json, report)  # fmt: skip
        return
    extra = _population_models(k_map, delta_presence, population, sampling_fraction, strip)
    others = (k, l, entropy_l, recursive_cl, t, alpha, beta, enhanced_beta, delta)
    if extra and all(v is None for v in others):
        models = extra
    else:
        models = _models(k, l, entropy_l, recursive_cl, t, alpha, beta, enhanced_beta, delta)
        models += extra
    data, source = to_polars(file, delimiter=delimiter, dates=date_columns(dates), strip=strip)
    names = data.collect_schema().names()  # to resolve names holding a comma
    anonymizer = Anonymizer(
        models,
        hierarchies=_hierarchies(hierarchy) or None,
        suppression=suppression,
        method=method,
        strict=not relaxed,
        target=target,
        gs_factor=gs_factor,
        loss_metric=loss_metric,
    )
    try:
        anonymizer.fit(
            data,
            columns(quasi, what="quasi-identifiers", available=names),
            columns(sensitive, what="sensitive attributes", available=names),
            identifier=columns(identifier, what="identifiers", available=names),
        )
    except (DataError, ParameterError) as err:
        # The library's hint names a polars call; say what the command line offers.
        if "surrounding spaces" in str(err) and not strip:
            fail(f"{err}; on the command line, --strip removes the spaces")
        if "needs a date or datetime column" in str(err):
            fail(f"{err}; on the command line, --dates COLUMN=FORMAT (e.g. %d/%m/%Y) reads it")
        raise
    _write(anonymizer.result_, output, source, json, report)
