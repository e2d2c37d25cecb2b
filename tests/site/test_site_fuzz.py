"""The API fuzzed from its own OpenAPI spec (schemathesis): no input makes a 500.

Examples are kept few (the site runs code requests in a subprocess); every
operation of the spec is still exercised, as a scientist and as the owner.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sitekit import populate

from veil.site import DataSite, SiteConfig
from veil.site.app import create_app
from veil.site.auth import Principal
from veil.site.code_requests import CodeSubmission, submit_request

FEW = settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("who", ["alice", "owner"])
def test_no_input_makes_a_500(tmp_path: Path, who: str) -> None:
    tokens = populate(tmp_path)
    site = DataSite(SiteConfig(state=tmp_path, code_seconds=2))
    try:
        schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(site))
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 14
        headers = {"Authorization": f"Bearer {tokens[who]}"}
        submit_request(  # request 1 exists, so approve/run/deny reach real states
            site,
            Principal("alice", "scientist"),
            "diabetes",
            CodeSubmission(code="def analysis(df):\n    return len(df)\n"),
        )

        for operation in operations:

            @FEW
            @given(case=operation.as_strategy(), real=st.booleans())
            def fuzz(case, real: bool) -> None:
                if real and case.path_parameters:  # half the cases reach a real dataset
                    case.path_parameters = {
                        k: "diabetes" if k == "name" else 1 for k in case.path_parameters
                    }
                response = case.call(headers=headers)
                assert response.status_code < 500, (case.method, case.path, response.text)
                if response.status_code >= 400:
                    detail = response.json()["detail"]
                    assert isinstance(detail, str) and "Traceback" not in detail

            fuzz()
    finally:
        site.close()
