"""Camera metadata on upload slots: validated, documented, and signed into the upload so that the
S3 server (SeaweedFS, which checks SigV4) refuses a changed value."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from fastapi.testclient import TestClient

from transformer.metadata import from_s3_metadata

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 996
META = {
    "camera_id": "cam-07",
    "captured_at": "2026-11-30T08:15:00+01:00",
    "labels": {"site": "berlin-north", "zone": "gate 2"},
}


def slot(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post("/v1/uploads", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def signature_mismatch(response: requests.Response) -> bool:
    return response.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in response.text


def test_metadata_travels_with_the_object(
    client: TestClient, acme_headers: dict[str, str], seaweed: Any
) -> None:
    s = slot(client, acme_headers, content_type="image/jpeg", size=len(JPEG), **META)
    assert s["headers"]["x-amz-meta-camera-id"] == "cam-07"
    assert s["headers"]["x-amz-meta-captured-at"] == "2026-11-30T07:15:00Z"  # normalised to UTC
    signed = s["url"].split("X-Amz-SignedHeaders=")[1].split("&")[0]
    assert "x-amz-meta-camera-id" in signed and "x-amz-meta-label-zone" in signed
    response = requests.put(s["url"], data=JPEG, headers=s["headers"], timeout=10)
    assert response.status_code == 200, response.text
    head = seaweed.client.head_object(Bucket=seaweed.bucket, Key=s["key"])
    meta = from_s3_metadata(head["Metadata"])  # what the transformer reads on GET
    assert meta is not None and meta.camera_id == "cam-07"
    assert meta.captured_at == datetime(2026, 11, 30, 7, 15, tzinfo=UTC)
    assert meta.labels == {"site": "berlin-north", "zone": "gate 2"}


@pytest.mark.parametrize(
    "change",
    [
        {"x-amz-meta-camera-id": "cam-08"},
        {"x-amz-meta-captured-at": "2026-11-30T07:16:00Z"},
        {"x-amz-meta-label-site": "elsewhere"},
    ],
    ids=["camera", "time", "label"],
)
def test_a_tampered_metadata_header_is_rejected_by_the_signature_check(
    client: TestClient, acme_headers: dict[str, str], seaweed: Any, change: dict[str, str]
) -> None:
    s = slot(client, acme_headers, content_type="image/jpeg", size=len(JPEG), **META)
    response = requests.put(s["url"], data=JPEG, headers={**s["headers"], **change}, timeout=10)
    assert signature_mismatch(response), response.text
    assert not seaweed.exists(s["key"])


def test_a_dropped_metadata_header_is_rejected(
    client: TestClient, acme_headers: dict[str, str], seaweed: Any
) -> None:
    s = slot(client, acme_headers, content_type="image/jpeg", size=len(JPEG), **META)
    headers = {k: v for k, v in s["headers"].items() if k != "x-amz-meta-camera-id"}
    response = requests.put(s["url"], data=JPEG, headers=headers, timeout=10)
    assert response.status_code == 403, response.text
    assert not seaweed.exists(s["key"])


def test_post_policy_pins_the_metadata(
    client: TestClient, acme_headers: dict[str, str], seaweed: Any
) -> None:
    s = slot(client, acme_headers, content_type="image/jpeg", method="POST", **META)
    policy = json.loads(base64.b64decode(s["fields"]["policy"]))
    assert {"x-amz-meta-camera-id": "cam-07"} in policy["conditions"]
    forged = {**s["fields"], "x-amz-meta-camera-id": "cam-99"}
    response = requests.post(s["url"], data=forged, files={"file": ("x.jpg", JPEG)}, timeout=10)
    assert response.status_code in (400, 403), response.text
    assert not seaweed.exists(s["key"])
    response = requests.post(
        s["url"], data=s["fields"], files={"file": ("x.jpg", JPEG)}, timeout=10
    )
    assert response.status_code in (200, 204), response.text
    head = seaweed.client.head_object(Bucket=seaweed.bucket, Key=s["key"])
    assert head["Metadata"].get("camera-id") == "cam-07"


def test_batch_items_carry_their_own_metadata(
    client: TestClient, acme_headers: dict[str, str]
) -> None:
    items = [
        {"content_type": "image/jpeg", "size": 10, "camera_id": "cam-1"},
        {"content_type": "image/png", "size": 10},
    ]
    response = client.post("/v1/batches", json={"items": items}, headers=acme_headers)
    assert response.status_code == 201, response.text
    first, second = response.json()["uploads"]
    assert first["headers"]["x-amz-meta-camera-id"] == "cam-1"
    assert not any(h.startswith("x-amz-meta-") for h in second["headers"])


@pytest.mark.parametrize(
    "bad, where",
    [
        ({"camera_id": "cam/7"}, "camera_id"),
        ({"camera_id": "cam_7"}, "camera_id"),
        ({"camera_id": "c" * 65}, "camera_id"),
        ({"captured_at": "2026-11-30T08:15:00"}, "captured_at"),  # no offset
        ({"captured_at": "yesterday"}, "captured_at"),
        ({"labels": {f"k{i}": "v" for i in range(11)}}, "labels"),
        ({"labels": {"Site": "x"}}, "labels"),
        ({"labels": {"site": "x" * 129}}, "labels"),
        ({"labels": {"site": "naïve"}}, "labels"),
        ({"labels": {"site": " padded"}}, "labels"),
    ],
)
def test_invalid_metadata_is_a_400_naming_the_field(
    client: TestClient, acme_headers: dict[str, str], bad: dict[str, Any], where: str
) -> None:
    body = {"content_type": "image/jpeg", "size": 10, **bad}
    response = client.post("/v1/uploads", json=body, headers=acme_headers)
    assert response.status_code == 400, response.text
    assert where in response.json()["reason"]


def test_a_capture_time_far_in_the_future_is_refused(
    client: TestClient, acme_headers: dict[str, str]
) -> None:
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    body = {"content_type": "image/jpeg", "size": 10, "captured_at": later}
    response = client.post("/v1/uploads", json=body, headers=acme_headers)
    assert response.status_code == 400 and "future" in response.json()["reason"]


def test_openapi_documents_the_metadata_fields(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["UploadRequest"]
    props = schema["properties"]
    assert {"camera_id", "captured_at", "labels"} <= set(props)
    camera = props["camera_id"]["anyOf"][0]
    assert camera["pattern"].startswith("^[A-Za-z0-9]")
    assert props["labels"]["maxProperties"] == 10
