"""The API's request and response bodies (they are the OpenAPI document's schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from transformer.metadata import CameraId, ImageMetadata, Labels

MAX_BATCH_ITEMS = 1000
"""Pricing is per batch of 1 000 images: a batch holds 1 to 1 000 uploads."""

CONTENT_TYPES: dict[str, str] = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
"""The only content types an upload slot accepts, and the key extension each one gets."""

ContentType = Literal["image/jpeg", "image/png", "image/webp"]
ImageStatusName = Literal["pending", "done", "failed"]
UploadMethod = Literal["PUT", "POST"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UploadRequest(_Body):
    """One image the caller is about to upload.

    `PUT` (the default) signs `Content-Type` and `Content-Length` into the URL: S3 refuses any other
    type or size, so `size` is required. `POST` returns form fields with a signed policy
    (`content-length-range` 1..max, exact key, exact `Content-Type`).
    """

    content_type: ContentType
    size: (
        Annotated[int, Field(gt=0, description="Exact size in bytes (required for PUT).")] | None
    ) = None
    method: UploadMethod = "PUT"
    filename: Annotated[str, Field(min_length=1, max_length=255)] | None = Field(
        default=None,
        description="The caller's own label for the file; echoed back, never used as a key.",
    )
    camera_id: CameraId | None = Field(
        default=None,
        description="Which camera took the frame; copied into result.json and the time index.",
    )
    captured_at: AwareDatetime | None = Field(
        default=None,
        description="When the frame was taken, RFC 3339 with an offset (at most a day ahead of "
        "the server's clock); the time index sorts by it (by the processing time without it).",
    )
    labels: Labels = Field(default_factory=dict)

    @model_validator(mode="after")
    def _put_needs_size(self) -> UploadRequest:
        if self.method == "PUT" and self.size is None:
            raise ValueError("size is required for a PUT upload (it is signed into the URL)")
        return self

    def image_metadata(self) -> ImageMetadata:
        """Signed into the upload as `x-amz-meta-*`: the object carries it, unchangeable."""
        return ImageMetadata(
            camera_id=self.camera_id, captured_at=self.captured_at, labels=self.labels
        )


class UploadSlot(_Body):
    """Where and how to upload one image. The URL is a credential: do not log or share it."""

    image_id: str
    key: str
    url: str
    method: UploadMethod
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="PUT: send exactly these headers (with the metadata as signed "
        "`x-amz-meta-*` headers: S3 refuses the upload if any of them differs).",
    )
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="POST: send these form fields (the metadata as `x-amz-meta-*` fields, "
        "pinned by the signed policy), then the file as the last field named `file`.",
    )
    expires_at: datetime
    max_bytes: int
    filename: str | None = None


class BatchRequest(_Body):
    items: Annotated[list[UploadRequest], Field(min_length=1, max_length=MAX_BATCH_ITEMS)]


class BatchCreated(_Body):
    batch_id: str
    created_at: datetime
    expires_at: datetime
    uploads: list[UploadSlot]


class ImageError(_Body):
    type: str
    reason: str


class ImageStatus(_Body):
    """One image's state. Links point at the anonymized image and the mask only, never the original."""

    image_id: str
    status: ImageStatusName
    batch_id: str | None = None
    filename: str | None = None
    created_at: datetime
    processed_at: datetime | None = None
    error: ImageError | None = None
    anonymized_url: str | None = None
    mask_url: str | None = None
    links_expire_at: datetime | None = None
    width: int | None = None
    height: int | None = None
    person_fraction: float | None = None


class BatchCounts(_Body):
    total: int
    pending: int
    done: int
    failed: int


class BatchStatus(_Body):
    batch_id: str
    created_at: datetime
    status: Literal["pending", "complete"]
    counts: BatchCounts
    images: list[ImageStatus]


class ErrorBody(_Body):
    error: str
    reason: str


ResultStatusName = Literal["anonymized", "failed"]
ResultOrder = Literal["desc", "asc"]


class ModelUsed(_Body):
    name: str
    version: str | None = None
    role: str | None = None


class ResultItem(_Body):
    """One finished image from the time index, checked against its result.json.

    Links point at the anonymized image and the mask only, never the original.
    """

    image_id: str
    status: ResultStatusName
    time: datetime = Field(description="The index time: captured_at, else processed_at.")
    camera_id: str | None = None
    captured_at: datetime | None = None
    processed_at: datetime
    labels: dict[str, str] = Field(default_factory=dict)
    width: int | None = None
    height: int | None = None
    person_fraction: float | None = None
    model: ModelUsed
    models: list[ModelUsed] = Field(default_factory=list)
    error: ImageError | None = None
    anonymized_url: str | None = None
    mask_url: str | None = None
    links_expire_at: datetime | None = None


class ResultPage(_Body):
    items: list[ResultItem]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; absent on the last page."
    )


class ResultCounts(_Body):
    """How many results the time index holds in the range, per status (from the index keys)."""

    total: int
    anonymized: int
    failed: int
