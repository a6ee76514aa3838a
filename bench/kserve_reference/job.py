"""What both variants share: the upload an event names, where its results go, the result record.

Plain functions on plain values; nothing here touches S3, Triton or pixels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kserve.errors import InvalidInput

# The upload layout (DESIGN.md §3): incoming/<tenant>/<yyyy>/<mm>/<dd>/<image-id>.<ext>
_INCOMING = re.compile(
    r"^incoming/(?P<tenant>[a-z0-9-]{1,64})/\d{4}/\d{2}/\d{2}/"
    r"(?P<image_id>[a-z0-9-]{1,64})\.(?:jpg|jpeg|png|webp)$",
    re.IGNORECASE,
)
JPEG_QUALITY = 90
MASK_THRESHOLD = 0.5
# The model's input (model_repository/person_segmenter/configs/cpu.pbtxt): 256×256 RGB, NHWC,
# FP32 pixels × 1/255 (mean 0, std 1), stretched; output person_probability 256×256×1 FP32.
INPUT_NAME = "image"
OUTPUT_NAME = "person_probability"
MODEL_SIZE = 256


@dataclass(frozen=True, slots=True)
class Upload:
    """One uploaded image to anonymize and where its three results go."""

    bucket: str
    key: str
    tenant: str
    image_id: str

    @property
    def prefix(self) -> str:
        return f"results/{self.tenant}/{self.image_id}/"

    @property
    def image_key(self) -> str:
        return self.prefix + "anonymized.jpg"

    @property
    def mask_key(self) -> str:
        return self.prefix + "mask.png"

    @property
    def record_key(self) -> str:
        return self.prefix + "result.json"


def upload_from_event(data: Any) -> Upload:
    """The upload named by the CloudEvent's data: an EventBridge `Object Created` event (what the
    relay delivers) or an S3 notification with `Records`. Anything else is a 400."""
    if not isinstance(data, dict):
        raise InvalidInput("the CloudEvent data is not a JSON object")
    if data.get("detail-type") == "Object Created" and data.get("source") == "aws.s3":
        detail = data.get("detail") or {}
        bucket = (detail.get("bucket") or {}).get("name")
        key = (detail.get("object") or {}).get("key")
    elif isinstance(data.get("Records"), list) and data["Records"]:
        s3 = data["Records"][0].get("s3") or {}
        bucket = (s3.get("bucket") or {}).get("name")
        key = (s3.get("object") or {}).get("key")
    else:
        raise InvalidInput("the CloudEvent data is not an S3 Object Created event")
    if not isinstance(bucket, str) or not isinstance(key, str):
        raise InvalidInput("the S3 event names no bucket and key")
    match = _INCOMING.match(key)
    if match is None:
        raise InvalidInput(
            f"key {key[:200]!r} is not incoming/<tenant>/<yyyy>/<mm>/<dd>/<id>.<ext>"
        )
    return Upload(bucket, key, match["tenant"], match["image_id"])


def outputs(upload: Upload) -> dict[str, dict[str, str]]:
    """The answer both variants give once the three objects are written."""
    return {
        "outputs": {
            "image": upload.image_key,
            "mask": upload.mask_key,
            "record": upload.record_key,
        }
    }


def record(
    upload: Upload,
    *,
    variant: str,
    width: int,
    height: int,
    persons: int | None,
    mask_fraction: float,
) -> dict[str, Any]:
    """result.json: what was anonymized, from where, into where (persons: None when not counted)."""
    return {
        "tenant": upload.tenant,
        "image_id": upload.image_id,
        "source": {"bucket": upload.bucket, "key": upload.key},
        "transformer": f"kserve-{variant}",
        "model": "person_segmenter",
        "mode": "pixelate",
        "width": width,
        "height": height,
        "persons": persons,
        "mask_fraction": round(mask_fraction, 6),
        "outputs": outputs(upload)["outputs"],
    }
