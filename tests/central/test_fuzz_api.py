"""Schemathesis over central's own ``/openapi.json``, as admin, against central under uvicorn.

Every operation gets a bounded, seeded number of generated requests (valid and invalid ones):
no answer is a 500, and every answer matches the document (status code, content type, body
schema, headers). Afterwards every report in every format and the dashboard's overview still
render, whatever the fuzzer stored. Examples per operation: ``ROOMOPS_FUZZ_EXAMPLES`` (default 15).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import checks

from tests.central.helpers import PASSWORD, RunningServer, Seeded

EXAMPLES = int(os.environ.get("ROOMOPS_FUZZ_EXAMPLES", "15"))
#: an event stream never ends: its behaviour is tested in tests/dashboard
SKIP = {("GET", "/api/v1/stream")}
CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance, checks.response_headers_conformance]


@pytest.fixture
def admin_headers(server: RunningServer, seeded: Seeded) -> Iterator[dict[str, str]]:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        token = http.post("/api/v1/auth/token", data={"username": "admin", "password": PASSWORD})
        yield {"Authorization": f"Bearer {token.json()['access_token']}"}


def fuzz_operation(operation: Any, base_url: str, headers: dict[str, str]) -> list[str]:
    """The distinct failures of one operation (empty when it holds up)."""
    failures: dict[str, str] = {}
    strategy = (operation.as_strategy()
                | operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE))

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    @given(case=strategy)
    def run(case: Any) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=60)
        try:
            case.validate_response(response, checks=CHECKS)
        except (AssertionError, BaseExceptionGroup) as exc:
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            key = f"{response.status_code} {lines[1] if len(lines) > 1 else lines[:1]}"
            failures.setdefault(key, " | ".join(lines[:8])[:600])

    run()
    return [f"{operation.label}: {text}" for text in failures.values()]


@pytest.mark.timeout(600)
def test_every_operation_answers_as_documented(server: RunningServer, admin_headers: dict[str, str]) -> None:
    document = httpx.get(server.base_url + "/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(document)
    problems: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIP:
            continue
        operations += 1
        problems += fuzz_operation(operation, server.base_url, admin_headers)
    assert operations > 40, f"only {operations} operations in the document"
    assert problems == [], "\n".join(problems)
    # whatever the fuzzer stored, every report renders in every format, and so does the overview
    with httpx.Client(base_url=server.base_url, headers=admin_headers, timeout=120) as http:
        for path in ("/api/v1/reports/annual", "/api/v1/reports/inspections", "/api/v1/reports/faults",
                     "/api/v1/recordings"):
            for fmt in ("json", "html", "csv", "pdf"):
                answer = http.get(path, params={"format": fmt})
                assert answer.status_code == 200, f"{path} {fmt}: {answer.status_code} {answer.text[:300]}"
        assert http.get("/api/v1/dashboard/sites").status_code == 200
        assert http.get("/api/v1/sites", params={"include_retired": True}).status_code == 200


def test_the_document_names_every_error_and_media_type(server: RunningServer) -> None:
    document = httpx.get(server.base_url + "/openapi.json", timeout=30).json()
    paths = document["paths"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, item in paths.items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert responses["422"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"}, (method, path)
            if operation.get("security"):
                assert {"401", "403"} <= responses.keys(), (method, path)
            if "{" in path:
                assert "404" in responses, (method, path)
    annual = paths["/api/v1/reports/annual"]["get"]["responses"]["200"]["content"]
    assert {"application/json", "text/csv", "application/pdf", "text/html"} <= annual.keys()
    assert "429" in paths["/api/v1/auth/token"]["post"]["responses"]
    assert "409" in paths["/api/v1/sites"]["post"]["responses"]


def test_a_405_names_every_method_of_the_path(server: RunningServer, seeded: Seeded) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        for method, path, allow in [("DELETE", "/api/v1/sites/urumqi", "GET, HEAD, PATCH"),
                                    ("PUT", "/api/v1/meetings/x", "GET, HEAD, PATCH"),
                                    ("DELETE", "/api/v1/sites", "GET, HEAD, POST")]:
            answer = http.request(method, path)
            assert answer.status_code == 405, (method, path)
            assert answer.headers["allow"] == allow, (method, path, answer.headers["allow"])
            assert answer.json()["status"] == 405
