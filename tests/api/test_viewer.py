"""The /viewer pages, server side (the real browser drives them in tests/e2e/test_viewer_browser.py):
sign-in with the API's own credentials, the caller's results only, never an original."""

from __future__ import annotations

import base64
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from .conftest import token_for
from .test_results import finish


@pytest.fixture(scope="module")
def viewer_tenant(seaweed: Any, dev_keys: Any) -> dict[str, Any]:
    name = f"v-{uuid.uuid4().hex[:12]}"
    now = datetime.now(UTC)
    finish(seaweed, name, "img-a", at=now - timedelta(hours=3), camera="cam-1")
    finish(seaweed, name, "img-b", at=now - timedelta(hours=2), camera="cam-2")
    finish(seaweed, name, "img-c", at=now - timedelta(hours=1), camera="cam-2", failed=True)
    return {"name": name, "token": token_for(dev_keys, name)}


def signed_in(client: TestClient, credential: str) -> dict[str, str]:
    response = client.post("/viewer/login", data={"credential": credential}, follow_redirects=False)
    assert response.status_code == 303, response.text
    cookie = response.headers["set-cookie"]
    client.cookies.clear()  # each test sends its own session explicitly
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/viewer" in cookie
    return {"cookie": cookie.split(";")[0]}


def cards(html: str) -> list[str]:
    return re.findall(r'data-image-id="([^"]+)"', html)


def test_without_a_session_the_viewer_asks_for_a_token(client: TestClient) -> None:
    response = client.get("/viewer")
    assert response.status_code == 200 and 'name="credential"' in response.text
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["referrer-policy"] == "no-referrer"


def test_a_bad_credential_is_refused_on_the_form(client: TestClient) -> None:
    response = client.post("/viewer/login", data={"credential": "not-a-token"})
    assert response.status_code == 401 and "not accepted" in response.text
    assert not re.search(r"siteveil_viewer=[^\";]", response.headers.get("set-cookie", ""))


def test_results_in_time_order_with_details_and_counts(
    client: TestClient, viewer_tenant: dict[str, Any]
) -> None:
    cookie = signed_in(client, viewer_tenant["token"])
    page = client.get("/viewer", headers=cookie)
    assert page.status_code == 200, page.text
    html = page.text
    assert cards(html) == ["img-c", "img-b", "img-a"]  # newest first
    assert 'data-count="total">3<' in html and 'data-count="failed">1<' in html
    assert "12.5 % of pixels" in html and "person_segmenter v3" in html
    assert "InvalidImage: not an image" in html
    # only the anonymized image and the mask are linked; never the original upload
    assert "incoming/" not in html
    links = re.findall(r'src="([^"]+)"', html)
    assert links and all("/anonymized.jpg?" in u or "/mask.png?" in u for u in links)


def test_filters_by_camera_and_status(client: TestClient, viewer_tenant: dict[str, Any]) -> None:
    cookie = signed_in(client, viewer_tenant["token"])
    assert cards(client.get("/viewer?camera_id=cam-2", headers=cookie).text) == ["img-c", "img-b"]
    assert cards(client.get("/viewer?status=failed", headers=cookie).text) == ["img-c"]
    bad = client.get("/viewer?camera_id=cam/2", headers=cookie)
    assert bad.status_code == 400 and 'id="filter-error"' in bad.text
    assert 'class="show-mask"' in client.get("/viewer?mask=1", headers=cookie).text


def test_another_tenant_sees_none_of_it(
    client: TestClient, viewer_tenant: dict[str, Any], globex_headers: dict[str, str]
) -> None:
    token = globex_headers["Authorization"].removeprefix("Bearer ")
    html = client.get("/viewer", headers=signed_in(client, token)).text
    assert not set(cards(html)) & {"img-a", "img-b", "img-c"}
    assert viewer_tenant["name"] not in html


def test_api_keys_sign_in_too_and_expired_tokens_sign_out(
    client: TestClient, acme_api_key: str, dev_keys: Any
) -> None:
    html = client.get("/viewer", headers=signed_in(client, acme_api_key)).text
    assert '<span id="tenant">acme</span>' in html
    expired = token_for(dev_keys, "acme", now=datetime.now(UTC) - timedelta(hours=3))
    cookie = {"cookie": f"siteveil_viewer={base64.urlsafe_b64encode(expired.encode()).decode()}"}
    response = client.get("/viewer", headers=cookie)
    assert response.status_code == 401 and 'name="credential"' in response.text
