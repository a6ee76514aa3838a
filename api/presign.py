"""Presigned S3 requests: what the S3 server itself enforces on a customer's upload or download.

PUT: `Content-Type` and `Content-Length` are signed headers (SigV4), so the server rejects any other
type or size, another key, an expired URL or a changed signature. POST: a signed policy with the
exact key, the exact `Content-Type` and a `content-length-range`; the server checks each condition.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from botocore.client import BaseClient


@dataclass(frozen=True, slots=True)
class PresignedUpload:
    url: str
    method: str
    headers: dict[str, str] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)


def presign_put(
    client: BaseClient, *, bucket: str, key: str, content_type: str, size: int, expires_s: int
) -> PresignedUpload:
    url = client.generate_presigned_url(
        "put_object",
        Params={"Bucket": bucket, "Key": key, "ContentType": content_type, "ContentLength": size},
        ExpiresIn=expires_s,
        HttpMethod="PUT",
    )
    headers = {"Content-Type": content_type, "Content-Length": str(size)}
    return PresignedUpload(url=url, method="PUT", headers=headers)


def presign_post(
    client: BaseClient,
    *,
    bucket: str,
    key: str,
    content_type: str,
    max_bytes: int,
    expires_s: int,
) -> PresignedUpload:
    post = client.generate_presigned_post(
        Bucket=bucket,
        Key=key,
        Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
        ExpiresIn=expires_s,
    )
    return PresignedUpload(url=post["url"], method="POST", fields=dict(post["fields"]))


def presign_get(client: BaseClient, *, bucket: str, key: str, expires_s: int) -> str:
    return str(
        client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_s
        )
    )
