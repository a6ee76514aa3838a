"""One image through the pipeline: results written in order, failures fail closed, duplicates reuse."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pytest
import simplejpeg
from botocore.credentials import Credentials
from PIL import Image

from transformer.config import Settings
from transformer.errors import InvalidEvent, PredictorUnavailable, StorageUnavailable
from transformer.events import ObjectCreated
from transformer.keys import parse_incoming_key
from transformer.pipeline import Pipeline
from transformer.results import ResultRecord
from transformer.s3http import S3Error, S3Http, S3Unreachable
from transformer.storage import Storage

from .conftest import SquarePredictor, encode_with_pillow

RESULTS = "results/acme/img-1/"


def settings(**extra: Any) -> Settings:
    return Settings(
        model_name="person_segmenter", predictor_host="unused:1", results_bucket="results", **extra
    )


def event_for(key: str, etag: str | None) -> ObjectCreated:
    return ObjectCreated("ev-1", "uploads", key, etag, None, parse_incoming_key(key))


def listing(s3: Any, bucket: str = "results") -> list[str]:
    """The objects written, less the time index (tests/transformer/test_index.py covers it)."""
    keys = (o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))
    return sorted(k for k in keys if "/_index/" not in k)


def read(s3: Any, key: str, bucket: str = "results") -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def test_writes_anonymized_image_mask_and_record(
    s3: Any, put_upload: Any, astronaut: np.ndarray, square_predictor: SquarePredictor
) -> None:
    key, etag = put_upload(simplejpeg.encode_jpeg(astronaut, quality=95))
    outcome = Pipeline(settings(), Storage(s3), square_predictor).process(event_for(key, etag))
    assert not outcome.failed and not outcome.duplicate
    assert listing(s3) == [
        RESULTS + "anonymized.jpg",
        RESULTS + "mask.png",
        RESULTS + "result.json",
    ]

    record = ResultRecord.model_validate_json(read(s3, RESULTS + "result.json"))
    assert record == outcome.record
    assert (record.width, record.height, record.model.version) == (512, 512, "1")
    assert record.source.etag == etag and record.source.key == key
    assert 0.2 < record.person_fraction < 0.35  # the middle half of the frame, plus dilation
    assert len(record.person_regions) == 1
    assert set(record.timings_ms) >= {"fetch", "decode", "infer", "anonymize", "store", "total"}

    mask = np.asarray(Image.open(io.BytesIO(read(s3, RESULTS + "mask.png")))) > 0
    out = simplejpeg.decode_jpeg(read(s3, RESULTS + "anonymized.jpg"))
    original = simplejpeg.decode_jpeg(simplejpeg.encode_jpeg(astronaut, quality=95))
    assert mask[256, 256] and not mask[10, 10]
    assert np.abs(out[~mask].astype(int) - original[~mask]).mean() < 3  # re-encoding only
    assert np.abs(out[mask].astype(int) - original[mask]).mean() > 10


def test_png_stays_png_and_output_format_can_be_forced(
    s3: Any, put_upload: Any, astronaut: np.ndarray, square_predictor: SquarePredictor
) -> None:
    key, etag = put_upload(
        encode_with_pillow(astronaut, "PNG"), "incoming/acme/2026/11/22/img-1.png"
    )
    Pipeline(settings(), Storage(s3), square_predictor).process(event_for(key, etag))
    assert RESULTS + "anonymized.png" in listing(s3)
    Pipeline(settings(output_format="webp"), Storage(s3), square_predictor).process(
        event_for(key, "other-etag")
    )
    assert RESULTS + "anonymized.webp" in listing(s3)


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"\xff\xd8\xff\xe0" + b"\x00" * 64, "corrupt JPEG"),
        (b"I am not an image at all", "not a JPEG, PNG or WebP"),
    ],
)
def test_unusable_images_end_failed_with_no_image_written(
    s3: Any, put_upload: Any, square_predictor: SquarePredictor, body: bytes, reason: str
) -> None:
    key, etag = put_upload(body)
    outcome = Pipeline(settings(), Storage(s3), square_predictor).process(event_for(key, etag))
    assert outcome.failed and reason in outcome.record.error.reason
    assert listing(s3) == [RESULTS + "result.json"]  # fail closed: no image, no mask
    record = json.loads(read(s3, RESULTS + "result.json"))
    assert record["status"] == "failed" and record["outputs"] is None
    assert square_predictor.calls == 0


def test_too_large_objects_are_refused_without_reading(
    s3: Any, put_upload: Any, astronaut: np.ndarray, square_predictor: SquarePredictor
) -> None:
    key, etag = put_upload(simplejpeg.encode_jpeg(astronaut))
    outcome = Pipeline(settings(max_image_bytes=1000), Storage(s3), square_predictor).process(
        event_for(key, etag)
    )
    assert outcome.failed and "more than the 1000 allowed" in outcome.record.error.reason


def test_predictor_down_writes_nothing_and_is_retryable(
    s3: Any, put_upload: Any, astronaut: np.ndarray, square_predictor: SquarePredictor
) -> None:
    key, etag = put_upload(simplejpeg.encode_jpeg(astronaut))
    square_predictor.fail_with = PredictorUnavailable("connection refused")
    with pytest.raises(PredictorUnavailable):
        Pipeline(settings(), Storage(s3), square_predictor).process(event_for(key, etag))
    assert listing(s3) == []


def test_nan_scores_write_nothing(
    s3: Any, put_upload: Any, astronaut: np.ndarray, square_predictor: SquarePredictor
) -> None:
    key, etag = put_upload(simplejpeg.encode_jpeg(astronaut))
    original_infer = square_predictor.infer
    square_predictor.infer = lambda t, m: original_infer(t, m) * np.nan  # type: ignore[method-assign]
    with pytest.raises(PredictorUnavailable, match="non-finite"):
        Pipeline(settings(), Storage(s3), square_predictor).process(event_for(key, etag))
    assert listing(s3) == []


def test_duplicate_delivery_reuses_the_record(
    s3: Any, put_upload: Any, astronaut: np.ndarray, square_predictor: SquarePredictor
) -> None:
    key, etag = put_upload(simplejpeg.encode_jpeg(astronaut))
    pipeline = Pipeline(settings(), Storage(s3), square_predictor)
    first = pipeline.process(event_for(key, etag))
    objects = {k: read(s3, k) for k in listing(s3)}
    again = pipeline.process(event_for(key, etag))
    assert again.duplicate and again.record == first.record
    assert square_predictor.calls == 1
    assert {k: read(s3, k) for k in listing(s3)} == objects


def test_new_upload_under_the_same_key_is_processed_again(
    s3: Any, put_upload: Any, astronaut: np.ndarray, square_predictor: SquarePredictor
) -> None:
    key, etag = put_upload(simplejpeg.encode_jpeg(astronaut))
    pipeline = Pipeline(settings(), Storage(s3), square_predictor)
    pipeline.process(event_for(key, etag))
    key, etag2 = put_upload(simplejpeg.encode_jpeg(np.ascontiguousarray(astronaut[::-1])))
    assert etag2 != etag
    assert not pipeline.process(event_for(key, etag2)).duplicate
    assert square_predictor.calls == 2


def test_delete_original_after_results(
    s3: Any, put_upload: Any, astronaut: np.ndarray, square_predictor: SquarePredictor
) -> None:
    key, etag = put_upload(simplejpeg.encode_jpeg(astronaut))
    pipeline = Pipeline(settings(delete_original=True), Storage(s3), square_predictor)
    outcome = pipeline.process(event_for(key, etag))
    assert outcome.record.original_deleted
    assert listing(s3, "uploads") == []
    # a redelivery after the delete is answered from the record, not a 404
    assert pipeline.process(event_for(key, etag)).duplicate


def test_missing_object_ends_failed_not_retried(s3: Any, square_predictor: SquarePredictor) -> None:
    """Knative retries 404s; an upload whose object is gone is a final, recorded failure."""
    outcome = Pipeline(settings(), Storage(s3), square_predictor).process(
        event_for("incoming/acme/2026/11/22/img-9.jpg", None)
    )
    assert outcome.failed and outcome.record.error.type == "ObjectNotFound"
    assert listing(s3) == ["results/acme/img-9/result.json"]


def test_shadow_writes_only_under_the_shadow_prefix(
    s3: Any, put_upload: Any, astronaut: np.ndarray, make_predictor: Any
) -> None:
    key, etag = put_upload(simplejpeg.encode_jpeg(astronaut))
    candidate = make_predictor((0.1, 0.1, 0.9, 0.9), version="7")
    with pytest.raises(ValueError, match="never deletes"):
        settings(shadow=True, delete_original=True)
    outcome = Pipeline(settings(shadow=True), Storage(s3), candidate).process(event_for(key, etag))
    prefix = "shadow/person_segmenter/7/acme/img-1/"
    assert listing(s3) == [prefix + "anonymized.jpg", prefix + "mask.png", prefix + "result.json"]
    assert outcome.record.model.version == "7" and not outcome.record.original_deleted
    assert listing(s3, "uploads") == [key]


def test_storage_outage_is_retryable(square_predictor: SquarePredictor) -> None:
    dead = S3Http(
        endpoint="http://127.0.0.1:9",
        region="us-east-1",
        credentials=Credentials("x", "y"),
        max_attempts=1,
        connect_timeout_s=1,
    )
    with pytest.raises(StorageUnavailable):
        Pipeline(settings(), Storage(dead), square_predictor).process(
            event_for("incoming/acme/2026/11/22/img-1.jpg", None)
        )


def test_event_for_unknown_layout_never_reaches_the_pipeline() -> None:
    with pytest.raises(Exception) as info:
        parse_incoming_key("uploads/img.jpg")
    assert not isinstance(info.value, InvalidEvent)  # mapped to InvalidEvent by events.py


def test_failed_reupload_removes_the_previous_outputs(
    s3: Any, put_upload: Any, astronaut: np.ndarray, square_predictor: SquarePredictor
) -> None:
    """Issue 14 §2: a good image re-uploaded as a corrupt file left the old anonymized.jpg and
    mask.png beside a `failed` result.json."""
    key, etag = put_upload(simplejpeg.encode_jpeg(astronaut))
    pipeline = Pipeline(settings(), Storage(s3), square_predictor)
    assert not pipeline.process(event_for(key, etag)).failed
    key, etag2 = put_upload(b"\xff\xd8\xff" + b"not really a jpeg" * 10)
    outcome = pipeline.process(event_for(key, etag2))
    assert outcome.failed
    assert listing(s3) == [RESULTS + "result.json"]
    assert ResultRecord.model_validate_json(read(s3, RESULTS + "result.json")).status == "failed"


def test_same_id_under_another_extension_leaves_one_set(
    s3: Any, put_upload: Any, astronaut: np.ndarray, square_predictor: SquarePredictor
) -> None:
    """Issue 14 §2: anonymized.jpg and anonymized.png ended up side by side."""
    pipeline = Pipeline(settings(), Storage(s3), square_predictor)
    key, etag = put_upload(simplejpeg.encode_jpeg(astronaut))
    pipeline.process(event_for(key, etag))
    png_key, png_etag = put_upload(
        encode_with_pillow(astronaut, "PNG"), "incoming/acme/2026/11/23/img-1.png"
    )
    record = pipeline.process(event_for(png_key, png_etag)).record
    assert listing(s3) == [
        RESULTS + "anonymized.png",
        RESULTS + "mask.png",
        RESULTS + "result.json",
    ]
    assert record.outputs is not None and record.outputs.anonymized == RESULTS + "anonymized.png"


class _DeleteFailsOnce(S3Http):
    """The S3 transport, except that the first delete of an output finds S3 unreachable (a crash
    before the cleanup); the time index's own deletes pass (harmless to miss, and logged)."""

    failed = False

    def delete_object(self, bucket: str, key: str) -> None:
        if not self.failed and "/_index/" not in key:
            self.failed = True
            raise S3Unreachable("DELETE: connection refused")
        super().delete_object(bucket, key)


def test_cleanup_interrupted_after_the_record_finishes_on_redelivery(
    s3: Any, put_upload: Any, astronaut: np.ndarray, square_predictor: SquarePredictor
) -> None:
    key, etag = put_upload(simplejpeg.encode_jpeg(astronaut))
    Pipeline(settings(), Storage(s3), square_predictor).process(event_for(key, etag))
    png_key, png_etag = put_upload(
        encode_with_pillow(astronaut, "PNG"), "incoming/acme/2026/11/23/img-1.png"
    )
    flaky = _DeleteFailsOnce.like(s3)
    pipeline = Pipeline(settings(), Storage(flaky), square_predictor)
    with pytest.raises(StorageUnavailable):  # a 503: the broker redelivers
        pipeline.process(event_for(png_key, png_etag))
    # the new record is complete and points at objects that exist; the stale jpg is still there
    record = ResultRecord.model_validate_json(read(s3, RESULTS + "result.json"))
    assert record.outputs is not None and record.outputs.anonymized in listing(s3)
    again = pipeline.process(event_for(png_key, png_etag))
    assert again.duplicate
    assert listing(s3) == [
        RESULTS + "anonymized.png",
        RESULTS + "mask.png",
        RESULTS + "result.json",
    ]


class _CannotListUploads(S3Http):
    """The S3 transport as a role that may read but not list the uploads bucket sees it: a
    missing key answers 403 AccessDenied (Amazon S3 API Reference, GetObject, "Permissions")."""

    def get_object(self, bucket: str, key: str, **kw: Any) -> Any:
        if key.startswith("incoming/"):
            try:
                return super().get_object(bucket, key, **kw)
            except S3Error as exc:
                if exc.code == "NoSuchKey":
                    raise S3Error(403, "AccessDenied", "Access Denied") from exc
                raise
        return super().get_object(bucket, key, **kw)


def test_a_missing_upload_answering_403_is_final_and_recorded(
    s3: Any, put_upload: Any, square_predictor: SquarePredictor
) -> None:
    """Issue 12 #14c: no role may list the uploads bucket, so S3 answers 403 for a missing
    upload; it must still end as a `failed` record (not retried for ever), nothing else written."""
    pipeline = Pipeline(settings(), Storage(_CannotListUploads.like(s3)), square_predictor)
    outcome = pipeline.process(event_for("incoming/acme/2026/11/23/img-1.jpg", "0" * 32))
    assert outcome.failed
    assert listing(s3) == [RESULTS + "result.json"]
    record = ResultRecord.model_validate_json(read(s3, RESULTS + "result.json"))
    assert record.error is not None and "not readable (AccessDenied)" in record.error.reason
    assert square_predictor.calls == 0


def test_a_403_on_the_results_bucket_is_still_retryable(s3: Any) -> None:
    """Only the upload's read takes a 403 as "missing": elsewhere it is a fault to retry."""

    class _Denied(S3Http):
        def get_object(self, bucket: str, key: str, **kw: Any) -> Any:
            raise S3Error(403, "AccessDenied", "Access Denied")

    with pytest.raises(StorageUnavailable):
        Storage(_Denied.like(s3)).read("siteveil-results", "results/x", max_bytes=10)


class SegmenterAndFaces(SquarePredictor):
    """The Triton boundary with two models: the square segmenter and a face detector that
    'sees' one face (frame box `face`) in every tile that holds all of it."""

    def __init__(self, segmenter: SquarePredictor, face: tuple[int, int, int, int]) -> None:
        super().__init__(segmenter.model.contract, segmenter.box)
        from transformer.model_contract import contract_from_config
        from transformer.predictor import ServedModel

        from .test_compose import detector_config

        self.detector = ServedModel(
            "face_detector", "7", contract_from_config(detector_config("face_detector"))
        )
        self.face = face
        self.detector_fails: Exception | None = None
        self.plans: list[Any] = []

    def served_models(self) -> tuple[Any, ...]:
        return (self.served_model(), self.detector)

    def _faces_in_tiles(self, tiles: int) -> np.ndarray:
        """What a perfect detector answers for the 512² astronaut tiled as the pipeline tiles it."""
        from transformer.tiling import plan_tiles

        c = self.detector.contract
        plan = plan_tiles(512, 512, c.height, c.width, min_object_px=c.min_object_px, smallest_px=8)
        assert len(plan.tiles) == tiles
        out = np.zeros((tiles, 20, 5), np.float32)
        x0, y0, x1, y1 = self.face
        for i, t in enumerate(plan.tiles):
            if t.x <= x0 and t.y <= y0 and x1 <= t.x + t.width and y1 <= t.y + t.height:
                out[i, 0] = (
                    (x0 - t.x) * t.scale / c.width,
                    (y0 - t.y) * t.scale / c.height,
                    (x1 - t.x) * t.scale / c.width,
                    (y1 - t.y) * t.scale / c.height,
                    0.9,
                )
        return out

    def infer_many(self, requests: Any) -> list[np.ndarray]:
        outputs = []
        for model, batches in requests:
            tensor = np.concatenate(list(batches))
            if model is self.detector:
                if self.detector_fails is not None:
                    raise self.detector_fails
                assert tensor.shape[1:] == (3, 128, 128)  # NCHW tiles, as its config says
                outputs.append(self._faces_in_tiles(tensor.shape[0]))
            else:
                outputs.append(self.infer(tensor, model))
        return outputs


def test_a_face_the_segmenter_misses_is_anonymized_and_every_model_recorded(
    s3: Any, put_upload: Any, astronaut: np.ndarray, make_predictor: Any
) -> None:
    predictor = SegmenterAndFaces(make_predictor(None), (180, 70, 270, 170))  # her face
    key, etag = put_upload(simplejpeg.encode_jpeg(astronaut, quality=95))
    outcome = Pipeline(
        settings(models=("person_segmenter", "face_detector")), Storage(s3), predictor
    ).process(event_for(key, etag))
    record = outcome.record
    assert [(m.name, m.version, m.role) for m in record.models] == [
        ("person_segmenter", "1", "segmenter"),
        ("face_detector", "7", "face_detector"),
    ]
    assert record.models[1].tiles and record.models[1].smallest_px == 8
    assert [(d.role, d.x, d.y, d.width, d.height) for d in record.detections] == [
        ("face_detector", 180, 70, 90, 100)
    ]
    mask = np.asarray(Image.open(io.BytesIO(read(s3, RESULTS + "mask.png")))) > 0
    # the face grown by the default margin, half its longer side (50 px), on every side; no more
    rows, cols = np.nonzero(mask)
    assert (rows.min(), rows.max() + 1, cols.min(), cols.max() + 1) == (20, 220, 130, 320)
    assert mask.sum() == 200 * 190
    out = simplejpeg.decode_jpeg(read(s3, RESULTS + "anonymized.jpg"))
    face = astronaut[70:170, 180:270].astype(float)
    assert np.abs(out[70:170, 180:270] - face).mean() > 15


def test_any_model_failing_fails_the_image_and_writes_nothing(
    s3: Any, put_upload: Any, astronaut: np.ndarray, square_predictor: SquarePredictor
) -> None:
    predictor = SegmenterAndFaces(square_predictor, (0, 0, 1, 1))
    predictor.detector_fails = PredictorUnavailable("model 'face_detector' is not ready")
    key, etag = put_upload(simplejpeg.encode_jpeg(astronaut, quality=95))
    with pytest.raises(PredictorUnavailable, match="face_detector"):
        Pipeline(
            settings(models=("person_segmenter", "face_detector")), Storage(s3), predictor
        ).process(event_for(key, etag))
    assert listing(s3) == []


class _Recording(S3Http):
    """The S3 transport, noting each request: (GET|PUT|DELETE|HEAD|LIST, key or prefix,
    If-None-Match)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls: list[tuple[str, str, str | None]] = []

    def _call(self, method: str, bucket: str, key: str, **kw: Any) -> Any:
        query, headers = kw.get("query") or {}, kw.get("headers") or {}
        op = "LIST" if "list-type" in query else method
        self.calls.append((op, query.get("prefix", key), headers.get("If-None-Match")))
        return super()._call(method, bucket, key, **kw)


def test_a_new_image_reads_no_record_and_deletes_nothing(
    s3: Any, put_upload: Any, astronaut: np.ndarray, square_predictor: SquarePredictor
) -> None:
    """One listing of the result folder replaces the read of result.json and the blind deletes of
    other extensions (6 S3 calls per new image instead of 9); the record is written only if no
    other record appeared meanwhile (S3 conditional write, If-None-Match: *)."""
    key, etag = put_upload(simplejpeg.encode_jpeg(astronaut))
    recorder = _Recording.like(s3)
    outcome = Pipeline(settings(), Storage(recorder), square_predictor).process(
        event_for(key, etag)
    )
    calls = recorder.calls
    assert not outcome.failed
    assert [(op, k) for op, k, _ in calls][:2] == [("LIST", RESULTS), ("GET", key)]
    assert [op for op, _, _ in calls].count("GET") == 1  # the upload only
    assert "DELETE" not in [op for op, _, _ in calls]
    assert ("PUT", RESULTS + "result.json", "*") in calls
    assert len(calls) == 6


class _AnotherUploadLandsMeanwhile(S3Http):
    """The S3 transport, except that just before our first output is written, a concurrent
    delivery of another upload of the same image id (a PNG) writes its complete result set."""

    interloper: Any = None

    def put_object(self, bucket: str, key: str, body: bytes, content_type: str, **kw: Any) -> Any:
        if self.interloper is not None and key.endswith("/anonymized.jpg"):
            interloper, self.interloper = self.interloper, None
            interloper()
        return super().put_object(bucket, key, body, content_type, **kw)


def test_a_record_written_meanwhile_is_replaced_leaving_one_set_and_one_index_entry(
    s3: Any, put_upload: Any, astronaut: np.ndarray, square_predictor: SquarePredictor
) -> None:
    from transformer.index import entry_key, index_prefix

    png_key, png_etag = put_upload(
        encode_with_pillow(astronaut, "PNG"), "incoming/acme/2026/11/23/img-1.png"
    )
    key, etag = put_upload(simplejpeg.encode_jpeg(astronaut))
    other = Pipeline(settings(), Storage(s3), square_predictor)
    landed: list[ResultRecord] = []
    client = _AnotherUploadLandsMeanwhile.like(s3)
    client.interloper = lambda: landed.append(other.process(event_for(png_key, png_etag)).record)
    outcome = Pipeline(settings(), Storage(client), square_predictor).process(event_for(key, etag))
    assert landed and landed[0].source.key == png_key  # it did land before our record
    assert not outcome.duplicate and outcome.record.source.key == key
    assert listing(s3) == [
        RESULTS + "anonymized.jpg",
        RESULTS + "mask.png",
        RESULTS + "result.json",
    ]
    assert ResultRecord.model_validate_json(read(s3, RESULTS + "result.json")) == outcome.record
    index = s3.list_objects_v2(Bucket="results", Prefix=index_prefix("acme")).get("Contents", [])
    assert [o["Key"] for o in index] == [entry_key(outcome.record)]
