"""Image and batch status read from result.json; links only to the anonymized image and the mask."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from fastapi.testclient import TestClient

from transformer.keys import parse_incoming_key, result_keys
from transformer.results import (
    Anonymization,
    Failure,
    ModelRef,
    OutputKeys,
    ResultRecord,
    SourceObject,
)

UPLOAD = {"content_type": "image/jpeg", "size": 100}


def write_result(
    seaweed: Any, upload_key: str, *, failed: str | None = None, outputs: OutputKeys | None = None
) -> ResultRecord:
    """Write what the transformer writes (images first, result.json last)."""
    incoming = parse_incoming_key(upload_key)
    keys = result_keys(incoming.tenant, incoming.image_id, incoming.ext)
    if failed is None and outputs is None:
        seaweed.client.put_object(Bucket=seaweed.bucket, Key=keys.anonymized, Body=b"ANONYMIZED")
        seaweed.client.put_object(Bucket=seaweed.bucket, Key=keys.mask, Body=b"MASK")
        outputs = OutputKeys(
            bucket=seaweed.bucket, anonymized=keys.anonymized, mask=keys.mask, record=keys.record
        )
    record = ResultRecord(
        status="failed" if failed else "anonymized",
        image_id=incoming.image_id,
        tenant=incoming.tenant,
        event_id="evt-1",
        source=SourceObject(bucket=seaweed.bucket, key=upload_key),
        outputs=None if failed else outputs,
        width=None if failed else 64,
        height=None if failed else 48,
        model=ModelRef(name="person_segmenter", version="1"),
        anonymization=Anonymization(mode="blur", threshold=0.5, dilation_px=4),
        person_fraction=None if failed else 0.25,
        transformer_version="0.1.0",
        processed_at=datetime.now(UTC),
        error=Failure(type="InvalidImage", reason=failed) if failed else None,
    )
    seaweed.client.put_object(
        Bucket=seaweed.bucket, Key=keys.record, Body=record.model_dump_json().encode()
    )
    return record


def upload(client: TestClient, headers: dict[str, str], seaweed: Any) -> dict[str, Any]:
    """A slot plus the original actually uploaded through its URL."""
    slot = client.post("/v1/uploads", json=UPLOAD, headers=headers).json()
    response = requests.put(slot["url"], data=b"\xff" * 100, headers=slot["headers"], timeout=10)
    assert response.status_code == 200
    return dict(slot)


def test_image_goes_from_pending_to_done_with_links_to_results_only(
    client: TestClient, acme_headers: dict[str, str], seaweed: Any
) -> None:
    slot = upload(client, acme_headers, seaweed)
    pending = client.get(f"/v1/images/{slot['image_id']}", headers=acme_headers).json()
    assert pending["status"] == "pending" and pending["anonymized_url"] is None

    write_result(seaweed, slot["key"])
    done = client.get(f"/v1/images/{slot['image_id']}", headers=acme_headers).json()
    assert done["status"] == "done"
    assert (done["width"], done["height"], done["person_fraction"]) == (64, 48, 0.25)
    assert requests.get(done["anonymized_url"], timeout=10).content == b"ANONYMIZED"
    assert requests.get(done["mask_url"], timeout=10).content == b"MASK"
    assert all("incoming/" not in url for url in (done["anonymized_url"], done["mask_url"]))
    # the links are signed: the same URL pointed at the original is refused by S3
    swapped = done["anonymized_url"].replace(
        result_keys("acme", slot["image_id"], "jpg").anonymized, slot["key"]
    )
    assert requests.get(swapped, timeout=10).status_code == 403


def test_failed_image_reports_the_reason_and_no_links(
    client: TestClient, acme_headers: dict[str, str], seaweed: Any
) -> None:
    slot = upload(client, acme_headers, seaweed)
    write_result(seaweed, slot["key"], failed="not an image: cannot decode")
    failed = client.get(f"/v1/images/{slot['image_id']}", headers=acme_headers).json()
    assert failed["status"] == "failed"
    assert failed["error"] == {"type": "InvalidImage", "reason": "not an image: cannot decode"}
    assert failed["anonymized_url"] is None and failed["mask_url"] is None


def test_a_result_pointing_outside_its_prefix_never_yields_a_link(
    client: TestClient, acme_headers: dict[str, str], seaweed: Any
) -> None:
    slot = upload(client, acme_headers, seaweed)
    keys = result_keys("acme", slot["image_id"], "jpg")
    evil = OutputKeys(
        bucket=seaweed.bucket, anonymized=slot["key"], mask=keys.mask, record=keys.record
    )
    write_result(seaweed, slot["key"], outputs=evil)
    status = client.get(f"/v1/images/{slot['image_id']}", headers=acme_headers).json()
    assert status["status"] == "failed" and status["anonymized_url"] is None


def test_unknown_or_malformed_image_ids_are_404(
    client: TestClient, acme_headers: dict[str, str]
) -> None:
    for image_id in ("0" * 32, "NOT-AN-ID", "a" * 65, "..%2F..%2Fapi"):
        assert client.get(f"/v1/images/{image_id}", headers=acme_headers).status_code == 404


def test_batch_counts_and_per_image_links(
    client: TestClient, acme_headers: dict[str, str], seaweed: Any
) -> None:
    items = [{**UPLOAD, "filename": f"frame-{i}.jpg"} for i in range(5)]
    created = client.post("/v1/batches", json={"items": items}, headers=acme_headers)
    assert created.status_code == 201
    batch = created.json()
    assert [u["filename"] for u in batch["uploads"]] == [i["filename"] for i in items]
    assert len({u["image_id"] for u in batch["uploads"]}) == 5
    for s in batch["uploads"]:
        response = requests.put(s["url"], data=b"\xff" * 100, headers=s["headers"], timeout=10)
        assert response.status_code == 200
    for s in batch["uploads"][:3]:
        write_result(seaweed, s["key"])
    write_result(seaweed, batch["uploads"][3]["key"], failed="too large")

    status = client.get(f"/v1/batches/{batch['batch_id']}", headers=acme_headers).json()
    assert status["counts"] == {"total": 5, "pending": 1, "done": 3, "failed": 1}
    assert status["status"] == "pending"
    by_id = {image["image_id"]: image for image in status["images"]}
    for s in batch["uploads"][:3]:
        image = by_id[s["image_id"]]
        assert image["batch_id"] == batch["batch_id"] and image["filename"] == s["filename"]
        assert requests.get(image["anonymized_url"], timeout=10).content == b"ANONYMIZED"
    # a batch image is also reachable on its own
    one = client.get(f"/v1/images/{batch['uploads'][3]['image_id']}", headers=acme_headers).json()
    assert one["status"] == "failed" and one["batch_id"] == batch["batch_id"]

    write_result(seaweed, batch["uploads"][4]["key"])
    final = client.get(f"/v1/batches/{batch['batch_id']}", headers=acme_headers).json()
    assert final["status"] == "complete"
    assert final["counts"] == {"total": 5, "pending": 0, "done": 4, "failed": 1}


@pytest.mark.parametrize("size", [0, 1001])
def test_empty_or_oversized_batch_is_400(
    client: TestClient, acme_headers: dict[str, str], size: int
) -> None:
    response = client.post("/v1/batches", json={"items": [UPLOAD] * size}, headers=acme_headers)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_a_full_batch_of_1000_gets_1000_distinct_slots(
    client: TestClient, acme_headers: dict[str, str]
) -> None:
    response = client.post("/v1/batches", json={"items": [UPLOAD] * 1000}, headers=acme_headers)
    assert response.status_code == 201, response.text
    uploads = response.json()["uploads"]
    assert len({u["key"] for u in uploads}) == 1000
    status = client.get(f"/v1/batches/{response.json()['batch_id']}", headers=acme_headers)
    assert status.json()["counts"] == {"total": 1000, "pending": 1000, "done": 0, "failed": 0}


def test_batch_with_one_bad_item_creates_nothing(
    client: TestClient, acme_headers: dict[str, str], settings: Any
) -> None:
    items = [UPLOAD, {"content_type": "image/jpeg", "size": settings.max_upload_bytes + 1}]
    response = client.post("/v1/batches", json={"items": items}, headers=acme_headers)
    assert response.status_code == 400 and "items" not in response.json()
