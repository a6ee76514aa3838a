"""Cognito machine clients: the tenant reaches the API as a scope of a client-credentials token.

Facts pinned here (Amazon Cognito developer guide, "Understanding the access token" and "Scopes,
M2M, and API authorization with resource servers"): a client-credentials access token carries
`token_use: access`, `client_id` (no `aud`), `sub` = the client id and the granted custom scopes
space-separated in `scope` as `<resource server identifier>/<scope name>` — and no user
attributes, so never a `custom:tenant` claim. terraform/modules/auth gives each tenant an app
client allowed `<id>/uploads:write` and `<id>/tenant:<tenant>`; these tests hold the API to that.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.config import Settings
from tests.api.test_auth import ISSUER, UPLOAD, bearer, signed, status_of

RESOURCE_SERVER = "siteveil-upload-api"
ACME_CLIENT = "acmeclient0000000000000000"
GLOBEX_CLIENT = "globexclient00000000000000"


def access_token_claims(
    client_id: str = ACME_CLIENT,
    scopes: tuple[str, ...] = ("uploads:write", "tenant:acme"),
    **overrides: Any,
) -> dict[str, Any]:
    """The claims Cognito puts in a client-credentials access token (no user attributes)."""
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": client_id,
        "token_use": "access",
        "scope": " ".join(f"{RESOURCE_SERVER}/{s}" for s in scopes),
        "auth_time": int(now.timestamp()),
        "iss": ISSUER,
        "exp": int((now + timedelta(minutes=10)).timestamp()),
        "iat": int(now.timestamp()),
        "version": 2,
        "jti": "00000000-0000-0000-0000-000000000000",
        "client_id": client_id,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.fixture(scope="module")
def cognito_client(settings: Settings, aws_session: boto3.Session) -> Iterator[TestClient]:
    cognito = settings.model_copy(
        update={"resource_server": RESOURCE_SERVER, "audience": (ACME_CLIENT, GLOBEX_CLIENT)}
    )
    with TestClient(create_app(cognito, session=aws_session), raise_server_exceptions=False) as c:
        yield c


def test_a_client_credentials_token_acts_for_the_tenant_of_its_scope(
    cognito_client: TestClient, dev_keys: Path
) -> None:
    token = signed(dev_keys, access_token_claims())
    response = cognito_client.post("/v1/uploads", json=UPLOAD, headers=bearer(token))
    assert response.status_code == 201, response.text
    assert response.json()["key"].startswith("incoming/acme/")


def test_without_the_resource_server_a_machine_token_has_no_tenant(
    client: TestClient, dev_keys: Path
) -> None:
    """The API's claim-based mode (no resource server) looks for `custom:tenant`, which a Cognito
    machine token never has: that was every Cognito token's 401."""
    token = signed(dev_keys, access_token_claims(client_id="siteveil-api"))
    assert status_of(client, bearer(token)) == 401


@pytest.mark.parametrize(
    "name, payload",
    [
        ("id token", access_token_claims(token_use="id")),
        ("no token_use", access_token_claims(token_use=None)),
        ("no upload scope", access_token_claims(scopes=("tenant:acme",))),
        ("no tenant scope", access_token_claims(scopes=("uploads:write",))),
        (
            "two tenant scopes",
            access_token_claims(scopes=("uploads:write", "tenant:acme", "tenant:globex")),
        ),
        (
            "another resource server's scopes",
            access_token_claims(scope="other-api/uploads:write other-api/tenant:acme"),
        ),
        ("malformed tenant", access_token_claims(scopes=("uploads:write", "tenant:../globex"))),
        ("unknown client", access_token_claims(client_id="strangerclient000000000000")),
    ],
)
def test_tokens_without_exactly_one_tenant_and_the_upload_scope_are_401(
    cognito_client: TestClient, dev_keys: Path, name: str, payload: dict[str, Any]
) -> None:
    assert status_of(cognito_client, bearer(signed(dev_keys, payload))) == 401, name


def test_a_custom_tenant_claim_does_not_override_the_scope(
    cognito_client: TestClient, dev_keys: Path
) -> None:
    """Only the scope Cognito granted counts: a claim cannot pick another tenant."""
    token = signed(dev_keys, access_token_claims(**{"custom:tenant": "globex"}))
    response = cognito_client.post("/v1/uploads", json=UPLOAD, headers=bearer(token))
    assert response.status_code == 201
    assert response.json()["key"].startswith("incoming/acme/")
