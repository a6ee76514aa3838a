"""S3 access for the pipeline: read the upload, write results, delete the original."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from transformer.errors import InvalidImage, ObjectNotFound, StorageUnavailable

_NOT_FOUND = {"NoSuchKey", "404", "NotFound", "NoSuchBucket"}
_PRECONDITION_FAILED = {"PreconditionFailed", "412"}

CLIENT_CONFIG = Config(
    retries={"max_attempts": 3, "mode": "standard"},
    connect_timeout=5,
    read_timeout=30,
    # No CRC32 over every upload we GET (validated only where an operation requires it; TLS
    # protects the bytes in transit). Request checksums stay at botocore's default: over HTTPS
    # the CRC32 lets SigV4 skip the SHA-256 of the whole body (UNSIGNED-PAYLOAD, botocore's
    # S3SigV4Auth._should_sha256_sign_payload), and locally (HTTP, the body is hashed anyway)
    # `when_required` measured no difference. (boto3 docs, "Data integrity protections for
    # Amazon S3": `request_checksum_calculation`, `response_checksum_validation`.)
    response_checksum_validation="when_required",
)
"""One client per worker process, reused for every call (its connection pool keeps sockets open
to S3; the pipeline makes one call at a time, so botocore's default pool of 10 is enough)."""


@dataclass(frozen=True, slots=True)
class StoredObject:
    body: bytes
    etag: str | None
    content_type: str | None
    metadata: dict[str, str] = field(default_factory=dict)
    """The object's user metadata (`x-amz-meta-*`, keys without the prefix), as S3 returns it."""


class Storage:
    """A thin, typed layer over one boto3 S3 client (endpoint and credentials from the AWS env)."""

    def __init__(self, client: Any | None = None) -> None:
        self._client = client

    @property
    def _s3(self) -> Any:
        if self._client is None:  # created in the worker, after the fork
            self._client = boto3.session.Session().client("s3", config=CLIENT_CONFIG)
        return self._client

    def read(self, bucket: str, key: str, *, max_bytes: int) -> StoredObject:
        """The object's bytes; refuses objects over `max_bytes` before reading them."""
        try:
            response = self._s3.get_object(Bucket=bucket, Key=key)
            length = int(response.get("ContentLength", 0))
            if length > max_bytes:
                response["Body"].close()
                raise InvalidImage(f"object is {length} bytes, more than the {max_bytes} allowed")
            body = response["Body"].read(max_bytes + 1)
        except ClientError as exc:
            raise _client_error(exc, f"s3://{bucket}/{key}") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"reading s3://{bucket}/{key} failed: {exc}") from exc
        if len(body) > max_bytes:
            raise InvalidImage(f"object is more than the {max_bytes} bytes allowed")
        etag = response.get("ETag")
        return StoredObject(
            body,
            etag.strip('"') if etag else None,
            response.get("ContentType"),
            dict(response.get("Metadata") or {}),
        )

    def read_if_exists(self, bucket: str, key: str, *, max_bytes: int) -> bytes | None:
        try:
            return self.read(bucket, key, max_bytes=max_bytes).body
        except ObjectNotFound:
            return None

    def list_keys(self, bucket: str, prefix: str) -> frozenset[str]:
        """Every key under `prefix` (one call for the handful of objects of one result set)."""
        keys: set[str] = set()
        kwargs: dict[str, str] = {"Bucket": bucket, "Prefix": prefix}
        try:
            while True:
                page = self._s3.list_objects_v2(**kwargs)
                keys.update(o["Key"] for o in page.get("Contents", []))
                if not page.get("IsTruncated"):
                    return frozenset(keys)
                kwargs["ContinuationToken"] = page["NextContinuationToken"]
        except ClientError as exc:
            raise StorageUnavailable(
                f"listing s3://{bucket}/{prefix} failed: {_code(exc)}"
            ) from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"listing s3://{bucket}/{prefix} failed: {exc}") from exc

    def write(
        self, bucket: str, key: str, body: bytes, content_type: str, *, if_absent: bool = False
    ) -> bool:
        """Write the object; with `if_absent`, only where no object has the key (False if one has).

        `if_absent` is S3's conditional write (`If-None-Match: *`, "Add preconditions to S3
        operations with conditional requests", Amazon S3 user guide, August 2024): S3 answers 412
        when the key exists. A 409 (a concurrent conditional write) is retryable like any other
        error.
        """
        extra = {"IfNoneMatch": "*"} if if_absent else {}
        try:
            self._s3.put_object(
                Bucket=bucket, Key=key, Body=body, ContentType=content_type, **extra
            )
        except ClientError as exc:
            if if_absent and _code(exc) in _PRECONDITION_FAILED:
                return False
            raise StorageUnavailable(f"writing s3://{bucket}/{key} failed: {_code(exc)}") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"writing s3://{bucket}/{key} failed: {exc}") from exc
        return True

    def delete(self, bucket: str, key: str) -> None:
        """Delete an object; deleting one that is already gone succeeds (idempotent)."""
        try:
            self._s3.delete_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            raise StorageUnavailable(f"deleting s3://{bucket}/{key} failed: {_code(exc)}") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"deleting s3://{bucket}/{key} failed: {exc}") from exc

    def ping(self, bucket: str) -> bool:
        try:
            self._s3.head_bucket(Bucket=bucket)
        except (ClientError, BotoCoreError):
            return False
        return True


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "error"))


def _client_error(exc: ClientError, where: str) -> Exception:
    code = _code(exc)
    if code in _NOT_FOUND:
        return ObjectNotFound(f"{where} does not exist ({code})")
    return StorageUnavailable(f"reading {where} failed: {code}")
