"""Presigned S3 requests: what the S3 server itself enforces on a customer's upload or download.

PUT: `Content-Type` and `Content-Length` are signed headers (SigV4), so the server rejects any other
type or size, another key, an expired URL, a changed signature or changed `x-amz-meta-*` metadata
(camera, capture time, labels: signed headers too). POST: a signed policy with the
exact key, the exact `Content-Type` and a `content-length-range`; the server checks each condition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from botocore.client import BaseClient


META_PREFIX = "x-amz-meta-"


@dataclass(frozen=True, slots=True)
class PresignedUpload:
    url: str
    method: str
    headers: dict[str, str] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)


def presign_put(
    client: BaseClient,
    *,
    bucket: str,
    key: str,
    content_type: str,
    size: int,
    expires_s: int,
    metadata: Mapping[str, str] | None = None,
) -> PresignedUpload:
    """`metadata` becomes `x-amz-meta-*` headers, which botocore lists in SignedHeaders: the server
    recomputes the signature over their values and refuses the PUT if one differs or is missing."""
    params: dict[str, object] = {
        "Bucket": bucket,
        "Key": key,
        "ContentType": content_type,
        "ContentLength": size,
    }
    if metadata:
        params["Metadata"] = dict(metadata)
    url = client.generate_presigned_url(
        "put_object", Params=params, ExpiresIn=expires_s, HttpMethod="PUT"
    )
    headers = {"Content-Type": content_type, "Content-Length": str(size)}
    headers.update({f"{META_PREFIX}{k}": v for k, v in (metadata or {}).items()})
    return PresignedUpload(url=url, method="PUT", headers=headers)


def presign_post(
    client: BaseClient,
    *,
    bucket: str,
    key: str,
    content_type: str,
    max_bytes: int,
    expires_s: int,
    metadata: Mapping[str, str] | None = None,
) -> PresignedUpload:
    """`metadata` becomes `x-amz-meta-*` form fields, each an exact-match policy condition."""
    meta_fields = {f"{META_PREFIX}{k}": v for k, v in (metadata or {}).items()}
    conditions: list[object] = [
        {"Content-Type": content_type},
        ["content-length-range", 1, max_bytes],
    ]
    conditions += [{name: value} for name, value in meta_fields.items()]
    post = client.generate_presigned_post(
        Bucket=bucket,
        Key=key,
        Fields={"Content-Type": content_type, **meta_fields},
        Conditions=conditions,
        ExpiresIn=expires_s,
    )
    return PresignedUpload(url=post["url"], method="POST", fields=dict(post["fields"]))


def presign_get(client: BaseClient, *, bucket: str, key: str, expires_s: int) -> str:
    return str(
        client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_s
        )
    )
