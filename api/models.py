"""The API's request and response bodies (they are the OpenAPI document's schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

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

    @model_validator(mode="after")
    def _put_needs_size(self) -> UploadRequest:
        if self.method == "PUT" and self.size is None:
            raise ValueError("size is required for a PUT upload (it is signed into the URL)")
        return self


class UploadSlot(_Body):
    """Where and how to upload one image. The URL is a credential: do not log or share it."""

    image_id: str
    key: str
    url: str
    method: UploadMethod
    headers: dict[str, str] = Field(
        default_factory=dict, description="PUT: send exactly these headers."
    )
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="POST: send these form fields, then the file as the last field named `file`.",
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
