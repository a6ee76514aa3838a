"""Live and shadow result records in S3, paired by tenant and image id, and compared.

Live results are `results/<tenant>/<image-id>/…`, a candidate's `shadow/<model>/<version>/<tenant>/
<image-id>/…` (transformer/keys.py). Only result.json and mask.png are read for the figures, and
the anonymized images for the thumbnails of the worst ones: never an original upload.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from botocore.exceptions import ClientError
from PIL import Image

from ops.errors import OpsError
from ops.metrics import (
    ImageComparison,
    compare_masks,
    latency_delta_ms,
    region_delta,
    status_of,
)
from transformer.keys import RESULTS_PREFIX, SHADOW_PREFIX, is_valid_id, result_keys

_RECORD_MAX_BYTES = 4 * 1024 * 1024
_RECORD_NAME = "result.json"


@dataclass(frozen=True, slots=True)
class Candidate:
    model: str
    version: str


@dataclass(frozen=True, slots=True)
class Pair:
    tenant: str
    image_id: str
    live: dict[str, Any]
    candidate: dict[str, Any] | None


class ResultStore:
    """Reads one results bucket (boto3; AWS_ENDPOINT_URL points it at moto locally)."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket

    def get(self, key: str, bucket: str | None = None) -> bytes | None:
        try:
            response = self.s3.get_object(Bucket=bucket or self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return None
            if exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
                raise OpsError(f"bucket {bucket or self.bucket!r} does not exist") from exc
            raise
        return bytes(response["Body"].read())

    def keys(self, prefix: str) -> Iterator[str]:
        paginator = self.s3.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield str(item["Key"])
        except ClientError as exc:
            raise OpsError(f"cannot list s3://{self.bucket}/{prefix}: {exc}") from exc

    def folders(self, prefix: str) -> list[str]:
        paginator = self.s3.get_paginator("list_objects_v2")
        names = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                names.append(str(common["Prefix"])[len(prefix) :].rstrip("/"))
        return names

    def record(self, key: str) -> dict[str, Any] | None:
        body = self.get(key)
        if body is None:
            return None
        if len(body) > _RECORD_MAX_BYTES:
            raise OpsError(f"s3://{self.bucket}/{key} is larger than {_RECORD_MAX_BYTES} bytes")
        try:
            record = json.loads(body)
        except ValueError as exc:
            raise OpsError(f"s3://{self.bucket}/{key} is not JSON: {exc}") from exc
        if not isinstance(record, dict):
            raise OpsError(f"s3://{self.bucket}/{key} is not a result record")
        return record

    def mask(self, record: dict[str, Any]) -> np.ndarray:
        """The record's mask.png as a boolean array (white = person)."""
        outputs = record.get("outputs") or {}
        body = self.get(str(outputs.get("mask")), bucket=outputs.get("bucket") or self.bucket)
        if body is None:
            raise OpsError(f"mask {outputs.get('mask')!r} of an anonymized record is missing")
        with Image.open(io.BytesIO(body)) as image:
            return np.asarray(image.convert("L")) > 127

    def anonymized(self, record: dict[str, Any] | None) -> bytes | None:
        if record is None or record.get("status") != "anonymized":
            return None
        outputs = record.get("outputs") or {}
        return self.get(str(outputs.get("anonymized")), bucket=outputs.get("bucket") or self.bucket)


def find_candidate(store: ResultStore, model: str | None, version: str | None) -> Candidate:
    """The candidate whose shadow results to read: as given, or the only one in the bucket."""
    if model and version:
        return Candidate(model, version)
    models = [model] if model else store.folders(SHADOW_PREFIX)
    found = [
        Candidate(m, v)
        for m in models
        for v in store.folders(f"{SHADOW_PREFIX}{m}/")
        if version is None or v == version
    ]
    if len(found) != 1:
        names = ", ".join(f"{c.model}/{c.version}" for c in found) or "none"
        raise OpsError(
            f"name the candidate with --model and --version: shadow results found in "
            f"s3://{store.bucket}/{SHADOW_PREFIX}: {names}"
        )
    return found[0]


def _processed_at(record: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(record["processed_at"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None


def pairs(
    store: ResultStore,
    candidate: Candidate,
    *,
    tenant: str | None,
    since: datetime,
    until: datetime,
) -> list[Pair]:
    """Every live record of the tenant (or all) processed in [since, until), with the
    candidate's record of the same image (None when the shadow has none)."""
    if tenant is not None and not is_valid_id(tenant):
        raise OpsError(f"tenant {tenant!r} is not a valid tenant id")
    prefix = f"{RESULTS_PREFIX}{tenant}/" if tenant else RESULTS_PREFIX
    found = []
    for key in store.keys(prefix):
        parts = key[len(RESULTS_PREFIX) :].split("/")
        if len(parts) != 3 or parts[2] != _RECORD_NAME:
            continue
        record = store.record(key)
        when = _processed_at(record) if record is not None else None
        if record is None or when is None or not since <= when < until:
            continue
        shadow_key = result_keys(
            parts[0], parts[1], "x", shadow_model=(candidate.model, candidate.version)
        ).record
        found.append(Pair(parts[0], parts[1], record, store.record(shadow_key)))
    return sorted(found, key=lambda p: (p.tenant, p.image_id))


def compare(store: ResultStore, pair: Pair) -> ImageComparison:
    """The figures of one image; masks are read only when both sides anonymized it."""
    live_status = status_of(pair.live)
    candidate_status = status_of(pair.candidate)
    if live_status != "anonymized" or candidate_status != "anonymized" or pair.candidate is None:
        reason = None
        if pair.candidate is None:
            reason = "no shadow result (the candidate failed to answer, or has not yet)"
        elif candidate_status == "failed":
            error = pair.candidate.get("error") or {}
            reason = f"{error.get('type', 'failed')}: {error.get('reason', '')}".strip(": ")
        return ImageComparison(
            pair.tenant, pair.image_id, live_status, candidate_status, reason=reason
        )
    masks = compare_masks(store.mask(pair.live), store.mask(pair.candidate))
    return ImageComparison(
        pair.tenant,
        pair.image_id,
        live_status,
        candidate_status,
        masks=masks,
        region_delta=region_delta(pair.live, pair.candidate),
        latency_delta_ms=latency_delta_ms(pair.live, pair.candidate),
    )
