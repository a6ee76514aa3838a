"""The pipeline for one uploaded image: fetch → decode → preprocess → infer → mask → anonymize → store."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from transformer import __version__, codec, outputs
from transformer.anonymize import anonymize
from transformer.compose import CompositionOptions, ModelInput, compose, model_input
from transformer.config import Settings
from transformer.detections import Detection
from transformer.errors import InvalidImage, ObjectNotFound
from transformer.events import ObjectCreated
from transformer.index import ResultIndex, is_indexed
from transformer.index import entry_key as index_entry_key
from transformer.keys import ResultKeys, result_keys
from transformer.metadata import ImageMetadata, from_s3_metadata
from transformer.postprocess import MAX_REGIONS_LISTED, mask_fraction
from transformer.predictor import Predictor, ServedModel
from transformer.results import (
    ANONYMIZED,
    Detection as DetectionRecord,
    FAILED,
    Anonymization,
    Failure,
    ModelRef,
    OutputKeys,
    Region,
    ResultRecord,
    SourceObject,
)
from transformer.storage import Storage


@dataclass(frozen=True, slots=True)
class Outcome:
    record: ResultRecord
    duplicate: bool = False

    @property
    def failed(self) -> bool:
        return self.record.status == FAILED


class Pipeline:
    """Anonymizes one object at a time; S3, Triton and the clock are injected at the edges."""

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        predictor: Predictor,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._settings = settings
        self._storage = storage
        self._predictor = predictor
        self._now = now
        self._index = ResultIndex(storage)

    def process(self, obj: ObjectCreated) -> Outcome:
        s = self._settings
        timings: dict[str, float] = {}
        started = time.perf_counter()
        served = self._predictor.served_model() if s.shadow else None
        keys = self._keys(obj, "img", served.version if served else None)

        stored = outputs.stored_results(self._storage, self._results_bucket(obj), keys)
        previous = outputs.same_upload(stored.record, obj)
        if previous is not None:
            # a crash may have left them last time
            self._remove_stale_outputs(obj, keys, previous, stored)
            self._index_record(self._results_bucket(obj), keys, previous)  # idempotent repair
            self._delete_original_if_promised(obj, previous)
            return Outcome(previous, duplicate=True)

        metadata: ImageMetadata | None = None
        try:
            with _timed(timings, "fetch"):
                # the uploads bucket may not be listed: a missing upload answers 403
                upload = self._storage.read(
                    obj.bucket, obj.key, max_bytes=s.max_image_bytes, denied_is_missing=True
                )
                metadata = from_s3_metadata(upload.metadata)
            with _timed(timings, "decode"):
                image = codec.decode(upload.body, max_pixels=s.max_image_pixels)
        except (InvalidImage, ObjectNotFound) as exc:  # final for this upload: say so
            return Outcome(
                self._write_failure(obj, keys, stored, exc, timings, started, metadata=metadata)
            )

        models = self._predictor.served_models()
        served = next(m for m in models if m.name == s.model_name)
        height, width = image.rgb.shape[:2]
        with _timed(timings, "preprocess"):
            inputs = [self._model_input(image.rgb, m) for m in models]
        with _timed(timings, "infer"):
            answers = self._predictor.infer_many(
                [(m, i.batches()) for m, i in zip(models, inputs, strict=True)]
            )
        with _timed(timings, "postprocess"):
            found = compose(inputs, answers, height, width, self._composition_options())
            mask, regions = found.mask, found.regions
        with _timed(timings, "anonymize"):
            hidden = anonymize(
                image.rgb,
                mask,
                regions,
                s.anonymization_mode,
                fill_color=s.fill_color,
                faces=found.faces,
                in_place=True,  # the decoded frame is not used again
            )
        out_format = image.format if s.output_format == "same" else s.output_format
        with _timed(timings, "encode"):
            image_bytes = codec.encode(hidden, out_format, jpeg_quality=s.jpeg_quality)
            mask_bytes = codec.encode_mask(mask)

        keys = self._keys(obj, codec.EXTENSIONS[out_format], served.version if s.shadow else None)
        record = ResultRecord(
            status=ANONYMIZED,
            image_id=obj.incoming.image_id,
            tenant=obj.incoming.tenant,
            event_id=obj.event_id,
            source=SourceObject(
                bucket=obj.bucket, key=obj.key, etag=upload.etag or obj.etag, size=len(upload.body)
            ),
            outputs=OutputKeys(
                bucket=self._results_bucket(obj),
                anonymized=keys.anonymized,
                mask=keys.mask,
                record=keys.record,
            ),
            width=width,
            height=height,
            model=ModelRef(name=served.name, version=served.version, role=served.contract.role),
            models=[_model_ref(m, i) for m, i in zip(models, inputs, strict=True)],
            anonymization=self._anonymization(found.dilation_px),
            person_fraction=mask_fraction(mask),
            person_regions=[
                Region(x=b.x, y=b.y, width=b.width, height=b.height, pixels=b.pixels)
                for b in regions[:MAX_REGIONS_LISTED]
            ],
            detections=[_detection_record(d) for d in found.detections[:MAX_REGIONS_LISTED]],
            timings_ms={},
            transformer_version=__version__,
            processed_at=self._now(),
            original_deleted=s.delete_original and not s.shadow,
            metadata=metadata,
        )
        bucket = self._results_bucket(obj)
        with _timed(timings, "store"):
            self._storage.write(
                bucket, keys.anonymized, image_bytes, codec.CONTENT_TYPES[out_format]
            )
            self._storage.write(bucket, keys.mask, mask_bytes, "image/png")
        timings["total"] = (time.perf_counter() - started) * 1000
        record = record.model_copy(update={"timings_ms": _rounded(timings)})
        stored = self._write_record(bucket, keys, record, stored)  # last: means "complete"
        self._remove_stale_outputs(obj, keys, record, stored)
        self._delete_original_if_promised(obj, record)
        return Outcome(record)

    def _model_input(self, rgb: np.ndarray, model: ServedModel) -> ModelInput:
        s = self._settings
        smallest = s.min_face_px if model.contract.role == "face_detector" else s.min_person_px
        return model_input(rgb, model.contract, smallest, s.max_detector_tiles)

    def _composition_options(self) -> CompositionOptions:
        s = self._settings
        return CompositionOptions(
            threshold=s.mask_threshold,
            dilation_px=s.mask_dilation_px,
            person_box_margin=s.person_box_margin,
            face_box_margin=s.face_box_margin,
            confirm_segments=s.confirm_segments,
        )

    def _keys(self, obj: ObjectCreated, ext: str, shadow_version: str | None) -> ResultKeys:
        shadow = (
            (self._settings.model_name, shadow_version or "unknown")
            if self._settings.shadow
            else None
        )
        return result_keys(obj.incoming.tenant, obj.incoming.image_id, ext, shadow_model=shadow)

    def _results_bucket(self, obj: ObjectCreated) -> str:
        return self._settings.results_bucket or obj.bucket

    def _anonymization(self, dilation: int) -> Anonymization:
        s = self._settings
        return Anonymization(
            mode=s.anonymization_mode, threshold=s.mask_threshold, dilation_px=dilation
        )

    def _write_failure(
        self,
        obj: ObjectCreated,
        keys: ResultKeys,
        stored: outputs.StoredResults,
        error: InvalidImage | ObjectNotFound,
        timings: dict[str, float],
        started: float,
        *,
        metadata: ImageMetadata | None = None,
    ) -> ResultRecord:
        """A `failed` record and nothing else: no image or mask is written (fail closed)."""
        timings["total"] = (time.perf_counter() - started) * 1000
        s = self._settings
        record = ResultRecord(
            status=FAILED,
            image_id=obj.incoming.image_id,
            tenant=obj.incoming.tenant,
            event_id=obj.event_id,
            source=SourceObject(bucket=obj.bucket, key=obj.key, etag=obj.etag, size=obj.size),
            model=ModelRef(name=s.model_name, version=s.model_version or None),
            anonymization=self._anonymization(s.mask_dilation_px or 0),
            timings_ms=_rounded(timings),
            transformer_version=__version__,
            processed_at=self._now(),
            original_deleted=s.delete_original and not s.shadow,
            error=Failure(type=error.kind, reason=error.reason),
            metadata=metadata,
        )
        stored = self._write_record(self._results_bucket(obj), keys, record, stored)
        self._remove_stale_outputs(obj, keys, record, stored)
        self._delete_original_if_promised(obj, record)
        return record

    def _write_record(
        self, bucket: str, keys: ResultKeys, record: ResultRecord, stored: outputs.StoredResults
    ) -> outputs.StoredResults:
        """Write result.json, then its index entry, retiring the entry of the record it replaces.

        The folder was listed before processing. Where it held no record, the write is
        conditional (`If-None-Match: *`): a record that appeared meanwhile (a concurrent
        delivery of another upload of this id) makes it fail, and the folder is listed again,
        so that record's index entry and outputs are retired like any replaced record's. Returns
        the listing the stale outputs are removed from.
        """
        if not stored.has_record and not outputs.write_record(
            self._storage, bucket, keys, record, if_absent=True
        ):
            stored = outputs.stored_results(self._storage, bucket, keys)
        if stored.has_record:
            outputs.write_record(self._storage, bucket, keys, record)
        replaced = index_entry_key(stored.record) if stored.record is not None else None
        self._index_record(bucket, keys, record, replaced=replaced)
        return stored

    def _remove_stale_outputs(
        self,
        obj: ObjectCreated,
        keys: ResultKeys,
        record: ResultRecord,
        stored: outputs.StoredResults,
    ) -> None:
        outputs.remove_stale_outputs(
            self._storage, self._results_bucket(obj), keys, record, present=stored.keys
        )

    def _index_record(
        self, bucket: str, keys: ResultKeys, record: ResultRecord, *, replaced: str | None = None
    ) -> None:
        """The time-ordered index entry (transformer/index.py), after the record."""
        if is_indexed(keys):
            self._index.write(bucket, record, replaced=replaced)

    def _delete_original_if_promised(self, obj: ObjectCreated, record: ResultRecord) -> None:
        """GDPR: delete the upload once a complete record says so (idempotent on redelivery)."""
        if record.original_deleted and not self._settings.shadow:
            self._storage.delete(obj.bucket, obj.key)


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = (time.perf_counter() - start) * 1000


def _model_ref(model: ServedModel, sent: ModelInput) -> ModelRef:
    return ModelRef(
        name=model.name,
        version=model.version,
        role=model.contract.role,
        tiles=len(sent.plan.tiles) if sent.plan is not None else None,
        smallest_px=round(sent.smallest_px, 1) if sent.smallest_px is not None else None,
    )


def _detection_record(found: Detection) -> DetectionRecord:
    x, y = max(0, int(found.x0)), max(0, int(found.y0))
    return DetectionRecord(
        role=found.role,  # type: ignore[arg-type]
        x=x,
        y=y,
        width=max(1, round(found.x1) - x),
        height=max(1, round(found.y1) - y),
        score=round(min(1.0, max(0.0, found.score)), 4),
    )


def _rounded(timings: dict[str, float]) -> dict[str, float]:
    return {stage: round(ms, 3) for stage, ms in timings.items()}
