"""End to end through the real stack: presigned PUT → S3 event → relay → transformer → Triton → S3."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from stack.lifecycle import StackState
from stack.uploads import Outcome, StackClient, wait_for_outcomes
from tests.e2e.e2e_support import (
    decode_mask,
    decode_rgb,
    encode,
    grow,
    laplacian_energy,
    replies,
    shrink,
    unique_id,
    wait_until,
)
from transformer.keys import result_keys
from transformer.results import ResultRecord

pytestmark = pytest.mark.e2e
TENANT = "e2e"


def run_one(client: StackClient, body: bytes, ext: str, prefix: str) -> Outcome:
    upload = client.upload(body, tenant=TENANT, image_id=unique_id(prefix), ext=ext)
    [outcome] = wait_for_outcomes(client, [upload], timeout_s=120)
    return outcome


def result_objects(client: StackClient, stack: StackState, image_id: str) -> dict[str, bytes]:
    prefix = result_keys(TENANT, image_id, "x").prefix
    keys = client.list_keys(stack.results_bucket, prefix)
    return {key: client.get(stack.results_bucket, key) or b"" for key in keys}


@pytest.mark.parametrize(
    ("name", "fmt", "ext"),
    [("astronaut", "JPEG", "jpg"), ("camera", "PNG", "png")],
)
def test_people_come_back_blurred_and_the_rest_unchanged(
    client: StackClient, stack: StackState, name: str, fmt: str, ext: str
) -> None:
    pixels = getattr(data, name)()
    original_bytes = encode(pixels, fmt, **({"quality": 92} if fmt == "JPEG" else {}))
    outcome = run_one(client, original_bytes, ext, name)
    assert outcome.status == "anonymized", outcome.reason

    record = ResultRecord.model_validate(outcome.record)  # result.json matches its schema
    assert record.outputs is not None
    assert (record.width, record.height) == (512, 512)
    assert record.source.key == outcome.upload.key
    assert record.person_fraction is not None and record.person_fraction > 0.2
    assert record.person_regions

    anonymized = decode_rgb(client.get(record.outputs.bucket, record.outputs.anonymized) or b"")
    mask = decode_mask(client.get(record.outputs.bucket, record.outputs.mask) or b"")
    original = decode_rgb(original_bytes)
    assert anonymized.shape == original.shape and mask.shape == original.shape[:2]
    assert abs(mask.mean() - record.person_fraction) < 1e-6

    # Inside the person the detail is gone: the Laplacian energy falls by far more than 10×.
    inside = shrink(mask, 8)
    assert inside.sum() > 10_000
    assert laplacian_energy(anonymized, inside) < 0.1 * laplacian_energy(original, inside)
    assert np.abs(anonymized[inside].astype(int) - original[inside]).mean() > 8
    # Outside it the image is the original, up to JPEG re-encoding (exactly so for PNG).
    diff = np.abs(anonymized.astype(int) - original.astype(int))
    if fmt == "PNG":
        assert record.outputs.anonymized.endswith(".png")
        assert diff[~mask].max() == 0
    else:
        assert record.outputs.anonymized.endswith(".jpg")
        outside = ~grow(mask, 8)  # JPEG blocks (8 px, chroma 16 px) straddle the mask edge
        assert outside.sum() > 10_000
        assert diff[outside].mean() < 2.0

    # The reply event went back to the "broker".
    subject = f"{TENANT}/{outcome.upload.image_id}"
    reply = wait_until(
        lambda: [r for r in replies(stack) if r.get("subject") == subject],
        what="reply event recorded",
    )[0]
    assert reply["type"] == "siteveil.image.anonymized"
    assert reply["source"] == f"siteveil/transformer/{stack.model_name}"
    assert ResultRecord.model_validate(reply["data"]) == record


def test_an_image_without_people_is_left_as_it_was(client: StackClient) -> None:
    original_bytes = encode(data.rocket(), "JPEG", quality=92)
    outcome = run_one(client, original_bytes, "jpg", "rocket")
    assert outcome.status == "anonymized", outcome.reason
    record = ResultRecord.model_validate(outcome.record)
    assert record.person_fraction is not None and record.person_fraction < 0.01
    assert record.outputs is not None
    anonymized = decode_rgb(client.get(record.outputs.bucket, record.outputs.anonymized) or b"")
    mask = decode_mask(client.get(record.outputs.bucket, record.outputs.mask) or b"")
    untouched = ~grow(mask, 8)
    diff = np.abs(anonymized.astype(int) - decode_rgb(original_bytes).astype(int))
    assert diff[untouched].mean() < 2.0


@pytest.mark.parametrize(
    ("body", "ext", "what"),
    [
        (encode(data.astronaut(), "JPEG", quality=90)[:3000], "jpg", "truncated JPEG"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "png", "corrupt PNG"),
        (b"Name,Age\nAda,36\n" * 20, "jpg", "CSV named .jpg"),
        (b"%PDF-1.7\n" + b"0" * 200, "webp", "PDF named .webp"),
    ],
)
def test_unusable_uploads_fail_closed_with_a_reason(
    client: StackClient, stack: StackState, body: bytes, ext: str, what: str
) -> None:
    outcome = run_one(client, body, ext, "broken")
    assert outcome.status == "failed", f"{what}: {outcome.status} {outcome.reason}"
    record = ResultRecord.model_validate(outcome.record)
    assert record.error is not None and record.error.reason
    assert record.outputs is None and record.person_fraction is None
    # Fail closed: result.json is the only object; no image, no mask.
    objects = result_objects(client, stack, outcome.upload.image_id)
    assert list(objects) == [result_keys(TENANT, outcome.upload.image_id, "x").record]
    subject = f"{TENANT}/{outcome.upload.image_id}"
    reply = wait_until(
        lambda: [r for r in replies(stack) if r.get("subject") == subject],
        what="failed reply recorded",
    )[0]
    assert reply["type"] == "siteveil.image.failed"
    assert reply["data"]["error"]["reason"] == record.error.reason
