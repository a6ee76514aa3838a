"""The bad-input catalogue: every kind of bad event and image we know of, through the real
transformer under Gunicorn (with Triton and moto), each with its status, its reason and no
result image; the Gunicorn workers are the same processes afterwards (no input killed one).

Issue 14: malformed and foreign events, keys outside `incoming/`, traversal, unicode,
zero-byte, truncated, text, SVG, HEIC, TIFF, GIF, 60000² headers, PNG bombs, 16-bit, CMYK,
EXIF 1–8, extreme aspect ratios, animated images, huge bodies, chunked bodies, duplicate ids,
our own reply types. Inputs that are odd but valid (16-bit, CMYK, EXIF, stray JPEG bytes, 1×1)
must come back anonymized, never refused and never un-anonymized.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
import simplejpeg
from PIL import Image

from stack.lifecycle import StackState
from stack.relay import EVENT_TYPE
from stack.uploads import StackClient
from tests.e2e.e2e_support import unique_id, wait_until

pytestmark = pytest.mark.e2e
TENANT = "catalogue"
DAY = "2026/12/01"


# ---- images -----------------------------------------------------------------------------------


def pil(image: Image.Image, fmt: str, **save: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save)
    return buffer.getvalue()


def noise(h: int, w: int) -> np.ndarray:
    return np.random.default_rng(h * 7919 + w).integers(0, 255, (h, w, 3), dtype=np.uint8)


def jpeg(h: int = 96, w: int = 128) -> bytes:
    return simplejpeg.encode_jpeg(noise(h, w), quality=90)


def png(h: int = 96, w: int = 128) -> bytes:
    return pil(Image.fromarray(noise(h, w)), "PNG")


def jpeg_claiming(h: int, w: int) -> bytes:
    """A small JPEG whose SOF header claims h×w."""
    blob = bytearray(jpeg(16, 16))
    sof = blob.find(b"\xff\xc0")
    blob[sof + 5 : sof + 9] = struct.pack(">HH", h, w)
    return bytes(blob)


def png_claiming(h: int, w: int) -> bytes:
    """A small PNG whose IHDR claims h×w (with a valid CRC)."""
    blob = bytearray(png(16, 16))
    ihdr = blob.find(b"IHDR")
    blob[ihdr + 4 : ihdr + 12] = struct.pack(">II", w, h)
    crc = zlib.crc32(bytes(blob[ihdr : ihdr + 17]))
    blob[ihdr + 17 : ihdr + 21] = struct.pack(">I", crc)
    return bytes(blob)


def png_bad_crc() -> bytes:
    blob = bytearray(png(16, 16))
    blob[blob.find(b"IHDR") + 6] ^= 0xFF
    return bytes(blob)


def exif_jpeg(orientation: int) -> bytes:
    image = Image.fromarray(noise(60, 80))
    exif = image.getexif()
    exif[0x0112] = orientation
    return pil(image, "JPEG", exif=exif.tobytes(), quality=90)


def animated(fmt: str) -> bytes:
    frames = [Image.fromarray(np.full((32, 32, 3), v, np.uint8)) for v in (0, 120, 240)]
    return pil(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)


def stray_bytes_jpeg() -> bytes:
    blob = jpeg()
    sos = blob.find(b"\xff\xda")
    return blob[:sos] + b"\x00\x11" + blob[sos:]


def corrupt_jpeg_body() -> bytes:
    blob = bytearray(simplejpeg.encode_jpeg(noise(256, 256), quality=95))
    blob[700:6000] = b"\xff\xd0" * 2650  # stray restart markers in the entropy-coded data
    return bytes(blob)


# ---- cases -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageCase:
    """An object uploaded under a valid key: the transformer answers 200 with a record."""

    body: bytes | None  # None: the event names an object that does not exist
    ext: str
    outcome: str  # "failed" or "anonymized"
    reason: str = ""


IMAGES: dict[str, ImageCase] = {
    "zero-byte": ImageCase(b"", "jpg", "failed", "not a JPEG, PNG or WebP image"),
    "text": ImageCase(b"hello, I am not an image\n" * 20, "jpg", "failed", "not a JPEG, PNG"),
    "svg": ImageCase(
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
        "png",
        "failed",
        "not a JPEG, PNG or WebP image",
    ),
    "heic": ImageCase(
        b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64,
        "jpg",
        "failed",
        "not a JPEG, PNG or WebP image",
    ),
    "tiff": ImageCase(pil(Image.fromarray(noise(20, 20)), "TIFF"), "png", "failed", "not a JPEG"),
    "gif": ImageCase(pil(Image.fromarray(noise(20, 20)), "GIF"), "png", "failed", "not a JPEG"),
    "animated-gif": ImageCase(animated("GIF"), "png", "failed", "not a JPEG, PNG or WebP"),
    "animated-webp": ImageCase(animated("WEBP"), "webp", "failed", "animated image (3 frames)"),
    "animated-png": ImageCase(animated("PNG"), "png", "failed", "animated image (3 frames)"),
    "truncated-jpeg": ImageCase(jpeg()[:1500], "jpg", "failed", "corrupt JPEG"),
    "truncated-png": ImageCase(png()[:3000], "png", "failed", "corrupt image"),
    "jpeg-only-soi": ImageCase(b"\xff\xd8\xff", "jpg", "failed", "corrupt JPEG"),
    "corrupt-jpeg-body": ImageCase(corrupt_jpeg_body(), "jpg", "failed", "corrupt JPEG"),
    "jpeg-header-60000x60000": ImageCase(
        jpeg_claiming(60000, 60000), "jpg", "failed", "more than 50000000 pixels"
    ),
    "png-header-60000x60000": ImageCase(
        png_claiming(60000, 60000), "png", "failed", "decompression bomb"
    ),
    "png-bomb-10000x10000": ImageCase(
        pil(Image.new("1", (10000, 10000)), "PNG"), "png", "failed", "decompression bomb"
    ),
    "png-crc-error": ImageCase(png_bad_crc(), "png", "failed", "header cannot be read"),
    "aspect-30000x20": ImageCase(
        pil(Image.new("RGB", (30000, 20)), "JPEG"), "jpg", "failed", "aspect ratio"
    ),
    "aspect-20x30000": ImageCase(
        pil(Image.new("RGB", (20, 30000)), "PNG"), "png", "failed", "aspect ratio"
    ),
    "missing-object": ImageCase(None, "jpg", "failed", "does not exist"),
    # odd but valid: anonymized
    "16-bit-png": ImageCase(
        pil(Image.fromarray(np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 16), "PNG"),
        "png",
        "anonymized",
    ),
    "cmyk-jpeg": ImageCase(
        pil(Image.new("CMYK", (64, 48), (0, 80, 160, 0)), "JPEG"), "jpg", "anonymized"
    ),
    "grey-jpeg": ImageCase(
        pil(Image.fromarray(noise(48, 64)[:, :, 0]), "JPEG"), "jpg", "anonymized"
    ),
    "1x1-png": ImageCase(png(1, 1), "png", "anonymized"),
    "stray-bytes-jpeg": ImageCase(stray_bytes_jpeg(), "jpg", "anonymized"),
    **{f"exif-orientation-{n}": ImageCase(exif_jpeg(n), "jpg", "anonymized") for n in range(1, 9)},
}


def eventbridge(bucket: str, key: object) -> dict[str, Any]:
    return {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": bucket}, "object": {"key": key, "size": 10}},
    }


def binary(data: object, **overrides: str | None) -> tuple[dict[str, str], bytes]:
    headers: dict[str, str | None] = {
        "ce-specversion": "1.0",
        "ce-id": unique_id("ev"),
        "ce-source": "catalogue",
        "ce-type": EVENT_TYPE,
        "content-type": "application/json",
        **overrides,
    }
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    return {k: v for k, v in headers.items() if v is not None}, body


def key(image_id: str = "img-1", ext: str = "jpg") -> str:
    return f"incoming/{TENANT}/{DAY}/{image_id}.{ext}"


def nested_bodies(depth: int) -> dict[str, Any]:
    inner: dict[str, Any] = {"hello": "world"}
    for _ in range(depth):
        inner = {"Body": json.dumps(inner)}
    return inner


@dataclass(frozen=True)
class EventCase:
    """A request the transformer must refuse (4xx, no retry) with a reason, writing nothing."""

    request: Callable[[StackState], tuple[dict[str, str], bytes]]
    status: int
    reason: str
    method: str = "POST"


EVENTS: dict[str, EventCase] = {
    "empty-body-no-headers": EventCase(lambda s: ({}, b""), 400, "not a CloudEvent"),
    "binary-non-json-data": EventCase(
        lambda s: binary(b"this is not json"), 400, "event data is not JSON"
    ),
    "binary-non-utf8-data": EventCase(lambda s: binary(b"\xff\xfe\xfa"), 400, "not"),
    "binary-missing-ce-type": EventCase(
        lambda s: binary(eventbridge(s.uploads_bucket, key()), **{"ce-type": None}), 400, "ce-type"
    ),
    "binary-missing-ce-id": EventCase(
        lambda s: binary(eventbridge(s.uploads_bucket, key()), **{"ce-id": None}), 400, "ce-id"
    ),
    "binary-missing-ce-source": EventCase(
        lambda s: binary(eventbridge(s.uploads_bucket, key()), **{"ce-source": None}),
        400,
        "ce-source",
    ),
    "structured-missing-type": EventCase(
        lambda s: (
            {"content-type": "application/cloudevents+json"},
            json.dumps({"specversion": "1.0", "id": "1", "source": "s", "data": {}}).encode(),
        ),
        400,
        "type",
    ),
    "own-reply-type-anonymized": EventCase(
        lambda s: binary(
            eventbridge(s.uploads_bucket, key()), **{"ce-type": "siteveil.image.anonymized"}
        ),
        400,
        "reply loop",
    ),
    "own-reply-type-failed": EventCase(
        lambda s: binary(
            eventbridge(s.uploads_bucket, key()), **{"ce-type": "siteveil.image.failed"}
        ),
        400,
        "reply loop",
    ),
    "not-an-s3-event": EventCase(lambda s: binary({"hello": 1}), 400, "not an S3 object-created"),
    "json-array-data": EventCase(lambda s: binary([1, 2, 3]), 400, "not an S3 object-created"),
    "s3-test-event": EventCase(
        lambda s: binary({"Service": "Amazon S3", "Event": "s3:TestEvent"}), 400, "S3 test event"
    ),
    "eventbridge-foreign-source": EventCase(
        lambda s: binary({**eventbridge(s.uploads_bucket, key()), "source": "aws.ec2"}),
        400,
        "is not an S3 Object Created event",
    ),
    "s3-object-removed": EventCase(
        lambda s: binary(
            {
                "Records": [
                    {
                        "eventSource": "aws:s3",
                        "eventName": "ObjectRemoved:Delete",
                        "s3": {"bucket": {"name": s.uploads_bucket}, "object": {"key": key()}},
                    }
                ]
            }
        ),
        400,
        "is not ObjectCreated",
    ),
    "s3-empty-records": EventCase(lambda s: binary({"Records": []}), 400, "non-empty list"),
    "key-not-a-string": EventCase(
        lambda s: binary(eventbridge(s.uploads_bucket, 12345)), 400, "detail.object.key"
    ),
    "key-outside-incoming": EventCase(
        lambda s: binary(eventbridge(s.uploads_bucket, f"results/{TENANT}/img-1/result.json")),
        400,
        "is not incoming/<tenant>",
    ),
    "key-traversal": EventCase(
        lambda s: binary(eventbridge(s.uploads_bucket, f"incoming/{TENANT}/../../etc/passwd.jpg")),
        400,
        "is not incoming/<tenant>",
    ),
    "key-url-encoded-traversal": EventCase(
        lambda s: binary(
            {
                "Records": [
                    {
                        "eventSource": "aws:s3",
                        "eventName": "ObjectCreated:Put",
                        "s3": {
                            "bucket": {"name": s.uploads_bucket},
                            "object": {"key": f"incoming/{TENANT}/%2e%2e/%2e%2e/{DAY}/x.jpg"},
                        },
                    }
                ]
            }
        ),
        400,
        "is not incoming/<tenant>",
    ),
    "key-unicode": EventCase(
        lambda s: binary(eventbridge(s.uploads_bucket, f"incoming/acmé/{DAY}/ïmg.jpg")),
        400,
        "is not incoming/<tenant>",
    ),
    "key-impossible-date": EventCase(
        lambda s: binary(eventbridge(s.uploads_bucket, f"incoming/{TENANT}/2026/13/45/img-1.jpg")),
        400,
        "impossible date",
    ),
    "key-foreign-extension": EventCase(
        lambda s: binary(eventbridge(s.uploads_bucket, f"incoming/{TENANT}/{DAY}/img-1.gif")),
        400,
        "extension 'gif'",
    ),
    "key-uppercase-tenant": EventCase(
        lambda s: binary(eventbridge(s.uploads_bucket, f"incoming/ACME/{DAY}/img-1.jpg")),
        400,
        "is not incoming/<tenant>",
    ),
    "results-bucket-as-source": EventCase(
        lambda s: binary(eventbridge(s.results_bucket, key())), 400, "is not an upload bucket"
    ),
    "unknown-bucket": EventCase(
        lambda s: binary(eventbridge("no-such-bucket-anywhere", key())),
        400,
        "is not an upload bucket",
    ),
    "nesting-too-deep": EventCase(
        lambda s: binary(nested_bodies(6)), 400, "not an S3 object-created notification"
    ),
    "huge-non-json-body-900k": EventCase(
        lambda s: binary(b"\x00no json here " * 64_000), 400, "event data is not"
    ),
    "body-over-1-MiB": EventCase(lambda s: binary(b"x" * (2 * 1024 * 1024)), 413, "larger than"),
    "wrong-method": EventCase(lambda s: ({}, b""), 405, "method not allowed", method="PUT"),
}


# ---- the Gunicorn workers ----------------------------------------------------------------------


def worker_pids(master: int) -> set[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return {int(pid) for pid in children}


@pytest.fixture(scope="module")
def workers(stack: StackState) -> Iterator[set[int]]:
    before = worker_pids(stack.pids["transformer"])
    assert before, "the transformer runs no Gunicorn workers"
    yield before
    assert worker_pids(stack.pids["transformer"]) == before, "an input killed a worker"


@pytest.fixture
def same_workers(stack: StackState, workers: set[int]) -> Iterator[None]:
    yield
    assert worker_pids(stack.pids["transformer"]) == workers, "this input killed a worker"


@dataclass
class Results:
    client: StackClient
    stack: StackState
    seen: list[str] = field(default_factory=list)

    def under(self, image_id: str) -> list[str]:
        return self.client.list_keys(self.stack.results_bucket, f"results/{TENANT}/{image_id}/")

    def all(self) -> list[str]:
        return self.client.list_keys(self.stack.results_bucket, f"results/{TENANT}/")


@pytest.fixture
def results(client: StackClient, stack: StackState) -> Results:
    return Results(client, stack)


# ---- the tests ---------------------------------------------------------------------------------


def _post(stack: StackState, headers: dict[str, str], body: bytes, method: str = "POST") -> Any:
    return requests.request(
        method, stack.transformer_url + "/", headers=headers, data=body, timeout=120
    )


@pytest.mark.parametrize("name", list(EVENTS))
def test_bad_events_are_refused_with_a_reason(
    name: str, stack: StackState, results: Results, same_workers: None
) -> None:
    case = EVENTS[name]
    before = results.all()
    headers, body = case.request(stack)
    response = _post(stack, headers, body, case.method)
    assert response.status_code == case.status, response.text[:500]
    answer = response.json()
    assert case.reason in answer["reason"], answer
    assert len(response.content) < 1000  # bounded, never an echo of the body
    assert results.all() == before  # nothing written anywhere under the tenant


@pytest.mark.parametrize("name", list(IMAGES))
def test_bad_and_odd_images_end_with_a_record(
    name: str, stack: StackState, client: StackClient, results: Results, same_workers: None
) -> None:
    case = IMAGES[name]
    image_id = unique_id(name.lower().replace("_", "-"))[:64]
    object_key = key(image_id, case.ext)
    if case.body is not None:
        client.s3.put_object(Bucket=stack.uploads_bucket, Key=object_key, Body=case.body)
    headers, body = binary(eventbridge(stack.uploads_bucket, object_key))
    response = _post(stack, headers, body)
    assert response.status_code == 200, response.text[:500]
    assert response.headers["ce-type"] == f"siteveil.image.{case.outcome}"
    record = json.loads(response.content)
    assert record["status"] == case.outcome
    written = results.under(image_id)
    prefix = f"results/{TENANT}/{image_id}/"
    if case.outcome == "failed":
        assert case.reason in record["error"]["reason"], record["error"]
        assert "<" not in record["error"]["reason"]
        assert written == [prefix + "result.json"]  # fail closed: no image, no mask
    else:
        assert written == sorted(
            [prefix + "result.json", prefix + "mask.png", record["outputs"]["anonymized"]]
        )


def test_a_duplicate_delivery_is_answered_from_the_record(
    stack: StackState, client: StackClient, results: Results, same_workers: None
) -> None:
    """The upload is delivered by the relay first (the real path); delivering it again is
    harmless: answered from the stored record, one consistent result set."""
    image_id = unique_id("duplicate")
    object_key = key(image_id)
    client.s3.put_object(Bucket=stack.uploads_bucket, Key=object_key, Body=jpeg())
    stored = wait_until(lambda: client.record_of(TENANT, image_id), timeout_s=120)
    assert stored["status"] == "anonymized"
    headers, body = binary(eventbridge(stack.uploads_bucket, object_key))
    again = [_post(stack, headers, body) for _ in range(2)]
    assert [json.loads(r.content) for r in again] == [stored, stored]
    prefix = f"results/{TENANT}/{image_id}/"
    assert results.under(image_id) == [
        prefix + "anonymized.jpg",
        prefix + "mask.png",
        prefix + "result.json",
    ]


def test_a_chunked_body_over_the_limit_is_413_at_the_transformer(
    stack: StackState, same_workers: None
) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b"x" * (64 * 1024)

    response = requests.post(
        stack.transformer_url + "/",
        data=chunks(),
        headers={"content-type": "application/json", "ce-specversion": "1.0"},
        timeout=60,
    )
    assert response.status_code in (400, 413)
    assert len(response.content) < 1000


def test_a_chunked_body_over_the_limit_is_413_at_the_upload_api(stack: StackState) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"content_type": "image/jpeg", "size": 10, "filename": "'
        for _ in range(64):
            yield b"x" * (64 * 1024)
        yield b'"}'

    response = requests.post(
        stack.api_url + "/v1/uploads",
        data=chunks(),
        headers={"content-type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
