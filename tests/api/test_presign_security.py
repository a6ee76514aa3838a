"""Presigned uploads against a real signature-checking S3 (SeaweedFS): what the server refuses."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
import requests
from fastapi.testclient import TestClient

from api.config import Settings
from api.presign import presign_post, presign_put
from api.storage import s3_client

UPLOADS_BUCKET = "uploads"

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 996  # bytes only: S3 does not look inside


def slot(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post("/v1/uploads", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def put(url: str, data: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.put(url, data=data, headers=headers, timeout=10)


def post(url: str, fields: dict[str, str], data: bytes) -> requests.Response:
    return requests.post(url, data=fields, files={"file": ("x.jpg", data)}, timeout=10)


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def rejected(response: requests.Response, code: str) -> bool:
    return response.status_code in (400, 403) and f"<Code>{code}</Code>" in response.text


# --- PUT: Content-Type and Content-Length are signed headers ---


def test_honest_put_upload_lands_at_the_key_the_api_chose(
    client: TestClient, acme_headers: dict[str, str], seaweed: Any
) -> None:
    s = slot(client, acme_headers, content_type="image/jpeg", size=len(JPEG))
    today = datetime.now(UTC)
    assert s["key"] == f"incoming/acme/{today:%Y/%m/%d}/{s['image_id']}.jpg"
    assert s["method"] == "PUT" and "X-Amz-Signature" in s["url"]
    response = put(s["url"], JPEG, s["headers"])
    assert response.status_code == 200, response.text
    head = seaweed.client.head_object(Bucket=UPLOADS_BUCKET, Key=s["key"])
    assert head["ContentLength"] == len(JPEG) and head["ContentType"] == "image/jpeg"


def test_put_url_used_for_another_key_is_rejected(
    client: TestClient, acme_headers: dict[str, str], seaweed: Any
) -> None:
    s = slot(client, acme_headers, content_type="image/jpeg", size=len(JPEG))
    other_key = s["key"].replace(s["image_id"], "f" * 32)
    response = put(s["url"].replace(s["key"], other_key), JPEG, s["headers"])
    assert rejected(response, "SignatureDoesNotMatch"), response.text
    assert not seaweed.exists(other_key)


def test_put_with_tampered_signature_is_rejected(
    client: TestClient, acme_headers: dict[str, str], seaweed: Any
) -> None:
    s = slot(client, acme_headers, content_type="image/jpeg", size=len(JPEG))
    signature = dict(parse_qsl(urlsplit(s["url"]).query))["X-Amz-Signature"]
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    response = put(with_query(s["url"], **{"X-Amz-Signature": flipped}), JPEG, s["headers"])
    assert rejected(response, "SignatureDoesNotMatch"), response.text
    # a longer validity is part of the signed string too
    response = put(with_query(s["url"], **{"X-Amz-Expires": "604800"}), JPEG, s["headers"])
    assert rejected(response, "SignatureDoesNotMatch"), response.text
    assert not seaweed.exists(s["key"])


def test_put_with_a_disallowed_content_type_is_rejected(
    client: TestClient, acme_headers: dict[str, str], seaweed: Any
) -> None:
    s = slot(client, acme_headers, content_type="image/png", size=len(JPEG))
    for content_type in ("text/html", "image/svg+xml", "image/jpeg"):
        headers = {**s["headers"], "Content-Type": content_type}
        assert rejected(put(s["url"], JPEG, headers), "SignatureDoesNotMatch")
    assert not seaweed.exists(s["key"])


def test_put_over_the_signed_size_is_rejected(
    client: TestClient, acme_headers: dict[str, str], seaweed: Any
) -> None:
    s = slot(client, acme_headers, content_type="image/jpeg", size=len(JPEG))
    bigger = JPEG + b"\x00" * 10_000
    # requests sends the real Content-Length of the body, which is not the signed one
    headers = {"Content-Type": s["headers"]["Content-Type"]}
    assert rejected(put(s["url"], bigger, headers), "SignatureDoesNotMatch")
    assert rejected(put(s["url"], JPEG[:10], headers), "SignatureDoesNotMatch")
    assert not seaweed.exists(s["key"])


def test_api_issues_no_url_over_the_size_limit_or_for_other_types(
    client: TestClient, acme_headers: dict[str, str], settings: Settings
) -> None:
    too_big = client.post(
        "/v1/uploads",
        json={"content_type": "image/jpeg", "size": settings.max_upload_bytes + 1},
        headers=acme_headers,
    )
    assert too_big.status_code == 400 and "over the limit" in too_big.json()["reason"]
    for content_type in ("image/gif", "text/html", "application/octet-stream"):
        response = client.post(
            "/v1/uploads", json={"content_type": content_type, "size": 10}, headers=acme_headers
        )
        assert response.status_code == 400, content_type
    no_size = client.post("/v1/uploads", json={"content_type": "image/png"}, headers=acme_headers)
    assert no_size.status_code == 400 and "size" in no_size.json()["reason"]


def test_expired_put_url_is_rejected(settings: Settings, seaweed: Any, aws_session: Any) -> None:
    """The API's shortest expiry is a minute; the same presign code with 1 s shows S3 enforces it."""
    key = "incoming/acme/2026/01/01/expired-put.jpg"
    presigned = presign_put(
        s3_client(settings, public=True, session=aws_session),
        bucket=UPLOADS_BUCKET,
        key=key,
        content_type="image/jpeg",
        size=len(JPEG),
        expires_s=1,
    )
    time.sleep(2.5)
    response = put(presigned.url, JPEG, presigned.headers)
    assert rejected(response, "AccessDenied") and "expired" in response.text.lower()
    assert not seaweed.exists(key)


# --- POST: a signed policy with exact key, exact Content-Type, content-length-range ---


def test_honest_post_upload_succeeds(
    client: TestClient, acme_headers: dict[str, str], seaweed: Any
) -> None:
    s = slot(client, acme_headers, content_type="image/webp", method="POST")
    assert s["key"].endswith(".webp") and s["fields"]["key"] == s["key"]
    policy = json.loads(base64.b64decode(s["fields"]["policy"]))
    assert ["content-length-range", 1, s["max_bytes"]] in policy["conditions"]
    response = post(s["url"], s["fields"], JPEG)
    assert response.status_code == 204, response.text
    head = seaweed.client.head_object(Bucket=UPLOADS_BUCKET, Key=s["key"])
    assert head["ContentType"] == "image/webp"


def test_post_for_another_key_is_rejected(
    client: TestClient, acme_headers: dict[str, str], seaweed: Any
) -> None:
    s = slot(client, acme_headers, content_type="image/jpeg", method="POST")
    other_key = "incoming/globex/2026/01/01/stolen.jpg"
    response = post(s["url"], {**s["fields"], "key": other_key}, JPEG)
    assert rejected(response, "AccessDenied"), response.text
    assert not seaweed.exists(other_key)


def test_post_with_a_disallowed_content_type_is_rejected(
    client: TestClient, acme_headers: dict[str, str], seaweed: Any
) -> None:
    s = slot(client, acme_headers, content_type="image/jpeg", method="POST")
    response = post(s["url"], {**s["fields"], "Content-Type": "text/html"}, JPEG)
    assert rejected(response, "AccessDenied"), response.text
    assert not seaweed.exists(s["key"])


def test_post_over_the_size_limit_or_empty_is_rejected(
    client: TestClient, acme_headers: dict[str, str], seaweed: Any
) -> None:
    s = slot(client, acme_headers, content_type="image/jpeg", method="POST")
    response = post(s["url"], s["fields"], b"\x00" * (s["max_bytes"] + 1))
    assert rejected(response, "EntityTooLarge"), response.text
    response = post(s["url"], s["fields"], b"")
    assert rejected(response, "EntityTooSmall"), response.text
    assert not seaweed.exists(s["key"])


def test_post_with_tampered_signature_or_widened_policy_is_rejected(
    client: TestClient, acme_headers: dict[str, str], seaweed: Any
) -> None:
    s = slot(client, acme_headers, content_type="image/jpeg", method="POST")
    signature = s["fields"]["x-amz-signature"]
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    response = post(s["url"], {**s["fields"], "x-amz-signature": flipped}, JPEG)
    assert rejected(response, "SignatureDoesNotMatch"), response.text
    policy = json.loads(base64.b64decode(s["fields"]["policy"]))
    policy["conditions"] = [
        ["content-length-range", 1, 10**9] if isinstance(c, list) else c
        for c in policy["conditions"]
    ]
    widened = base64.b64encode(json.dumps(policy).encode()).decode()
    response = post(s["url"], {**s["fields"], "policy": widened}, JPEG)
    assert rejected(response, "SignatureDoesNotMatch"), response.text
    assert not seaweed.exists(s["key"])


def test_expired_post_policy_is_rejected(
    settings: Settings, seaweed: Any, aws_session: Any
) -> None:
    key = "incoming/acme/2026/01/01/expired-post.jpg"
    presigned = presign_post(
        s3_client(settings, public=True, session=aws_session),
        bucket=UPLOADS_BUCKET,
        key=key,
        content_type="image/jpeg",
        max_bytes=settings.max_upload_bytes,
        expires_s=1,
    )
    time.sleep(2.5)
    response = post(presigned.url, presigned.fields, JPEG)
    assert rejected(response, "AccessDenied") and "expired" in response.text.lower()
    assert not seaweed.exists(key)


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_url_signed_with_other_credentials_is_rejected(
    settings: Settings, seaweed: Any, method: str
) -> None:
    """A URL signed by someone who does not hold the API's secret (forged) is refused."""
    key = f"incoming/acme/2026/01/01/forged-{method.lower()}.jpg"
    forger = seaweed.forger()
    if method == "PUT":
        p = presign_put(forger, bucket=UPLOADS_BUCKET, key=key, content_type="image/jpeg",
                        size=len(JPEG), expires_s=60)  # fmt: skip
        response = put(p.url, JPEG, p.headers)
    else:
        p = presign_post(forger, bucket=UPLOADS_BUCKET, key=key, content_type="image/jpeg",
                         max_bytes=settings.max_upload_bytes, expires_s=60)  # fmt: skip
        response = post(p.url, p.fields, JPEG)
    assert rejected(response, "SignatureDoesNotMatch"), response.text
    assert not seaweed.exists(key)
