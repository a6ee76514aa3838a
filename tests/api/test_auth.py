"""Authentication (JWT against a JWKS, API keys) and tenant isolation on every endpoint."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from api.devauth import JWKS_FILE, SIGNING_KEY_FILE

ISSUER = "https://idp.test/siteveil"
AUDIENCE = "siteveil-api"
UPLOAD = {"content_type": "image/jpeg", "size": 100}


def claims(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=10)).timestamp()),
        "custom:tenant": "acme",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def signed(dev_keys: Path, payload: dict[str, Any], **header: Any) -> str:
    kid = json.loads((dev_keys / JWKS_FILE).read_text())["keys"][0]["kid"]
    key = (dev_keys / SIGNING_KEY_FILE).read_bytes()
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid, **header})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def status_of(client: TestClient, headers: dict[str, str]) -> int:
    return client.post("/v1/uploads", json=UPLOAD, headers=headers).status_code


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_valid_token_is_accepted(client: TestClient, dev_keys: Path) -> None:
    assert status_of(client, bearer(signed(dev_keys, claims()))) == 201


def test_cognito_access_token_with_client_id_instead_of_aud(
    client: TestClient, dev_keys: Path
) -> None:
    token = signed(dev_keys, claims(aud=None, client_id=AUDIENCE, token_use="access"))
    assert status_of(client, bearer(token)) == 201


@pytest.mark.parametrize(
    "name, payload",
    [
        ("expired", claims(exp=int((datetime.now(UTC) - timedelta(hours=1)).timestamp()))),
        ("wrong audience", claims(aud="someone-else")),
        ("wrong client_id", claims(aud=None, client_id="someone-else")),
        ("wrong issuer", claims(iss="https://evil.test/")),
        ("no exp", claims(exp=None)),
        ("no tenant", claims(**{"custom:tenant": None})),
        ("malformed tenant", claims(**{"custom:tenant": "../globex"})),
    ],
)
def test_bad_claims_are_401(client: TestClient, dev_keys: Path, name: str, payload: dict) -> None:
    response = client.post("/v1/uploads", json=UPLOAD, headers=bearer(signed(dev_keys, payload)))
    assert response.status_code == 401, name
    assert response.json()["error"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"


def test_missing_credentials_are_401(client: TestClient) -> None:
    assert status_of(client, {}) == 401
    assert status_of(client, {"Authorization": "Bearer"}) == 401
    assert status_of(client, {"Authorization": "Basic dXNlcjpwYXNz"}) == 401
    assert status_of(client, bearer("not.a.jwt")) == 401


def test_unsigned_alg_none_token_is_401(client: TestClient) -> None:
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims()).encode())
    assert status_of(client, bearer(f"{header}.{body}.")) == 401


def test_hs256_signed_with_the_public_key_is_401(client: TestClient, dev_keys: Path) -> None:
    """The classic key-confusion attack: HMAC keyed with the (public) RSA key material."""
    jwk = json.loads((dev_keys / JWKS_FILE).read_text())["keys"][0]
    public_pem = jwt.algorithms.RSAAlgorithm.from_jwk(jwk).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": jwk["kid"]}).encode())
    body = b64(json.dumps(claims()).encode())
    mac = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    assert status_of(client, bearer(f"{header}.{body}.{b64(mac)}")) == 401


def test_token_signed_by_another_key_is_401(client: TestClient, dev_keys: Path) -> None:
    kid = json.loads((dev_keys / JWKS_FILE).read_text())["keys"][0]["kid"]
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(claims(), stranger, algorithm="RS256", headers={"kid": kid})
    assert status_of(client, bearer(token)) == 401
    token = jwt.encode(claims(), stranger, algorithm="RS256", headers={"kid": "unknown"})
    assert status_of(client, bearer(token)) == 401


def test_tampered_payload_is_401(client: TestClient, dev_keys: Path) -> None:
    header, _, signature = signed(dev_keys, claims()).split(".")
    body = b64(json.dumps(claims(**{"custom:tenant": "globex"})).encode())
    assert status_of(client, bearer(f"{header}.{body}.{signature}")) == 401


def test_api_keys(client: TestClient, acme_api_key: str, dev_keys: Path) -> None:
    assert status_of(client, {"X-API-Key": acme_api_key}) == 201
    wrong_secret = acme_api_key[:-1] + ("A" if acme_api_key[-1] != "A" else "B")
    assert status_of(client, {"X-API-Key": wrong_secret}) == 401
    assert status_of(client, {"X-API-Key": f"svk_{'0' * 16}_{'x' * 43}"}) == 401
    assert status_of(client, {"X-API-Key": "garbage"}) == 401
    both = {"X-API-Key": acme_api_key, **bearer(signed(dev_keys, claims()))}
    assert status_of(client, both) == 401


def test_api_keys_are_stored_hashed(seaweed: Any, acme_api_key: str) -> None:
    key_id = acme_api_key.split("_")[1]
    stored = seaweed.client.get_object(Bucket=seaweed.bucket, Key=f"api/keys/{key_id}.json")
    text = stored["Body"].read().decode()
    assert acme_api_key not in text and acme_api_key.rsplit("_", 1)[1] not in text
    assert json.loads(text)["tenant"] == "acme"


def test_api_key_of_acme_acts_for_acme(client: TestClient, acme_api_key: str) -> None:
    response = client.post("/v1/uploads", json=UPLOAD, headers={"X-API-Key": acme_api_key})
    assert response.json()["key"].startswith("incoming/acme/")


# --- tenant isolation: another tenant's ids are 404 on every endpoint ---


@pytest.fixture(scope="module")
def acme_ids(client: TestClient, acme_headers: dict[str, str]) -> tuple[str, str, str]:
    """A single upload's id, a batch id, and the id of an image of that batch."""
    image = client.post("/v1/uploads", json=UPLOAD, headers=acme_headers).json()["image_id"]
    batch = client.post("/v1/batches", json={"items": [UPLOAD, UPLOAD]}, headers=acme_headers)
    return image, batch.json()["batch_id"], batch.json()["uploads"][1]["image_id"]


def test_owner_sees_its_image_and_batch(
    client: TestClient,
    acme_headers: dict[str, str],
    acme_api_key: str,
    acme_ids: tuple[str, str, str],
) -> None:
    image_id, batch_id, batch_image_id = acme_ids
    for headers in (acme_headers, {"X-API-Key": acme_api_key}):
        for path in (f"/v1/images/{image_id}", f"/v1/images/{batch_image_id}"):
            assert client.get(path, headers=headers).status_code == 200
        assert client.get(f"/v1/batches/{batch_id}", headers=headers).status_code == 200
    # a made-up position in a real batch does not exist
    beyond = batch_image_id.rsplit("-", 1)[0] + "-0002"
    assert client.get(f"/v1/images/{beyond}", headers=acme_headers).status_code == 404


def test_other_tenant_gets_404_not_403(
    client: TestClient, globex_headers: dict[str, str], acme_ids: tuple[str, str, str]
) -> None:
    image_id, batch_id, batch_image_id = acme_ids
    for path in (
        f"/v1/images/{image_id}",
        f"/v1/images/{batch_image_id}",
        f"/v1/batches/{batch_id}",
    ):
        response = client.get(path, headers=globex_headers)
        assert response.status_code == 404, path
        assert response.json() == {"error": "not_found", "reason": response.json()["reason"]}


def test_uploads_and_batches_land_under_the_callers_tenant(
    client: TestClient, globex_headers: dict[str, str]
) -> None:
    upload = client.post("/v1/uploads", json=UPLOAD, headers=globex_headers).json()
    assert upload["key"].startswith("incoming/globex/")
    batch = client.post("/v1/batches", json={"items": [UPLOAD]}, headers=globex_headers).json()
    assert all(u["key"].startswith("incoming/globex/") for u in batch["uploads"])


def test_a_tenant_cannot_be_chosen_in_the_body(
    client: TestClient, globex_headers: dict[str, str]
) -> None:
    response = client.post("/v1/uploads", json={**UPLOAD, "tenant": "acme"}, headers=globex_headers)
    assert response.status_code == 400


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("POST", "/v1/uploads", UPLOAD),
        ("POST", "/v1/batches", {"items": [UPLOAD]}),
        ("GET", "/v1/batches/{batch}", None),
        ("GET", "/v1/images/{image}", None),
    ],
)
def test_every_endpoint_needs_credentials(
    client: TestClient, acme_ids: tuple[str, str, str], method: str, path: str, body: Any
) -> None:
    image_id, batch_id, _ = acme_ids
    url = path.format(batch=batch_id, image=image_id)
    response = client.request(method, url, json=body)
    assert response.status_code == 401
