"""Camera metadata from the uploaded object into result.json, and the time-ordered index beside it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
import simplejpeg

from transformer.index import entry_key, hour_prefix, index_prefix, parse_entry_key
from transformer.metadata import ImageMetadata, from_s3_metadata, to_s3_metadata
from transformer.pipeline import Pipeline
from transformer.results import ResultRecord
from transformer.storage import Storage

from .conftest import SquarePredictor
from .test_pipeline import event_for, read, settings

KEY = "incoming/acme/2026/11/22/img-1.jpg"
CAPTURED = datetime(2026, 11, 22, 7, 30, 5, 250000, tzinfo=UTC)
PROCESSED = datetime(2026, 11, 22, 9, 0, 0, tzinfo=UTC)


def index_keys(s3: Any, tenant: str = "acme") -> list[str]:
    listed = s3.list_objects_v2(Bucket="results", Prefix=index_prefix(tenant))
    return sorted(o["Key"] for o in listed.get("Contents", []))


def upload(s3: Any, body: bytes, metadata: dict[str, str], key: str = KEY) -> tuple[str, str]:
    etag = s3.put_object(Bucket="uploads", Key=key, Body=body, Metadata=metadata)["ETag"]
    return key, etag.strip('"')


def pipeline(s3: Any, predictor: SquarePredictor, **extra: Any) -> Pipeline:
    return Pipeline(settings(**extra), Storage(s3), predictor, now=lambda: PROCESSED)


def test_object_metadata_lands_in_result_json_and_the_index(
    s3: Any, astronaut: np.ndarray, square_predictor: SquarePredictor
) -> None:
    meta = ImageMetadata(camera_id="cam-07", captured_at=CAPTURED, labels={"site": "north gate"})
    key, etag = upload(s3, simplejpeg.encode_jpeg(astronaut), to_s3_metadata(meta))
    outcome = pipeline(s3, square_predictor).process(event_for(key, etag))

    stored = json.loads(read(s3, "results/acme/img-1/result.json"))
    assert stored["metadata"] == {
        "camera_id": "cam-07",
        "captured_at": "2026-11-22T07:30:05.250000Z",
        "labels": {"site": "north gate"},
    }
    # the entry sorts by the capture time, in its UTC hour, with camera and status in its name
    expected = (
        "results/acme/_index/2026/11/22/07/20261122T073005.250000Z_img-1_anonymized_cam-07.json"
    )
    assert index_keys(s3) == [expected] == [entry_key(outcome.record)]
    parsed = parse_entry_key(expected)
    assert parsed is not None
    assert (parsed.time, parsed.camera_id, parsed.status) == (CAPTURED, "cam-07", "anonymized")
    entry = json.loads(read(s3, expected))
    assert entry["record"] == "results/acme/img-1/result.json" and entry["source_etag"] == etag


def test_without_metadata_the_entry_sorts_by_processing_time(
    s3: Any, astronaut: np.ndarray, square_predictor: SquarePredictor
) -> None:
    key, etag = upload(s3, simplejpeg.encode_jpeg(astronaut), {})
    outcome = pipeline(s3, square_predictor).process(event_for(key, etag))
    assert outcome.record.metadata is None
    assert index_keys(s3) == [
        hour_prefix("acme", PROCESSED) + "20261122T090000.000000Z_img-1_anonymized_.json"
    ]


def test_redelivery_keeps_one_entry_and_repairs_a_missing_one(
    s3: Any, astronaut: np.ndarray, square_predictor: SquarePredictor
) -> None:
    key, etag = upload(s3, simplejpeg.encode_jpeg(astronaut), {"camera-id": "cam-1"})
    p = pipeline(s3, square_predictor)
    p.process(event_for(key, etag))
    before = index_keys(s3)
    assert p.process(event_for(key, etag)).duplicate
    assert index_keys(s3) == before and len(before) == 1
    # the transformer died between the record and the entry: the redelivery writes the entry
    s3.delete_object(Bucket="results", Key=before[0])
    assert p.process(event_for(key, etag)).duplicate
    assert index_keys(s3) == before and square_predictor.calls == 1


def test_reupload_replaces_the_entry(
    s3: Any, astronaut: np.ndarray, square_predictor: SquarePredictor
) -> None:
    first = ImageMetadata(camera_id="cam-1", captured_at=CAPTURED)
    key, etag = upload(s3, simplejpeg.encode_jpeg(astronaut), to_s3_metadata(first))
    p = pipeline(s3, square_predictor)
    p.process(event_for(key, etag))
    later = ImageMetadata(camera_id="cam-2", captured_at=PROCESSED)
    flipped = np.ascontiguousarray(astronaut[::-1])
    key, etag2 = upload(s3, simplejpeg.encode_jpeg(flipped), to_s3_metadata(later))
    outcome = p.process(event_for(key, etag2))
    assert not outcome.duplicate
    assert index_keys(s3) == [entry_key(outcome.record)]
    assert parse_entry_key(index_keys(s3)[0]).camera_id == "cam-2"  # type: ignore[union-attr]


def test_failed_images_are_indexed_with_their_camera(
    s3: Any, square_predictor: SquarePredictor
) -> None:
    key, etag = upload(s3, b"not an image", {"camera-id": "cam-3"})
    outcome = pipeline(s3, square_predictor).process(event_for(key, etag))
    assert outcome.failed and outcome.record.metadata == ImageMetadata(camera_id="cam-3")
    (only,) = index_keys(s3)
    parsed = parse_entry_key(only)
    assert parsed is not None and (parsed.status, parsed.camera_id) == ("failed", "cam-3")


def test_shadow_results_are_not_indexed(
    s3: Any, astronaut: np.ndarray, square_predictor: SquarePredictor
) -> None:
    key, etag = upload(s3, simplejpeg.encode_jpeg(astronaut), {"camera-id": "cam-1"})
    pipeline(s3, square_predictor, shadow=True).process(event_for(key, etag))
    assert index_keys(s3) == []


def test_metadata_outside_the_limits_is_dropped_field_by_field() -> None:
    """Someone wrote the object without the API: keep what is valid, never fail the image."""
    meta = from_s3_metadata(
        {"camera-id": "cam/../7", "captured-at": "2026-11-22T07:30:05+02:00", "label-ok": "yes"}
    )
    assert meta == ImageMetadata(
        captured_at=datetime(2026, 11, 22, 5, 30, 5, tzinfo=UTC), labels={"ok": "yes"}
    )
    assert from_s3_metadata({"other": "x"}) is None
    assert from_s3_metadata({"Camera-Id": "C7"}) == ImageMetadata(camera_id="C7")


@pytest.mark.parametrize(
    "key",
    [
        "results/acme/img-1/result.json",
        "results/acme/_index/2026/11/22/07/20261122T073005.250000Z_img-1_done_cam.json",
        "results/acme/_index/2026/11/22/07/20261122T073005Z_img-1_failed_.json",
        "results/ACME/_index/2026/11/22/07/20261122T073005.250000Z_img-1_failed_.json",
    ],
)
def test_other_keys_are_not_index_entries(key: str) -> None:
    assert parse_entry_key(key) is None


def test_record_round_trips_with_metadata() -> None:
    record_json = read_fixture_record()
    assert ResultRecord.model_validate_json(record_json).metadata is not None


def read_fixture_record() -> str:
    return json.dumps(
        {
            "status": "failed",
            "image_id": "i",
            "tenant": "t",
            "event_id": "e",
            "source": {"bucket": "b", "key": "k"},
            "model": {"name": "m"},
            "anonymization": {"mode": "blur", "threshold": 0.5, "dilation_px": 0},
            "transformer_version": "0",
            "processed_at": "2026-11-22T00:00:00Z",
            "metadata": {"camera_id": "c", "labels": {"a": "b"}},
        }
    )
