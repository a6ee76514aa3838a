"""Schemathesis fuzzes the served OpenAPI document (a bounded number of examples): never a 5xx.

Driven through Hypothesis directly: schemathesis' `pytest.from_fixture` loader does not run under
pytest 9 (it reads the removed `Function._nodeid`), and the schema must come from a fixture because
the app needs the S3 server the fixtures start.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES = 40
OPERATIONS = [
    ("POST", "/v1/uploads"),
    ("POST", "/v1/batches"),
    ("GET", "/v1/batches/{batch_id}"),
    ("GET", "/v1/images/{image_id}"),
    ("GET", "/v1/results"),
    ("GET", "/v1/results/counts"),
]


@pytest.fixture(scope="module")
def api_schema(client: TestClient) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", client.app)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("method, path", OPERATIONS)
@pytest.mark.parametrize("authenticated", [True, False], ids=["api-key", "anonymous"])
def test_fuzzed_requests_never_get_a_server_error(
    api_schema: Any,
    acme_api_key: str,
    method: str,
    path: str,
    mode: GenerationMode,
    authenticated: bool,
) -> None:
    operation = api_schema[path][method]
    headers = {"X-API-Key": acme_api_key} if authenticated else {}
    checks = [not_a_server_error, status_code_conformance, content_type_conformance]
    if mode is GenerationMode.POSITIVE:
        checks.append(response_schema_conformance)

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES if authenticated else EXAMPLES // 4,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=checks)

    fuzz()


def test_openapi_document_is_served_and_lists_every_endpoint(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert {(m.upper(), p) for p, ops in document["paths"].items() for m in ops} == set(OPERATIONS)
    schemes = document["components"]["securitySchemes"]
    assert schemes["HTTPBearer"]["scheme"] == "bearer"
    assert schemes["APIKeyHeader"]["name"] == "X-API-Key"
