"""The data site's HTTP API (FastAPI): catalogue, mocks, DP queries and code requests.

:func:`create_app` builds the app over a :class:`~veil.site.datasite.DataSite`;
its OpenAPI spec is at ``/openapi.json``. Every endpoint but ``/health`` and
the review page's HTML needs ``Authorization: Bearer <token>``; owner-only
endpoints answer 403 to scientists. No endpoint returns rows of the real
data: the catalogue gives metadata, the mock is owner-provided or synthetic,
queries answer noisy statistics, and code results leave only once the owner
approved them. Every refusal is a JSON ``{"detail": message}`` with a 4xx
status: never a traceback.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import math
import secrets
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from veil.errors import (
    BudgetExceededError,
    ColumnError,
    DataError,
    LedgerBusyError,
    ParameterError,
    VeilError,
)
from veil.site import code_requests as cr
from veil.site.auth import AuthError, Principal
from veil.site.config import SiteConfig
from veil.site.datasite import DataSite, NotFoundError
from veil.site.queries import QueryRequest, answer_query, is_planned
from veil.site.review import review_page

__all__ = ["create_app"]

log = logging.getLogger("veil.site")
_bearer = HTTPBearer(auto_error=False, description="The API token `veil_...` of your account")


class Denial(BaseModel):
    """Why the owner denies a request (shown to the scientist)."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)


class BodyLimit:
    """ASGI middleware: refuse a request body over ``limit`` bytes with 413, unread."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        too_big = JSONResponse(
            {"detail": f"request body over {self.limit:,} bytes; send less"}, status_code=413
        )
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                declared = -1
            if declared < 0 or declared > self.limit:
                await too_big(scope, receive, send)
                return
        # Read the whole body first (at most `limit` bytes), then hand it on: a body
        # streamed without a Content-Length is cut off as soon as it passes the limit.
        chunks, seen = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.limit:
                await too_big(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _status(err: VeilError) -> int:
    if isinstance(err, NotFoundError):
        return 404
    if isinstance(err, BudgetExceededError):
        return 403
    if isinstance(err, LedgerBusyError):
        return 503
    if isinstance(err, (ColumnError, ParameterError, DataError)):
        return 422
    return 400


def _validation_message(err: RequestValidationError) -> str:
    parts = []
    for e in err.errors()[:5]:
        if e.get("type") == "json_invalid":
            return f"malformed JSON body: {e.get('ctx', {}).get('error', 'cannot be parsed')}"
        where = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts)


def _jsonable_frame(frame: Any) -> dict[str, Any]:
    data = {}
    for name in frame.columns:
        values = frame.get_column(name).to_list()
        data[name] = [None if isinstance(v, float) and not math.isfinite(v) else v for v in values]
    return data


async def _caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    site: DataSite = request.app.state.site
    token = credentials.credentials if credentials else None
    if token and site.tokens.get(token) is not None:
        return site.authenticate(token)  # checked lately: no key derivation
    # A token not seen lately costs one scrypt (about 15 ms): off the event loop.
    return await run_in_threadpool(site.authenticate, token)


async def _owner(who: Annotated[Principal, Depends(_caller)]) -> Principal:
    if not who.is_owner:
        raise AuthError(403, f"only the site's owner may do this; {who.name!r} is a scientist")
    return who


Caller = Annotated[Principal, Depends(_caller)]
Owner = Annotated[Principal, Depends(_owner)]
# Request numbers fit a signed 64-bit column on SQLite and PostgreSQL alike.
RequestId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The code request's number")]


def create_app(site: DataSite | SiteConfig, *, freeze_gc: bool = False) -> FastAPI:
    """The site's FastAPI app over ``site`` (a DataSite, or the config to open one).

    ``freeze_gc``: for a server process that runs only this app (``veil site
    serve``): once started, everything loaded so far is moved out of the
    garbage collector's reach (:func:`gc.freeze`), as it lives as long as the
    process; the collector's full passes over those million-odd objects would
    otherwise stall every request in flight for 100+ ms now and then.
    """
    site = site if isinstance(site, DataSite) else DataSite(site)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        import anyio.to_thread

        # Room for every waiting caller (token checks, code runs) beyond anyio's 40.
        anyio.to_thread.current_default_thread_limiter().total_tokens = 200
        if freeze_gc:
            gc.collect()
            gc.freeze()
        yield

    app = FastAPI(
        lifespan=lifespan,
        title="veil data site",
        version="1",
        description="Search datasets, read their mocks, ask DP queries under your budget, "
        "and send code for the owner's review. No endpoint returns rows of the real data.",
    )
    app.state.site = site
    app.add_middleware(BodyLimit, limit=site.config.max_body_bytes)

    @app.exception_handler(VeilError)
    async def _veil(_: Request, err: VeilError) -> JSONResponse:
        return JSONResponse({"detail": " ".join(str(err).split())}, status_code=_status(err))

    @app.exception_handler(AuthError)
    async def _auth(_: Request, err: AuthError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
        return JSONResponse({"detail": err.message}, status_code=err.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, err: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_message(err)}, status_code=422)

    @app.exception_handler(Exception)
    async def _bug(request: Request, err: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return JSONResponse(
            {"detail": "internal error; nothing was released (the site's log has the details)"},
            status_code=500,
        )

    @app.get("/health", tags=["site"])
    def health() -> dict[str, str]:
        """Whether the site answers (no token needed)."""
        return {"status": "ok"}

    @app.get("/datasets", tags=["catalogue"])
    def search(who: Caller, q: Annotated[str, Query(max_length=200)] = "") -> list[dict[str, Any]]:
        """Datasets whose name, description or columns mention every word of ``q``."""
        return site.search(q)

    @app.get("/datasets/{name}", tags=["catalogue"])
    def metadata(name: str, who: Caller) -> dict[str, Any]:
        """A dataset's description, columns with their types and roles, and mock kind."""
        return site.dataset(name).metadata_dict()

    @app.get("/datasets/{name}/mock", tags=["catalogue"])
    def mock(name: str, who: Caller) -> dict[str, Any]:
        """The dataset's mock (owner-provided or DP synthetic): never real rows."""
        record = site.dataset(name)
        frame = site.mock(name)
        return {
            "dataset": name,
            "kind": record.mock_kind,
            "columns": frame.columns,
            "dtypes": [str(t) for t in frame.dtypes],
            "data": _jsonable_frame(frame),
        }

    @app.get("/datasets/{name}/budget", tags=["queries"])
    def budget(name: str, who: Caller) -> dict[str, Any]:
        """Your budget on the dataset (the owner: the dataset's total), spent and left."""
        status = site.budget(name, None if who.is_owner else who.name).to_dict()
        status.pop("ledger", None)  # the server's file path is not the scientist's business
        return status

    @app.post("/datasets/{name}/queries", tags=["queries"])
    async def query(name: str, body: QueryRequest, who: Caller) -> dict[str, Any]:
        """Answer a DP query, charged to your budget before any noise is drawn."""
        if is_planned(site, name, body):
            # A few milliseconds: answered on the event loop, in arrival order, which
            # keeps latencies even under load (threads would contend for the GIL).
            return answer_query(site, who, name, body)
        return await run_in_threadpool(answer_query, site, who, name, body)

    @app.post("/datasets/{name}/code-requests", tags=["code requests"], status_code=201)
    def submit(name: str, body: cr.CodeSubmission, who: Caller) -> dict[str, Any]:
        """Send code for the owner's review (it must run on the mock first)."""
        return cr.submit_request(site, who, name, body)

    @app.get("/code-requests", tags=["code requests"])
    def requests(
        who: Caller,
        status: Annotated[
            str | None, Query(pattern="^(pending|ran|failed|approved|denied)$")
        ] = None,
    ) -> list[dict[str, Any]]:
        """Your code requests (the owner: everyone's), newest first."""
        return cr.list_requests(site, who, status=status)

    @app.get("/code-requests/{request_id}", tags=["code requests"])
    def request(request_id: RequestId, who: Caller) -> dict[str, Any]:
        """One of your code requests; its result once the owner approved it."""
        return cr.get_request(site, who, request_id)

    @app.post("/code-requests/{request_id}/run", tags=["owner"])
    def run(request_id: RequestId, who: Owner) -> dict[str, Any]:
        """Run a pending request on the real data, confined; the result is shown to you only."""
        return cr.run_request(site, request_id, actor=who.name)

    @app.post("/code-requests/{request_id}/approve", tags=["owner"])
    def approve(request_id: RequestId, who: Owner) -> dict[str, Any]:
        """Release the result you have seen to the scientist."""
        return cr.approve_request(site, request_id, actor=who.name)

    @app.post("/code-requests/{request_id}/deny", tags=["owner"])
    def deny(request_id: RequestId, body: Denial, who: Owner) -> dict[str, Any]:
        """Refuse a request, with a reason for the scientist."""
        return cr.deny_request(site, request_id, body.reason, actor=who.name)

    @app.get("/audit", tags=["owner"])
    def audit(
        who: Owner,
        dataset: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    ) -> list[dict[str, Any]]:
        """The audit log, newest first: every query answered and every result released."""
        return site.log(dataset=dataset, limit=limit)

    @app.get("/review", response_class=HTMLResponse, tags=["owner"])
    def review() -> HTMLResponse:
        """The owner's review page (its data come from the API, with the owner's token)."""
        nonce = secrets.token_urlsafe(16)
        policy = (
            f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
            "connect-src 'self'; base-uri 'none'; form-action 'none'"
        )
        return HTMLResponse(
            review_page(nonce),
            headers={"Content-Security-Policy": policy, "X-Content-Type-Options": "nosniff"},
        )

    return app
