"""Customer metadata of one image (camera, capture time, labels): its limits and its S3 encoding.

The upload API validates it and signs it into the presigned upload as `x-amz-meta-*` headers, so
the object carries it and the customer cannot change it after the slot is issued; the transformer
reads it back from the object on GET and copies it into `result.json`. One module so that the API
and the transformer agree on the header names and the limits.

Values are printable ASCII: S3 user metadata travels as HTTP headers, and SigV4 signs their bytes
(AWS returns non-ASCII values RFC 2047-encoded, so we refuse them rather than round-trip them).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

log = logging.getLogger(__name__)

CAMERA_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9.:-]{0,63}$"
"""No `_` and no `/`: a camera id appears in index keys, where `_` separates fields."""
LABEL_KEY_PATTERN = r"^[a-z0-9][a-z0-9-]{0,31}$"
"""Lower case only: HTTP header names are case-insensitive and S3 lower-cases them."""
LABEL_VALUE_PATTERN = r"^[\x21-\x7e]([\x20-\x7e]{0,126}[\x21-\x7e])?$"
"""1–128 printable ASCII characters, no leading or trailing space (HTTP would strip it)."""
MAX_LABELS = 10

HEADER_CAMERA_ID = "camera-id"
HEADER_CAPTURED_AT = "captured-at"
HEADER_LABEL_PREFIX = "label-"
"""Keys of the object's user metadata (sent as `x-amz-meta-<key>`)."""

CameraId = Annotated[
    str,
    Field(
        pattern=CAMERA_ID_PATTERN,
        description="The customer's camera id: 1–64 of A–Z a–z 0–9 . : - (starting alphanumeric).",
        examples=["cam-07"],
    ),
]
LabelKey = Annotated[str, Field(pattern=LABEL_KEY_PATTERN)]
LabelValue = Annotated[str, Field(pattern=LABEL_VALUE_PATTERN)]
Labels = Annotated[
    dict[LabelKey, LabelValue],
    Field(
        max_length=MAX_LABELS,
        description=f"Up to {MAX_LABELS} customer labels: keys 1–32 of a–z 0–9 - (starting "
        "alphanumeric), values 1–128 printable ASCII characters.",
        examples=[{"site": "berlin-north", "zone": "gate-2"}],
    ),
]


class ImageMetadata(BaseModel):
    """What the customer said about the image when asking for its upload slot."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    camera_id: CameraId | None = None
    captured_at: AwareDatetime | None = Field(
        default=None, description="When the frame was taken (RFC 3339, with an offset)."
    )
    labels: Labels = Field(default_factory=dict)

    @field_validator("captured_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return value.astimezone(UTC) if value is not None else None

    @property
    def empty(self) -> bool:
        return self.camera_id is None and self.captured_at is None and not self.labels


def to_s3_metadata(meta: ImageMetadata) -> dict[str, str]:
    """The object's user metadata (boto3 `Metadata=`): signed into the presigned upload."""
    out: dict[str, str] = {}
    if meta.camera_id is not None:
        out[HEADER_CAMERA_ID] = meta.camera_id
    if meta.captured_at is not None:
        out[HEADER_CAPTURED_AT] = rfc3339(meta.captured_at)
    for key, value in sorted(meta.labels.items()):
        out[f"{HEADER_LABEL_PREFIX}{key}"] = value
    return out


def from_s3_metadata(raw: dict[str, str]) -> ImageMetadata | None:
    """The metadata an object carries, or None when it carries none.

    Unknown keys are ignored; a value outside the limits (someone wrote the object without the
    API) is dropped with a warning rather than failing the image: the pixels are what matter.
    """
    lowered = {k.lower(): v for k, v in raw.items()}
    fields: dict[str, object] = {}
    if HEADER_CAMERA_ID in lowered:
        fields["camera_id"] = lowered[HEADER_CAMERA_ID]
    if HEADER_CAPTURED_AT in lowered:
        fields["captured_at"] = lowered[HEADER_CAPTURED_AT]
    labels = {
        k.removeprefix(HEADER_LABEL_PREFIX): v
        for k, v in lowered.items()
        if k.startswith(HEADER_LABEL_PREFIX)
    }
    if labels:
        fields["labels"] = labels
    kept: dict[str, object] = {}
    for name, value in fields.items():
        try:
            ImageMetadata.model_validate({name: value})
        except ValidationError:
            log.warning("object metadata dropped", extra={"field": name})
            continue
        kept[name] = value
    if not kept:
        return None
    return ImageMetadata.model_validate(kept)


def rfc3339(moment: datetime) -> str:
    """`2026-12-01T02:03:04.123456Z`: UTC, microseconds only when there are any."""
    moment = moment.astimezone(UTC)
    spec = "seconds" if moment.microsecond == 0 else "microseconds"
    return moment.replace(tzinfo=None).isoformat(timespec=spec) + "Z"
