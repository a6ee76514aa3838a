"""The API's use cases: create upload slots and batches, report an image's or a batch's state."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from botocore.client import BaseClient

from api.auth import Principal
from api.config import Settings
from api.errors import InvalidRequest, NotFound
from api.ids import batch_item_id, new_id, parse_batch_item_id
from api.models import (
    CONTENT_TYPES,
    BatchCounts,
    BatchCreated,
    BatchRequest,
    BatchStatus,
    ImageError,
    ImageStatus,
    UploadRequest,
    UploadSlot,
)
from api.presign import presign_post, presign_put
from api.results import result_links
from api.storage import BatchManifest, ImageEntry, StateStore
from transformer.keys import incoming_key, is_valid_id, result_keys
from transformer.metadata import to_s3_metadata
from transformer.results import ANONYMIZED, ResultRecord

log = logging.getLogger(__name__)

MAX_CAPTURE_AHEAD = timedelta(days=1)
"""Camera clocks drift, but a frame from next week is a bug worth a 400."""


@dataclass(frozen=True, slots=True)
class UploadService:
    settings: Settings
    store: StateStore
    presigner: BaseClient

    # --- uploads ---
    def _slot(
        self,
        principal: Principal,
        request: UploadRequest,
        *,
        now: datetime,
        image_id: str,
        batch_id: str | None = None,
    ) -> tuple[UploadSlot, ImageEntry]:
        ext = CONTENT_TYPES[request.content_type]
        key = incoming_key(principal.tenant, now.date(), image_id, ext).key
        bucket = self.settings.uploads_bucket
        expires_s = self.settings.upload_expires_s
        metadata = to_s3_metadata(request.image_metadata())
        if request.method == "PUT":
            assert request.size is not None  # guaranteed by UploadRequest
            presigned = presign_put(
                self.presigner,
                bucket=bucket,
                key=key,
                content_type=request.content_type,
                size=request.size,
                expires_s=expires_s,
                metadata=metadata,
            )
        else:
            presigned = presign_post(
                self.presigner,
                bucket=bucket,
                key=key,
                content_type=request.content_type,
                max_bytes=self.settings.max_upload_bytes,
                expires_s=expires_s,
                metadata=metadata,
            )
        slot = UploadSlot(
            image_id=image_id,
            key=key,
            url=presigned.url,
            method=request.method,
            headers=presigned.headers,
            fields=presigned.fields,
            expires_at=now + timedelta(seconds=expires_s),
            max_bytes=self.settings.max_upload_bytes,
            filename=request.filename,
        )
        entry = ImageEntry(
            image_id=image_id,
            tenant=principal.tenant,
            bucket=bucket,
            key=key,
            ext=ext,
            content_type=request.content_type,
            created_at=now,
            batch_id=batch_id,
            filename=request.filename,
        )
        return slot, entry

    def _check_size(self, request: UploadRequest, now: datetime) -> None:
        if request.size is not None and request.size > self.settings.max_upload_bytes:
            raise InvalidRequest(
                f"size {request.size} is over the limit of {self.settings.max_upload_bytes} bytes"
            )
        if request.captured_at is not None and request.captured_at > now + MAX_CAPTURE_AHEAD:
            raise InvalidRequest("captured_at is more than a day in the future")

    def create_upload(
        self, principal: Principal, request: UploadRequest, now: datetime
    ) -> UploadSlot:
        self._check_size(request, now)
        slot, entry = self._slot(principal, request, now=now, image_id=new_id())
        self.store.put_image(entry)
        log.info("upload slot", extra={"tenant": principal.tenant, "image_id": slot.image_id})
        return slot

    def create_batch(
        self, principal: Principal, request: BatchRequest, now: datetime
    ) -> BatchCreated:
        for item in request.items:
            self._check_size(item, now)
        batch_id = new_id()
        pairs = [
            self._slot(
                principal, item, now=now, image_id=batch_item_id(batch_id, i), batch_id=batch_id
            )
            for i, item in enumerate(request.items)
        ]
        # One write: the manifest is also the index of the batch's images (see api/ids.py).
        self.store.put_batch(
            BatchManifest(
                batch_id=batch_id,
                tenant=principal.tenant,
                created_at=now,
                images=[entry for _, entry in pairs],
            )
        )
        log.info(
            "batch created",
            extra={"tenant": principal.tenant, "batch_id": batch_id, "items": len(pairs)},
        )
        return BatchCreated(
            batch_id=batch_id,
            created_at=now,
            expires_at=now + timedelta(seconds=self.settings.upload_expires_s),
            uploads=[slot for slot, _ in pairs],
        )

    # --- status ---
    def image_status(self, principal: Principal, image_id: str, now: datetime) -> ImageStatus:
        if not is_valid_id(image_id):
            raise NotFound("no such image")
        entry = self._find_image(principal.tenant, image_id)
        if entry is None:
            raise NotFound("no such image")
        record = self.store.get_result(self._record_key(entry))
        return self._status(entry, record, now)

    def batch_status(self, principal: Principal, batch_id: str, now: datetime) -> BatchStatus:
        if not is_valid_id(batch_id):
            raise NotFound("no such batch")
        manifest = self.store.get_batch(principal.tenant, batch_id)
        if manifest is None:
            raise NotFound("no such batch")
        entries = manifest.images
        records = self.store.get_results([self._record_key(e) for e in entries])
        images = [self._status(e, r, now) for e, r in zip(entries, records, strict=True)]
        counts = count(images)
        return BatchStatus(
            batch_id=manifest.batch_id,
            created_at=manifest.created_at,
            status="pending" if counts.pending else "complete",
            counts=counts,
            images=images,
        )

    def _find_image(self, tenant: str, image_id: str) -> ImageEntry | None:
        in_batch = parse_batch_item_id(image_id)
        if in_batch is None:
            return self.store.get_image(tenant, image_id)
        batch_id, index = in_batch
        manifest = self.store.get_batch(tenant, batch_id)
        if manifest is None or index >= len(manifest.images):
            return None
        entry = manifest.images[index]
        return entry if entry.image_id == image_id else None

    def _record_key(self, entry: ImageEntry) -> str:
        return result_keys(entry.tenant, entry.image_id, entry.ext).record

    def _status(self, entry: ImageEntry, record: ResultRecord | None, now: datetime) -> ImageStatus:
        pending = ImageStatus(
            image_id=entry.image_id,
            status="pending",
            batch_id=entry.batch_id,
            filename=entry.filename,
            created_at=entry.created_at,
        )
        if record is None or not _belongs_to(record, entry):
            return pending
        if record.status != ANONYMIZED or record.outputs is None:
            error = record.error
            return _failed(
                pending,
                record,
                ImageError(
                    type=error.type if error else "unknown",
                    reason=error.reason if error else "the image could not be anonymized",
                ),
            )
        links = self._result_links(entry, record)
        if links is None:
            reason = "the result lies outside its result prefix"
            return _failed(pending, record, ImageError(type="invalid_result", reason=reason))
        anonymized_url, mask_url = links
        return pending.model_copy(
            update={
                "status": "done",
                "processed_at": record.processed_at,
                "anonymized_url": anonymized_url,
                "mask_url": mask_url,
                "links_expire_at": now + timedelta(seconds=self.settings.download_expires_s),
                "width": record.width,
                "height": record.height,
                "person_fraction": record.person_fraction,
            }
        )

    def _result_links(self, entry: ImageEntry, record: ResultRecord) -> tuple[str, str] | None:
        """Links to the anonymized image and the mask only (see `api.results.result_links`)."""
        return result_links(self.presigner, self.settings, entry.tenant, entry.image_id, record)


def _failed(pending: ImageStatus, record: ResultRecord, error: ImageError) -> ImageStatus:
    return pending.model_copy(
        update={"status": "failed", "processed_at": record.processed_at, "error": error}
    )


def _belongs_to(record: ResultRecord, entry: ImageEntry) -> bool:
    return record.tenant == entry.tenant and record.image_id == entry.image_id


def count(images: Sequence[ImageStatus]) -> BatchCounts:
    statuses = [image.status for image in images]
    return BatchCounts(
        total=len(statuses),
        pending=statuses.count("pending"),
        done=statuses.count("done"),
        failed=statuses.count("failed"),
    )
