"""`veil site`: run a data site and manage it (datasets, users, budgets, requests, log)."""

from __future__ import annotations

import json as jsonlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from veil.cli.app import app, fail
from veil.cli.options import Quasi, Sensitive, columns, emit

if TYPE_CHECKING:  # imported where used: `veil --help` stays fast
    from veil.site import DataSite

__all__ = ["site_app"]

site_app = typer.Typer(
    help="A data site: outside scientists query your data under a privacy budget.",
    no_args_is_help=True,
)
app.add_typer(site_app, name="site")

State = Annotated[
    Path, typer.Option("--state", help="The site's folder (ledger, data, mocks, site.db).")
]
Database = Annotated[
    str | None,
    typer.Option(
        "--database",
        help="SQLAlchemy URL of the metadata database, e.g. postgresql+psycopg://u@h/db "
        "(default: site.db in the state folder).",
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]
Identifier = Annotated[
    list[str] | None,
    typer.Option("--identifier", help="Direct identifier columns, never queried (repeatable)."),
]


def _open(state: Path, database: str | None) -> DataSite:
    try:
        from veil.site import DataSite, SiteConfig
    except ImportError as err:
        fail(
            f"the data site needs the site extra ({err.name} is missing): pip install 'veil[site]'"
        )
    return DataSite(SiteConfig(state=state, database=database))


def _print(value: Any) -> None:
    typer.echo(jsonlib.dumps(value, indent=2, default=str))


def _bounds(given: list[str] | None) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    items = [piece.strip() for item in given or [] for piece in item.split(",") if piece.strip()]
    for item in items:
        name, sep, rng = item.rpartition("=")
        low, colon, high = rng.partition(":")
        try:
            if not (sep and colon and name):
                raise ValueError
            out[name] = (float(low), float(high))
        except ValueError:
            fail(
                f"--bounds expects COLUMN=LOW:HIGH[,COLUMN=LOW:HIGH], e.g. age=0:120; got {item!r}"
            )
    return out


@site_app.command("serve")
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to bind (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8642,
    state: State = Path("."),
    database: Database = None,
) -> None:
    """Serve the site's HTTP API (OpenAPI at /openapi.json, review page at /review)."""
    if not 0 < port < 65536:
        fail(f"--port must be in 1..65535; got {port}")
    site = _open(state, database)
    import uvicorn

    from veil.site.app import create_app

    if host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(f"warning: serving on {host}, reachable from other machines", err=True)
    app = create_app(site, freeze_gc=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


@site_app.command("add-dataset")
def add_dataset(
    name: Annotated[str, typer.Argument(help="The dataset's name on the site.")],
    data: Annotated[Path, typer.Argument(help="The real table (CSV, Parquet...); copied in.")],
    epsilon: Annotated[float, typer.Option("--epsilon", help="Total epsilon budget.")],
    delta: Annotated[float, typer.Option("--delta", help="Total delta budget.")],
    description: Annotated[str, typer.Option("--description", help="What the data are.")] = "",
    identifier: Identifier = None,
    quasi: Quasi = None,
    sensitive: Sensitive = None,
    mock: Annotated[
        Path | None, typer.Option("--mock", help="Your mock table (same columns, no real rows).")
    ] = None,
    mock_epsilon: Annotated[
        float | None,
        typer.Option("--mock-epsilon", help="Or: a DP synthetic mock (MST) at this epsilon."),
    ] = None,
    mock_rows: Annotated[int, typer.Option("--mock-rows", help="Rows of a synthetic mock.")] = 1000,
    bounds: Annotated[
        list[str] | None,
        typer.Option("--bounds", help="COLUMN=LOW:HIGH public bounds for a synthetic mock."),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seeds the mock's sampling.")] = None,
    state: State = Path("."),
    database: Database = None,
) -> None:
    """Register dataset NAME from DATA with its budget, column roles and mock."""
    parsed = _bounds(bounds)
    site = _open(state, database)
    try:
        meta = site.add_dataset(
            name,
            data,
            epsilon=epsilon,
            delta=delta,
            description=description,
            identifier=columns(identifier, what="identifier columns"),
            quasi=columns(quasi, what="quasi-identifiers"),
            sensitive=columns(sensitive, what="sensitive columns"),
            mock=mock,
            mock_epsilon=mock_epsilon,
            mock_rows=mock_rows,
            bounds=parsed,
            seed=seed,
        )
    finally:
        site.close()
    typer.echo(
        f"dataset {meta['name']!r} registered ({len(meta['columns'])} columns, {meta['mock']} mock)"
    )


@site_app.command("add-user")
def add_user(
    name: Annotated[str, typer.Argument(help="The account's name.")],
    owner: Annotated[
        bool, typer.Option("--owner", help="An owner account (reviews requests).")
    ] = False,
    token_days: Annotated[
        float | None, typer.Option("--token-days", help="Token lifetime in days (0: no expiry).")
    ] = None,
    state: State = Path("."),
    database: Database = None,
) -> None:
    """Create account NAME (or replace its token); prints the token once: keep it."""
    site = _open(state, database)
    try:
        token = site.add_user(name, role="owner" if owner else "scientist", token_days=token_days)
    finally:
        site.close()
    typer.echo(token)


@site_app.command("budget")
def budget(
    dataset: Annotated[str, typer.Argument(help="The dataset.")],
    user: Annotated[str | None, typer.Argument(help="A scientist (default: the dataset).")] = None,
    epsilon: Annotated[
        float | None, typer.Option("--epsilon", help="Grant USER this epsilon.")
    ] = None,
    delta: Annotated[float | None, typer.Option("--delta", help="Grant USER this delta.")] = None,
    json: Json = False,
    state: State = Path("."),
    database: Database = None,
) -> None:
    """Show what DATASET (or USER on it) spent and has left; with --epsilon, grant USER a budget."""
    if (epsilon is None) != (delta is None):
        fail("grant a budget with both --epsilon and --delta")
    if epsilon is not None and user is None:
        fail("name the scientist to grant a budget: veil site budget DATASET USER --epsilon E ...")
    site = _open(state, database)
    try:
        if epsilon is not None:
            status = site.grant(dataset, user, epsilon=epsilon, delta=delta)  # type: ignore[arg-type]
        else:
            status = site.budget(dataset, user)
    finally:
        site.close()
    emit(status, json=json)


@site_app.command("requests")
def requests(
    status: Annotated[
        str | None, typer.Option("--status", help="Only requests in this state.")
    ] = None,
    state: State = Path("."),
    database: Database = None,
) -> None:
    """List the code requests (code, state and, once run, the result), newest first."""
    from veil.site.auth import Principal
    from veil.site.code_requests import list_requests

    if status is not None and status not in ("pending", "ran", "failed", "approved", "denied"):
        fail(f"--status must be pending, ran, failed, approved or denied; got {status!r}")
    site = _open(state, database)
    try:
        _print(list_requests(site, Principal("owner", "owner"), status=status))
    finally:
        site.close()


@site_app.command("approve")
def approve(
    request_id: Annotated[int, typer.Argument(help="The code request's number.")],
    yes: Annotated[bool, typer.Option("--yes", help="Release without asking.")] = False,
    state: State = Path("."),
    database: Database = None,
) -> None:
    """Run request ID on the real data if still pending, show its result, then release it."""
    from veil.site.auth import Principal
    from veil.site.code_requests import approve_request, get_request, run_request

    site = _open(state, database)
    try:
        view = get_request(site, Principal("owner", "owner"), request_id)
        if view["status"] == "pending":
            view = run_request(site, request_id)
        if view["status"] == "failed":
            fail(f"code request {request_id} failed on the data ({view['error']}); deny it")
        _print({"request": request_id, "result": view["result"]})
        if not yes and not typer.confirm("Release this result to the scientist?"):
            fail("not released")
        approve_request(site, request_id)
    finally:
        site.close()
    typer.echo(f"code request {request_id} approved: its result is released")


@site_app.command("deny")
def deny(
    request_id: Annotated[int, typer.Argument(help="The code request's number.")],
    reason: Annotated[str, typer.Option("--reason", help="Why, for the scientist.")],
    state: State = Path("."),
    database: Database = None,
) -> None:
    """Deny request ID; its result is never released."""
    from veil.site.code_requests import deny_request

    site = _open(state, database)
    try:
        deny_request(site, request_id, reason)
    finally:
        site.close()
    typer.echo(f"code request {request_id} denied")


@site_app.command("log")
def log(
    dataset: Annotated[str | None, typer.Option("--dataset", help="Only this dataset.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many lines.")] = 100,
    state: State = Path("."),
    database: Database = None,
) -> None:
    """The audit log, newest first: every query answered and every result released."""
    site = _open(state, database)
    try:
        _print(site.log(dataset=dataset, limit=limit))
    finally:
        site.close()
