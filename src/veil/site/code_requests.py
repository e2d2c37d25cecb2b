"""Code requests: a scientist's function over a dataset, released only by the owner.

The life of a request (after PySyft's remote code execution, Ziller et al. 2021):

1. **submitted** by a scientist: the source defines a function taking the
   table as a pandas DataFrame; it is compiled and run on the dataset's mock
   first, so code that does not even run is refused at once with its error
   and nothing is stored;
2. **pending**: the owner reads the code;
3. **ran** (or **failed**): the owner runs it on the real data in a confined
   process (:mod:`veil.site.confinement`); the result is shown to the owner
   only;
4. **approved** (the result is released to the scientist) or **denied**
   (with a reason; the result is never released).

Every step is written to the audit log; a released result is logged whole.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update

from veil.errors import ParameterError
from veil.site.auth import AuthError, Principal
from veil.site.confinement import run_confined
from veil.site.datasite import DataSite, NotFoundError
from veil.site.db import CodeRequest, utcnow

__all__ = [
    "CodeSubmission",
    "approve_request",
    "deny_request",
    "get_request",
    "list_requests",
    "run_request",
    "submit_request",
]

MAX_CODE_CHARS = 64_000


class CodeSubmission(BaseModel):
    """A code request as sent by a scientist (``POST /datasets/{name}/code-requests``)."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(max_length=MAX_CODE_CHARS, description="Python source defining the function")
    function: str = Field(
        default="analysis",
        max_length=100,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="the function to call with the table (a pandas DataFrame)",
    )
    description: str = Field(default="", max_length=2000)


def _confined(site: DataSite, code: str, function: str, table: str) -> dict[str, Any]:
    c = site.config
    return run_confined(
        code,
        function,
        table,
        seconds=c.code_seconds,
        memory_mb=c.code_memory_mb,
        result_bytes=c.result_bytes,
    )


def submit_request(
    site: DataSite, principal: Principal, dataset: str, submission: CodeSubmission
) -> dict[str, Any]:
    """Store a scientist's code request once it compiles and runs on the mock.

    Raises
    ------
    NotFoundError
        Unknown dataset.
    ParameterError
        The code does not compile, lacks the function, or raises on the mock;
        the message says why and nothing is stored.
    """
    record = site.dataset(dataset)
    try:
        compile(submission.code, "<code request>", "exec")
    except SyntaxError as err:
        raise ParameterError(
            f"the code does not compile: {err.msg} (line {err.lineno}); nothing was stored"
        ) from None
    trial = _confined(site, submission.code, submission.function, record.mock_path)
    if not trial["ok"]:
        raise ParameterError(
            f"the code failed on the mock of {dataset!r} ({trial['error']}); fix it against "
            "the mock (Client.mock) and send it again; nothing was stored"
        )
    request = CodeRequest(
        user=principal.name,
        dataset=dataset,
        function=submission.function,
        code=submission.code,
        description=submission.description,
        status="pending",
    )
    with site.sessions.begin() as session:
        session.add(request)
        session.flush()
        request_id = request.id
    site.record(principal.name, "code-request", dataset, {"request": request_id})
    return _get(site, request_id).view(owner=principal.is_owner)


def _get(site: DataSite, request_id: int) -> CodeRequest:
    with site.sessions() as session:
        request = session.get(CodeRequest, request_id)
        if request is None:
            raise NotFoundError(f"no code request {request_id} on this site")
        return request


def get_request(site: DataSite, principal: Principal, request_id: int) -> dict[str, Any]:
    """One request, if ``principal`` may read it (its scientist, or the owner)."""
    request = _get(site, request_id)
    if not principal.is_owner and request.user != principal.name:
        raise AuthError(403, f"code request {request_id} is not yours: you may read only your own")
    return request.view(owner=principal.is_owner)


def list_requests(
    site: DataSite, principal: Principal, *, status: str | None = None
) -> list[dict[str, Any]]:
    """The owner's view of every request, or a scientist's of their own, newest first."""
    with site.sessions() as session:
        stmt = select(CodeRequest).order_by(CodeRequest.id.desc())
        if not principal.is_owner:
            stmt = stmt.where(CodeRequest.user == principal.name)
        if status is not None:
            stmt = stmt.where(CodeRequest.status == status)
        return [r.view(owner=principal.is_owner) for r in session.scalars(stmt)]


def _move(site: DataSite, request_id: int, allowed: tuple[str, ...], **values: Any) -> None:
    """Change a request's state only from one of ``allowed`` (two owners never both win)."""
    with site.sessions.begin() as session:
        done = session.execute(
            update(CodeRequest)
            .where(CodeRequest.id == request_id, CodeRequest.status.in_(allowed))
            .values(**values)
        )
        if done.rowcount != 1:
            current = session.get(CodeRequest, request_id)
            if current is None:
                raise NotFoundError(f"no code request {request_id} on this site")
            raise ParameterError(
                f"code request {request_id} is {current.status}; this step needs it "
                f"{' or '.join(allowed)}"
            )


def run_request(site: DataSite, request_id: int, *, actor: str = "owner") -> dict[str, Any]:
    """Run a pending request on the real data (confined); its result goes to the owner only."""
    request = _get(site, request_id)
    if request.status != "pending":
        raise ParameterError(
            f"code request {request_id} is {request.status}; only a pending request is run"
        )
    outcome = _confined(
        site, request.code, request.function, site.dataset(request.dataset).data_path
    )
    values: dict[str, Any] = {"ran": utcnow(), "confinement": outcome["confinement"]}
    if outcome["ok"]:
        values.update(status="ran", result=json.dumps(outcome["result"]), error=None)
    else:
        values.update(status="failed", result=None, error=outcome["error"])
    _move(site, request_id, ("pending",), **values)
    site.record(actor, "run", request.dataset, {"request": request_id, "ok": outcome["ok"]})
    return _get(site, request_id).view(owner=True)


def approve_request(site: DataSite, request_id: int, *, actor: str = "owner") -> dict[str, Any]:
    """Release a request's result (the owner has seen it) to its scientist."""
    _move(site, request_id, ("ran",), status="approved", decided=utcnow())
    request = _get(site, request_id)
    site.record(
        actor,
        "release",
        request.dataset,
        {
            "request": request_id,
            "user": request.user,
            "result": json.loads(request.result or "null"),
        },
    )
    return request.view(owner=True)


def deny_request(
    site: DataSite, request_id: int, reason: str, *, actor: str = "owner"
) -> dict[str, Any]:
    """Refuse a request; its result (if it ran) is never released."""
    if not isinstance(reason, str) or not reason.strip():
        raise ParameterError("give the scientist a reason for the denial")
    _move(
        site,
        request_id,
        ("pending", "ran", "failed"),
        status="denied",
        reason=reason.strip(),
        decided=utcnow(),
    )
    request = _get(site, request_id)
    site.record(actor, "deny", request.dataset, {"request": request_id, "reason": reason})
    return request.view(owner=True)
