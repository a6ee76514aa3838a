"""S3 access for the pipeline: read the upload, write results, delete the original."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from transformer.errors import InvalidImage, ObjectNotFound, StorageUnavailable
from transformer.s3http import S3Error, S3Http, S3Unreachable, TooLarge, user_metadata

_NOT_FOUND = {"NoSuchKey", "404", "NotFound", "NoSuchBucket"}
# What S3 answers for a missing key when the caller may not list the bucket (Amazon S3 API
# Reference, GetObject, "Permissions"): no role may list the uploads bucket (terraform/modules/
# cluster/irsa.tf), so a missing upload reads as this.
_DENIED = {"AccessDenied", "403"}
_PRECONDITION_FAILED = {"PreconditionFailed", "412"}


@dataclass(frozen=True, slots=True)
class StoredObject:
    body: bytes
    etag: str | None
    content_type: str | None
    metadata: dict[str, str] = field(default_factory=dict)
    """The object's user metadata (`x-amz-meta-*`, keys without the prefix), as S3 returns it."""


class Storage:
    """A thin, typed layer over S3 (`transformer.s3http`: botocore's credentials and signer,
    one keep-alive pool; endpoint, region and credentials from the AWS environment).

    Pass an `S3Http` (or a boto3 S3 client, whose endpoint, region and credentials are used) to
    talk to a given server; by default one is built from the environment in the worker, after
    the fork, and reused for every call.
    """

    def __init__(self, client: S3Http | Any | None = None) -> None:
        if client is not None and not isinstance(client, S3Http):
            client = S3Http.like(client)
        self._client: S3Http | None = client

    @property
    def _s3(self) -> S3Http:
        if self._client is None:  # created in the worker, after the fork
            self._client = S3Http.from_env()
        return self._client

    def read(
        self, bucket: str, key: str, *, max_bytes: int, denied_is_missing: bool = False
    ) -> StoredObject:
        """The object's bytes; refuses objects over `max_bytes` before reading them.

        `denied_is_missing`: take a 403 as "not found" (final, not retried), for a bucket the
        caller may read but not list, where S3 answers 403 for a missing key."""
        where = f"s3://{bucket}/{key}"
        try:
            response = self._s3.get_object(bucket, key, max_bytes=max_bytes)
        except TooLarge as exc:
            if exc.length is not None:
                raise InvalidImage(
                    f"object is {exc.length} bytes, more than the {max_bytes} allowed"
                ) from exc
            raise InvalidImage(f"object is more than the {max_bytes} bytes allowed") from exc
        except S3Error as exc:
            if exc.code in _NOT_FOUND:
                raise ObjectNotFound(f"{where} does not exist ({exc.code})") from exc
            if denied_is_missing and exc.code in _DENIED:
                raise ObjectNotFound(
                    f"{where} does not exist or is not readable ({exc.code})"
                ) from exc
            raise StorageUnavailable(f"reading {where} failed: {exc.code}") from exc
        except S3Unreachable as exc:
            raise StorageUnavailable(f"reading {where} failed: {exc}") from exc
        headers = response.headers
        etag = headers.get("ETag")
        return StoredObject(
            response.body,
            etag.strip('"') if etag else None,
            headers.get("Content-Type"),
            user_metadata(headers),
        )

    def read_if_exists(self, bucket: str, key: str, *, max_bytes: int) -> bytes | None:
        try:
            return self.read(bucket, key, max_bytes=max_bytes).body
        except ObjectNotFound:
            return None

    def list_keys(self, bucket: str, prefix: str) -> frozenset[str]:
        """Every key under `prefix` (one call for the handful of objects of one result set)."""
        keys: set[str] = set()
        token: str | None = None
        try:
            while True:
                page = self._s3.list_objects_v2(bucket, prefix, token)
                keys.update(page.keys)
                if page.next_token is None:
                    return frozenset(keys)
                token = page.next_token
        except S3Error as exc:
            raise StorageUnavailable(f"listing s3://{bucket}/{prefix} failed: {exc.code}") from exc
        except (S3Unreachable, ET.ParseError) as exc:
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
        try:
            self._s3.put_object(bucket, key, body, content_type, if_none_match=if_absent)
        except S3Error as exc:
            if if_absent and exc.code in _PRECONDITION_FAILED:
                return False
            raise StorageUnavailable(f"writing s3://{bucket}/{key} failed: {exc.code}") from exc
        except S3Unreachable as exc:
            raise StorageUnavailable(f"writing s3://{bucket}/{key} failed: {exc}") from exc
        return True

    def delete(self, bucket: str, key: str) -> None:
        """Delete an object; deleting one that is already gone succeeds (idempotent)."""
        try:
            self._s3.delete_object(bucket, key)
        except S3Error as exc:
            raise StorageUnavailable(f"deleting s3://{bucket}/{key} failed: {exc.code}") from exc
        except S3Unreachable as exc:
            raise StorageUnavailable(f"deleting s3://{bucket}/{key} failed: {exc}") from exc

    def ping(self, bucket: str) -> bool:
        try:
            self._s3.head_bucket(bucket)
        except (S3Error, S3Unreachable):
            return False
        return True
