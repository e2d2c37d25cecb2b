"""Security of the site's API: a token on every endpoint, owners' rights, no raw rows,
size limits, and bad input answered with a clear 4xx message that writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from veil.ledger import Ledger
from veil.site import DataSite, SiteConfig
from veil.site.app import create_app
from veil.site.db import AuditEntry, CodeRequest

# A JSON body each endpoint accepts, so that only the token decides the answer.
BODIES = {
    "/datasets/{name}/queries": {"statistic": "count", "epsilon": 0.01},
    "/datasets/{name}/code-requests": {"code": "def analysis(df):\n    return len(df)\n"},
    "/code-requests/{request_id}/deny": {"reason": "no"},
}
PUBLIC = {"/health", "/review"}


@pytest.fixture
def api(site_state):
    state, tokens = site_state
    site = DataSite(SiteConfig(state=state))
    client = TestClient(create_app(site), raise_server_exceptions=False)
    yield client, site, tokens, state
    client.close()
    site.close()


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _endpoints(client: TestClient) -> list[tuple[str, str, list[str]]]:
    spec = client.get("/openapi.json").json()
    found = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            found.append((method.upper(), path, op.get("tags", [])))
    return found


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]):
    url = path.replace("{name}", "diabetes").replace("{request_id}", "1")
    return client.request(method, url, headers=headers, json=BODIES.get(path))


def _counts(site: DataSite, state: Path) -> tuple[int, int, int]:
    with site.sessions() as session:
        audit = session.scalar(select(func.count()).select_from(AuditEntry))
        requests = session.scalar(select(func.count()).select_from(CodeRequest))
    with Ledger(state / "veil-ledger.db") as book:
        releases = len(book.history("diabetes").records)
    return audit, requests, releases


def test_every_endpoint_but_health_and_the_page_needs_a_valid_token(api) -> None:
    client, _, _, _ = api
    endpoints = _endpoints(client)
    assert len(endpoints) >= 13  # every route of the API is in its spec
    for method, path, _ in endpoints:
        if path in PUBLIC:
            continue
        for headers, expected in (
            ({}, "missing API token"),
            (_auth("veil_0123456789abcdef_not-the-secret"), "invalid API token"),
            (_auth("not-a-veil-token"), "malformed API token"),
        ):
            response = _call(client, method, path, headers)
            assert response.status_code == 401, (method, path, response.text)
            assert expected in response.json()["detail"]


def test_owner_endpoints_refuse_scientists(api) -> None:
    client, _, tokens, _ = api
    owner_only = [
        (m, p) for m, p, tags in _endpoints(client) if "owner" in tags and p not in PUBLIC
    ]
    assert len(owner_only) == 4  # run, approve, deny, audit
    for method, path in owner_only:
        response = _call(client, method, path, _auth(tokens["alice"]))
        assert response.status_code == 403, (method, path)
        assert "only the site's owner" in response.json()["detail"]


def test_a_scientist_cannot_read_another_s_requests(api) -> None:
    client, _, tokens, _ = api
    code = {"code": "def analysis(df):\n    return int(len(df) > 0)\n"}
    made = client.post(
        "/datasets/diabetes/code-requests", json=code, headers=_auth(tokens["alice"])
    )
    assert made.status_code == 201
    rid = made.json()["id"]
    response = client.get(f"/code-requests/{rid}", headers=_auth(tokens["bob"]))
    assert response.status_code == 403 and "not yours" in response.json()["detail"]
    assert client.get("/code-requests", headers=_auth(tokens["bob"])).json() == []
    assert [
        r["id"] for r in client.get("/code-requests", headers=_auth(tokens["alice"])).json()
    ] == [rid]
    assert client.get("/code-requests/999", headers=_auth(tokens["bob"])).status_code == 404


def test_a_scientist_without_a_budget_on_a_dataset_cannot_query_it(api) -> None:
    client, site, _, _ = api
    carol = site.add_user("carol")
    response = client.post(
        "/datasets/diabetes/queries",
        json={"statistic": "count", "epsilon": 0.1},
        headers=_auth(carol),
    )
    assert response.status_code == 403 and "no budget" in response.json()["detail"]


def test_an_expired_token_is_refused_with_its_date(api) -> None:
    client, site, _, _ = api
    token = site.add_user("dave", token_days=1e-9)  # expires a fraction of a second later
    response = client.get("/datasets", headers=_auth(token))
    assert response.status_code == 401 and "expired" in response.json()["detail"]


def test_tokens_are_stored_hashed(api) -> None:
    _, _, tokens, state = api
    raw = (state / "site.db").read_bytes()
    for token in tokens.values():
        secret = token.split("_", 2)[2]
        assert secret.encode() not in raw


def test_no_endpoint_returns_raw_rows(api) -> None:
    client, _, tokens, state = api
    real = pl.read_parquet(state / "data" / "diabetes.parquet")
    client.post(
        "/datasets/diabetes/queries",
        json={"statistic": "histogram", "column": "sex", "categories": ["F", "M"], "epsilon": 0.1},
        headers=_auth(tokens["alice"]),
    )
    rows = {tuple(r) for r in real.iter_rows()}
    for token in (tokens["owner"], tokens["alice"]):
        for method, path, _ in _endpoints(client):
            if method != "GET" or path == "/review":
                continue
            text = _call(client, method, path, _auth(token)).text
            assert "patient-" not in text, path  # no real identifier, anywhere
    mock = client.get("/datasets/diabetes/mock", headers=_auth(tokens["alice"])).json()
    mock_rows = zip(*(mock["data"][c] for c in mock["columns"]), strict=True)
    assert not rows & {tuple(r) for r in mock_rows}


def test_a_body_over_the_limit_is_refused_unread(api) -> None:
    client, site, tokens, state = api
    before = _counts(site, state)
    big = {"code": "x = 1\n" * 60_000}  # 360 kB > 256 kB
    response = client.post(
        "/datasets/diabetes/code-requests", json=big, headers=_auth(tokens["alice"])
    )
    assert response.status_code == 413 and "bytes" in response.json()["detail"]
    # Without a Content-Length (a chunked stream), the limit holds as the body arrives.
    chunks = (b"x" * 65536 for _ in range(8))
    response = client.post(
        "/datasets/diabetes/queries",
        content=chunks,
        headers={**_auth(tokens["alice"]), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert _counts(site, state) == before


BAD = [
    (
        "malformed JSON",
        "POST",
        "/datasets/diabetes/queries",
        b'{"statistic": "count",',
        422,
        "malformed JSON",
    ),
    (
        "unknown dataset",
        "POST",
        "/datasets/nope/queries",
        {"statistic": "count", "epsilon": 0.1},
        404,
        "unknown dataset 'nope'",
    ),
    (
        "sensitive column without bounds",
        "POST",
        "/datasets/diabetes/queries",
        {"statistic": "mean", "column": "bmi", "epsilon": 0.1},
        422,
        "needs bounds",
    ),
    (
        "histogram bins without bounds",
        "POST",
        "/datasets/diabetes/queries",
        {"statistic": "histogram", "column": "bmi", "bins": 5, "epsilon": 0.1},
        422,
        "needs bounds",
    ),
    (
        "identifier column",
        "POST",
        "/datasets/diabetes/queries",
        {"statistic": "histogram", "column": "name", "categories": ["a"], "epsilon": 0.1},
        422,
        "identifier",
    ),
    (
        "unknown column",
        "POST",
        "/datasets/diabetes/queries",
        {"statistic": "sum", "column": "weight", "bounds": [0, 1], "epsilon": 0.1},
        422,
        "not found",
    ),
    (
        "epsilon over the budget",
        "POST",
        "/datasets/diabetes/queries",
        {"statistic": "count", "epsilon": 5.0},
        403,
        "refused before any noise",
    ),
    (
        "negative epsilon",
        "POST",
        "/datasets/diabetes/queries",
        {"statistic": "count", "epsilon": -1},
        422,
        "epsilon",
    ),
    (
        "a denormal epsilon",
        "POST",
        "/datasets/diabetes/queries",
        {"statistic": "count", "epsilon": 5e-324},
        422,
        "epsilon",
    ),
    (
        "code that raises",
        "POST",
        "/datasets/diabetes/code-requests",
        {"code": "def analysis(df):\n    return df['missing'].sum()\n"},
        422,
        "KeyError",
    ),
    (
        "code that does not compile",
        "POST",
        "/datasets/diabetes/code-requests",
        {"code": "def analysis(df) return 1"},
        422,
        "does not compile",
    ),
    (
        "code without the function",
        "POST",
        "/datasets/diabetes/code-requests",
        {"code": "x = 1", "function": "analysis"},
        422,
        "no function",
    ),
    (
        "an unknown field",
        "POST",
        "/datasets/diabetes/queries",
        {"statistic": "count", "epsilon": 0.1, "drop_table": True},
        422,
        "drop_table",
    ),
]


@pytest.mark.parametrize(
    ("case", "method", "path", "body", "status", "says"), BAD, ids=[b[0] for b in BAD]
)
def test_bad_input_gets_a_clear_message_and_writes_nothing(
    api, case, method, path, body, status, says
) -> None:
    client, site, tokens, state = api
    before = _counts(site, state)
    kwargs = {"content": body} if isinstance(body, bytes) else {"json": body}
    response = client.request(
        method,
        path,
        headers={**_auth(tokens["alice"]), "Content-Type": "application/json"},
        **kwargs,
    )
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and says in detail
    assert "Traceback" not in response.text and 'File "' not in response.text
    assert _counts(site, state) == before


def test_a_bug_is_a_500_without_its_trace(api, monkeypatch) -> None:
    client, site, tokens, _ = api

    def broken(text: str = "") -> list:
        raise RuntimeError("secret internals at /srv/data")

    monkeypatch.setattr(site, "search", broken)
    response = client.get("/datasets", headers=_auth(tokens["alice"]))
    assert response.status_code == 500
    assert "secret" not in response.text and "RuntimeError" not in response.text
    assert json.loads(response.text)["detail"].startswith("internal error")


def test_the_review_page_lets_only_its_own_script_run(api) -> None:
    client, _, _, _ = api
    response = client.get("/review")
    policy = response.headers["content-security-policy"]
    nonce = policy.split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">' in response.text
    assert "default-src 'none'" in policy and ".innerHTML" not in response.text
