"""The results check: every image of a round came back anonymized, whoever transformed it.

For each upload, `results/<tenant>/<image-id>/` must hold `anonymized.jpg`, `mask.png` and a
`result.json` that parses; the mask must mark some pixels, and inside it the picture must have
changed far more than outside it (outside, only JPEG re-encoding moves pixels: a person
left untouched fails this even when a mask was written).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import cv2
import numpy as np
import simplejpeg
from botocore.exceptions import ClientError

# Mean absolute change (0..255, over the channels) inside the mask must be at least this, and
# at least CHANGE_RATIO times the change outside it. Pixelating people in 8–32 px cells moves
# them by tens of levels; re-encoding at quality 90 moves the rest by 1–3.
MIN_CHANGE = 4.0
CHANGE_RATIO = 2.0


@dataclass(frozen=True, slots=True)
class Check:
    image_id: str
    anonymized: bool
    reason: str | None = None


def masked_change(
    original: np.ndarray, anonymized: np.ndarray, mask: np.ndarray
) -> tuple[float, float]:
    """Mean absolute change inside and outside the mask (mask resized to the image if needed)."""
    height, width = original.shape[:2]
    inside_u8: np.ndarray = mask.astype(np.uint8)
    if inside_u8.shape != (height, width):
        inside_u8 = cv2.resize(inside_u8, (width, height), interpolation=cv2.INTER_NEAREST)
    diff = cv2.absdiff(original, anonymized)
    inside = float(np.mean(cv2.mean(diff, mask=inside_u8)[:3])) if inside_u8.any() else 0.0
    outside_u8 = (inside_u8 == 0).astype(np.uint8)
    outside = float(np.mean(cv2.mean(diff, mask=outside_u8)[:3])) if outside_u8.any() else 0.0
    return inside, outside


def judge(original: np.ndarray, anonymized: np.ndarray, mask: np.ndarray) -> str | None:
    """None when the people under the mask were anonymized; otherwise what is wrong."""
    if anonymized.shape != original.shape:
        return f"anonymized image is {anonymized.shape}, the upload {original.shape}"
    if not mask.any():
        return "the mask is empty"
    inside, outside = masked_change(original, anonymized, mask)
    if inside < MIN_CHANGE or inside < CHANGE_RATIO * outside:
        return f"pixels under the mask barely changed ({inside:.1f} inside, {outside:.1f} outside)"
    return None


def _get(s3: Any, bucket: str, key: str) -> tuple[bytes, datetime] | None:
    try:
        answer = s3.get_object(Bucket=bucket, Key=key)
    except ClientError:
        return None
    return bytes(answer["Body"].read()), answer["LastModified"]


def check_one(
    s3: Any,
    bucket: str,
    tenant: str,
    image_id: str,
    original: bytes,
    not_before: datetime | None = None,
) -> Check:
    """One image's results; `not_before`: the record must have been written since then (S3
    times have whole seconds), so a record left from an earlier round does not count."""
    prefix = f"results/{tenant}/{image_id}/"
    got = {
        name: _get(s3, bucket, prefix + name)
        for name in ("anonymized.jpg", "mask.png", "result.json")
    }
    missing = [name for name, answer in got.items() if answer is None]
    if missing:
        return Check(image_id, False, f"missing {', '.join(missing)}")
    found = {name: answer[0] for name, answer in got.items() if answer is not None}
    written = min(answer[1] for answer in got.values() if answer is not None)
    if not_before is not None and written < not_before.replace(microsecond=0):
        return Check(image_id, False, f"the results are from an earlier run ({written})")
    try:
        json.loads(found["result.json"])
    except ValueError:
        return Check(image_id, False, "result.json is not JSON")
    mask_png = np.frombuffer(found["mask.png"], np.uint8)
    mask = cv2.imdecode(mask_png, cv2.IMREAD_GRAYSCALE)
    if mask is None:
        return Check(image_id, False, "mask.png does not decode")
    try:
        anonymized = simplejpeg.decode_jpeg(found["anonymized.jpg"], colorspace="RGB")
    except ValueError as exc:
        return Check(image_id, False, f"anonymized.jpg does not decode: {exc}")
    reason = judge(simplejpeg.decode_jpeg(original, colorspace="RGB"), anonymized, mask > 127)
    return Check(image_id, reason is None, reason)


def check_all(
    s3: Any,
    bucket: str,
    tenant: str,
    originals: Sequence[tuple[str, bytes]],
    *,
    not_before: datetime | None = None,
    threads: int = 2,
) -> list[Check]:
    """Check every (image id, original JPEG); two threads (decoding releases the GIL)."""
    with ThreadPoolExecutor(threads) as pool:
        return list(
            pool.map(
                lambda item: check_one(s3, bucket, tenant, item[0], item[1], not_before),
                originals,
            )
        )


def clear(s3: Any, bucket: str, prefix: str = "results/") -> int:
    """Delete every object under prefix; how many there were."""
    deleted = 0
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            deleted += len(keys)
    return deleted
