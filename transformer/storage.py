"""S3 access for the pipeline: read the upload, write results, delete the original."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from transformer.errors import InvalidImage, ObjectNotFound, StorageUnavailable

_NOT_FOUND = {"NoSuchKey", "404", "NotFound", "NoSuchBucket"}


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
            self._client = boto3.session.Session().client(
                "s3",
                config=Config(
                    retries={"max_attempts": 3, "mode": "standard"},
                    connect_timeout=5,
                    read_timeout=30,
                ),
            )
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

    def write(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        try:
            self._s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
        except ClientError as exc:
            raise StorageUnavailable(f"writing s3://{bucket}/{key} failed: {_code(exc)}") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"writing s3://{bucket}/{key} failed: {exc}") from exc

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
