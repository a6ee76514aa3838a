"""GET /v1/results: a tenant's results in time order from the index, paged, filtered, isolated,
and in agreement with result.json after duplicates and re-uploads.

Records and index entries are written by the transformer's own code (Storage + ResultIndex, as
`Pipeline._write_record` does) into the real S3 server the API reads.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from transformer.index import ResultIndex, index_prefix
from transformer.keys import result_keys
from transformer.metadata import ImageMetadata
from transformer.results import (
    Anonymization,
    Failure,
    ModelRef,
    OutputKeys,
    ResultRecord,
    SourceObject,
)
from transformer.storage import Storage

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=30)  # spans two days


def finish(
    seaweed: Any,
    tenant: str,
    image_id: str,
    *,
    at: datetime,
    camera: str | None = None,
    failed: bool = False,
    etag: str = "e1",
) -> ResultRecord:
    """What the transformer writes for one image: outputs, result.json, then its index entry."""
    storage = Storage(seaweed.client)
    keys = result_keys(tenant, image_id, "jpg")
    if not failed:
        storage.write(seaweed.bucket, keys.anonymized, b"ANONYMIZED", "image/jpeg")
        storage.write(seaweed.bucket, keys.mask, b"MASK", "image/png")
    record = ResultRecord(
        status="failed" if failed else "anonymized",
        image_id=image_id,
        tenant=tenant,
        event_id="evt",
        source=SourceObject(
            bucket=seaweed.bucket, key=f"incoming/{tenant}/x/{image_id}.jpg", etag=etag
        ),
        outputs=None
        if failed
        else OutputKeys(
            bucket=seaweed.bucket, anonymized=keys.anonymized, mask=keys.mask, record=keys.record
        ),
        width=None if failed else 64,
        height=None if failed else 48,
        model=ModelRef(name="person_segmenter", version="3"),
        models=[ModelRef(name="person_segmenter", version="3", role="segmenter")],
        anonymization=Anonymization(mode="blur", threshold=0.5, dilation_px=4),
        person_fraction=None if failed else 0.125,
        transformer_version="0.1.0",
        processed_at=at,
        error=Failure(type="InvalidImage", reason="not an image") if failed else None,
        metadata=ImageMetadata(camera_id=camera) if camera else None,
    )
    index = ResultIndex(storage)
    replaced = index.current_entry(seaweed.bucket, keys)
    storage.write(
        seaweed.bucket, keys.record, record.model_dump_json().encode(), "application/json"
    )
    index.write(seaweed.bucket, record, replaced=replaced)
    return record


@pytest.fixture(scope="module")
def tenant(seaweed: Any, dev_keys: Any) -> dict[str, Any]:
    """A fresh tenant with 7 results over 30 hours: cameras a/b, one failure."""
    from .conftest import token_for

    name = f"t-{uuid.uuid4().hex[:12]}"
    ids = []
    for n in range(7):
        image_id = f"img-{n}"
        finish(
            seaweed,
            name,
            image_id,
            at=T0 + timedelta(hours=5 * n),
            camera="cam-a" if n % 2 == 0 else "cam-b",
            failed=n == 3,
        )
        ids.append(image_id)
    headers = {"Authorization": f"Bearer {token_for(dev_keys, name)}"}
    return {"name": name, "ids": ids, "headers": headers}


def get(client: TestClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = client.get("/v1/results", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_newest_first_by_default_with_details_and_links(
    client: TestClient, tenant: dict[str, Any]
) -> None:
    page = get(client, tenant["headers"])
    assert [i["image_id"] for i in page["items"]] == list(reversed(tenant["ids"]))
    assert page["next_cursor"] is None
    done = page["items"][0]
    assert done["status"] == "anonymized" and done["camera_id"] == "cam-a"
    assert done["person_fraction"] == 0.125 and done["model"] == {
        "name": "person_segmenter",
        "version": "3",
        "role": None,
    }
    assert f"/results/{tenant['name']}/img-6/anonymized.jpg" in done["anonymized_url"]
    assert f"/results/{tenant['name']}/img-6/mask.png" in done["mask_url"]
    failed = next(i for i in page["items"] if i["image_id"] == "img-3")
    assert failed["status"] == "failed" and failed["anonymized_url"] is None
    assert failed["error"] == {"type": "InvalidImage", "reason": "not an image"}


def test_cursor_paging_visits_every_result_once_in_order(
    client: TestClient, tenant: dict[str, Any]
) -> None:
    for order in ("asc", "desc"):
        seen: list[str] = []
        cursor = None
        for _ in range(10):
            params = {"limit": 2, "order": order, **({"cursor": cursor} if cursor else {})}
            page = get(client, tenant["headers"], **params)
            seen += [i["image_id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        expected = tenant["ids"] if order == "asc" else list(reversed(tenant["ids"]))
        assert seen == expected


def test_filters_camera_status_and_time(client: TestClient, tenant: dict[str, Any]) -> None:
    h = tenant["headers"]
    cam_b = get(client, h, camera_id="cam-b", order="asc")
    assert [i["image_id"] for i in cam_b["items"]] == ["img-1", "img-3", "img-5"]
    failed = get(client, h, status="failed")
    assert [i["image_id"] for i in failed["items"]] == ["img-3"]
    window = get(
        client,
        h,
        order="asc",
        **{
            "from": (T0 + timedelta(hours=5)).isoformat(),
            "to": (T0 + timedelta(hours=15)).isoformat(),
        },
    )
    assert [i["image_id"] for i in window["items"]] == ["img-1", "img-2"]  # [from, to)
    counts = client.get("/v1/results/counts", headers=h).json()
    assert counts == {"total": 7, "anonymized": 6, "failed": 1}
    counts_b = client.get("/v1/results/counts", params={"camera_id": "cam-b"}, headers=h).json()
    assert counts_b == {"total": 3, "anonymized": 2, "failed": 1}


def test_another_tenant_sees_nothing_and_cannot_use_a_cursor_to_look(
    client: TestClient, tenant: dict[str, Any], globex_headers: dict[str, str]
) -> None:
    assert get(client, globex_headers)["items"] == []
    assert client.get("/v1/results/counts", headers=globex_headers).json()["total"] == 0
    cursor = get(client, tenant["headers"], limit=2)["next_cursor"]
    # the cursor is relative to the caller's own index: globex gets its own (empty) listing
    assert get(client, globex_headers, cursor=cursor)["items"] == []
    assert client.get("/v1/results").status_code == 401


def test_index_agrees_with_result_json_after_duplicates_and_reuploads(
    client: TestClient, seaweed: Any, dev_keys: Any
) -> None:
    from .conftest import token_for

    name = f"t-{uuid.uuid4().hex[:12]}"
    headers = {"Authorization": f"Bearer {token_for(dev_keys, name)}"}
    at = datetime.now(UTC) - timedelta(hours=2)
    first = finish(seaweed, name, "img-r", at=at, camera="cam-1")
    finish(seaweed, name, "img-r", at=at, camera="cam-1")  # redelivery: same record, same entry
    listing = seaweed.client.list_objects_v2(Bucket=seaweed.bucket, Prefix=index_prefix(name))
    assert listing["KeyCount"] == 1
    # re-upload: a new record (later, another camera) replaces the entry
    finish(seaweed, name, "img-r", at=at + timedelta(minutes=30), camera="cam-2", etag="e2")
    items = get(client, headers)["items"]
    assert [(i["image_id"], i["camera_id"]) for i in items] == [("img-r", "cam-2")]
    # an entry left behind (say the delete failed) is never shown: result.json decides
    from transformer.index import entry_key, index_entry

    seaweed.client.put_object(
        Bucket=seaweed.bucket,
        Key=entry_key(first),
        Body=index_entry(first).model_dump_json().encode(),
    )
    items = get(client, headers)["items"]
    assert [(i["image_id"], i["camera_id"]) for i in items] == [("img-r", "cam-2")]
    assert get(client, headers, camera_id="cam-1")["items"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-11-01T00:00:00Z", "to": "2026-12-15T00:00:00Z"},  # over 31 days
        {"from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"},
        {"from": "2026-11-01T00:00:00"},  # no offset
        {"camera_id": "cam_1"},
        {"status": "done"},
        {"limit": 0},
        {"limit": 201},
        {"cursor": "!!!"},
        {"cursor": "c29tZXRoaW5nIGVsc2U"},
    ],
)
def test_bad_queries_are_400(
    client: TestClient, acme_headers: dict[str, str], params: dict[str, Any]
) -> None:
    response = client.get("/v1/results", params=params, headers=acme_headers)
    assert response.status_code == 400, response.text


def test_seaweedfs_checks_the_transformers_signatures(seaweed: Any) -> None:
    """SeaweedFS verifies SigV4 against its identities (unlike moto): the transformer's own S3
    transport is accepted with the right secret, odd keys included, and refused with a wrong one."""
    from transformer.errors import StorageUnavailable

    from .conftest import ACCESS_KEY, raw_s3

    storage = Storage(seaweed.client)
    key = f"results/ténant one/{uuid.uuid4().hex} ü+€.json"
    assert storage.write(seaweed.bucket, key, b"{}", "application/json", if_absent=True)
    assert storage.read(seaweed.bucket, key, max_bytes=10).body == b"{}"
    assert key in storage.list_keys(seaweed.bucket, "results/ténant one/")
    forged = Storage(raw_s3(seaweed.endpoint, ACCESS_KEY, "not-the-secret"))
    with pytest.raises(StorageUnavailable, match="SignatureDoesNotMatch|AccessDenied"):
        forged.write(seaweed.bucket, key + ".x", b"{}", "application/json")
