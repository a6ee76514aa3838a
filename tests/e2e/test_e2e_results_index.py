"""Camera metadata and the time index through the real stack: a slot with camera_id/captured_at,
the presigned PUT, the relay, the transformer, then result.json, the index and GET /v1/results
agree, also after the same slot is used again for other bytes (a re-upload)."""

from __future__ import annotations

import io
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image
from skimage import data

from stack.lifecycle import StackState
from stack.upload_api import dev_token
from stack.uploads import StackClient
from transformer.index import index_prefix, parse_entry_key

pytestmark = pytest.mark.e2e

CAPTURED = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
WAIT_S = 120


def jpeg(pixels: Any, size: int) -> bytes:
    """A JPEG padded after its end marker to exactly `size` bytes: the slot signs the length."""
    out = io.BytesIO()
    Image.fromarray(pixels).convert("RGB").save(out, "JPEG", quality=85)
    body = out.getvalue()
    assert len(body) <= size
    return body + b"\x00" * (size - len(body))


def results(api: str, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    response = requests.get(f"{api}/v1/results", params=params, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def wait_for(check: Any) -> Any:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError("timed out")


def test_metadata_reaches_result_json_and_the_index_agrees_after_a_reupload(
    stack: StackState, client: StackClient
) -> None:
    tenant = f"idx-{uuid.uuid4().hex[:8]}"
    headers = {"Authorization": f"Bearer {dev_token(Path(stack.api_keys_dir), tenant)}"}
    size = 200_000
    first, second = jpeg(data.astronaut(), size), jpeg(data.rocket(), size)
    body = {
        "content_type": "image/jpeg",
        "size": size,
        "camera_id": "gate-7",
        "captured_at": CAPTURED.isoformat(),
        "labels": {"site": "north"},
    }
    slot = requests.post(f"{stack.api_url}/v1/uploads", json=body, headers=headers, timeout=30)
    assert slot.status_code == 201, slot.text
    s = slot.json()
    put = requests.put(s["url"], data=first, headers=s["headers"], timeout=30)
    assert put.status_code == 200, put.text

    record = wait_for(lambda: client.record_of(tenant, s["image_id"]))
    assert record["status"] == "anonymized"
    assert record["metadata"] == {
        "camera_id": "gate-7",
        "captured_at": CAPTURED.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "labels": {"site": "north"},
    }
    (item,) = wait_for(lambda: results(stack.api_url, headers))
    assert item["camera_id"] == "gate-7" and item["person_fraction"] > 0.3
    (entry,) = client.list_keys(stack.results_bucket, index_prefix(tenant))
    parsed = parse_entry_key(entry)
    assert parsed is not None and parsed.time == CAPTURED and parsed.camera_id == "gate-7"

    # the same slot used again for other bytes: a new etag, processed again, one entry
    etag = record["source"]["etag"]
    put = requests.put(s["url"], data=second, headers=s["headers"], timeout=30)
    assert put.status_code == 200, put.text
    record = wait_for(
        lambda: (r := client.record_of(tenant, s["image_id"])) and r["source"]["etag"] != etag and r
    )
    assert record["person_fraction"] < 0.01  # the rocket now
    assert client.list_keys(stack.results_bucket, index_prefix(tenant)) == [entry]
    (item,) = results(stack.api_url, headers, camera_id="gate-7")
    assert item["image_id"] == s["image_id"] and item["person_fraction"] < 0.01
    other = {"Authorization": f"Bearer {dev_token(Path(stack.api_keys_dir), 'someone-else')}"}
    assert results(stack.api_url, other, camera_id="gate-7") == []
