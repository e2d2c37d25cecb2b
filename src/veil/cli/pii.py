"""`veil pii scan|scrub|reveal|keygen`: find and replace personal data, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from veil.cli.app import app, fail
from veil.cli.options import Json, columns, emit
from veil.io import write_text
from veil.outputs import check_outputs
from veil.pii import Analyzer, new_key, read_key, reveal, scan_columns, scrub_file
from veil.pii.operators import OPERATORS

__all__ = ["pii_app"]

pii_app = typer.Typer(
    help="Find and scrub personal data (PII) in text and tables.", no_args_is_help=True
)
app.add_typer(pii_app, name="pii")

NerOption = Annotated[
    str | None,
    typer.Option(
        "--ner-model",
        help="spaCy pipeline for names, places, organisations: an installed package or a folder.",
    ),
]
Entities = Annotated[
    str | None, typer.Option("--entities", help="Entity types to look for, comma-separated.")
]
MinConfidence = Annotated[
    float, typer.Option("--min-confidence", help="Drop findings scoring below this.")
]


@pii_app.command("scan")
def scan(
    file: Annotated[Path, typer.Argument(help="The table: CSV, TSV, Parquet or Arrow.")],
    sample: Annotated[int, typer.Option("--sample", help="Values read per column.")] = 500,
    ner_model: NerOption = None,
    json: Json = False,
    report: Annotated[str | None, typer.Option("--report", help="Also write HTML.")] = None,
) -> None:
    """Classify each column (direct identifier, quasi-identifier, sensitive, other)."""
    check_outputs({"--report": report}, inputs=[file])
    analyzer = Analyzer(ner=ner_model) if ner_model else None
    emit(scan_columns(str(file), sample=sample, analyzer=analyzer), json=json, report=report)


@pii_app.command("scrub")
def scrub(
    file: Annotated[Path, typer.Argument(help="A UTF-8 text file or a table.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The scrubbed copy.")],
    operator: Annotated[
        str, typer.Option("--operator", help=f"One of: {', '.join(OPERATORS)}.")
    ] = "replace",
    column_names: Annotated[
        list[str] | None, typer.Option("--columns", help="Table columns to scrub (default: text).")
    ] = None,
    key_file: Annotated[
        Path | None, typer.Option("--key-file", help="Key for pseudonymize, encrypt, fake.")
    ] = None,
    ner_model: NerOption = None,
    entities: Entities = None,
    min_confidence: MinConfidence = 0.5,
    text: Annotated[bool, typer.Option("--text", help="Read a .csv file as plain text.")] = False,
    max_line_length: Annotated[
        int, typer.Option("--max-line-length", help="Longest text line accepted.")
    ] = 1_000_000,
    json: Json = False,
) -> None:
    """Write a copy of FILE with its PII replaced (default: by the type tag, <EMAIL>)."""
    if operator not in OPERATORS:
        fail(f"unknown operator {operator!r}; choose one of: {', '.join(OPERATORS)}")
    if OPERATORS[operator].needs_key and key_file is None:
        fail(
            f"--operator {operator} needs --key-file; make a key with "
            "`veil pii keygen -o key.hex` and keep it apart from the data"
        )
    check_outputs({"--output": output}, inputs=[file, key_file])
    key = read_key(key_file) if key_file is not None else None
    names = columns(column_names, what="columns") or None
    analyzer = Analyzer(entities=entities, min_confidence=min_confidence, ner=ner_model)
    result = scrub_file(
        file,
        output,
        operator=operator,
        key=key,
        columns=names,
        analyzer=analyzer,
        as_text=True if text else None,
        max_line_length=max_line_length,
    )
    emit(result, json=json)


@pii_app.command("reveal")
def reveal_command(
    file: Annotated[Path, typer.Argument(help="A text file scrubbed with --operator encrypt.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The restored copy.")],
    key_file: Annotated[Path, typer.Option("--key-file", help="The key it was encrypted with.")],
) -> None:
    """Undo `--operator encrypt`: tokens back to the original values (needs the key)."""
    check_outputs({"--output": output}, inputs=[file, key_file])
    key = read_key(key_file)
    try:
        content = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        fail(f"file {str(file)!r} does not exist")
    except (UnicodeDecodeError, IsADirectoryError):
        fail(f"{str(file)!r} is not a UTF-8 text file")
    write_text(reveal(content, key), output)
    typer.echo(f"restored {output}")


@pii_app.command("keygen")
def keygen(
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the key.")],
) -> None:
    """Write a new random 256-bit key (hex) for pseudonymize and encrypt."""
    check_outputs({"--output": output})
    if output.exists():
        fail(f"{str(output)!r} exists; a key is never overwritten (choose another path)")
    write_text(new_key() + "\n", output)
    output.chmod(0o600)
    typer.echo(f"key written to {output}; keep it apart from the data")
