"""S3 access: size limits before reading, missing objects, idempotent deletes, S3 being down."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config

from stack.processes import free_port
from transformer.errors import InvalidImage, ObjectNotFound, StorageUnavailable
from transformer.storage import Storage

KEY = "incoming/acme/2026/11/22/img-1.jpg"


def test_read_returns_the_bytes_etag_and_content_type(s3: Any) -> None:
    etag = s3.put_object(Bucket="uploads", Key=KEY, Body=b"abc", ContentType="image/jpeg")["ETag"]
    stored = Storage(s3).read("uploads", KEY, max_bytes=3)
    assert (stored.body, stored.etag, stored.content_type) == (
        b"abc",
        etag.strip('"'),
        "image/jpeg",
    )


def test_an_object_over_the_limit_is_an_invalid_image_not_read(s3: Any) -> None:
    s3.put_object(Bucket="uploads", Key=KEY, Body=b"x" * 1001)
    with pytest.raises(InvalidImage, match="1001 bytes, more than the 1000 allowed"):
        Storage(s3).read("uploads", KEY, max_bytes=1000)


@pytest.mark.parametrize(("bucket", "key"), [("uploads", "incoming/nope.jpg"), ("gone", KEY)])
def test_a_missing_object_or_bucket_is_object_not_found(s3: Any, bucket: str, key: str) -> None:
    with pytest.raises(ObjectNotFound, match="does not exist"):
        Storage(s3).read(bucket, key, max_bytes=10)


def test_read_if_exists_is_none_for_a_missing_object(s3: Any) -> None:
    assert Storage(s3).read_if_exists("uploads", "incoming/nope.jpg", max_bytes=10) is None


def test_write_then_delete_twice_is_idempotent(s3: Any) -> None:
    storage = Storage(s3)
    storage.write("results", "results/acme/img-1/mask.png", b"png", "image/png")
    head = s3.head_object(Bucket="results", Key="results/acme/img-1/mask.png")
    assert head["ContentType"] == "image/png" and head["ContentLength"] == 3
    storage.delete("results", "results/acme/img-1/mask.png")
    storage.delete("results", "results/acme/img-1/mask.png")
    assert s3.list_objects_v2(Bucket="results").get("KeyCount") == 0


def test_writing_to_a_missing_bucket_is_retryable(s3: Any) -> None:
    with pytest.raises(StorageUnavailable, match="NoSuchBucket"):
        Storage(s3).write("no-such-bucket", "results/x", b"1", "text/plain")


def test_s3_that_does_not_answer_is_storage_unavailable_never_not_found() -> None:
    """Nothing listens on the port: reads, writes and deletes say S3 is unavailable (a 503)."""
    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=1),
    )
    storage = Storage(client)
    with pytest.raises(StorageUnavailable, match="reading s3://uploads/"):
        storage.read("uploads", KEY, max_bytes=10)
    with pytest.raises(StorageUnavailable, match="writing"):
        storage.write("results", "k", b"1", "text/plain")
    with pytest.raises(StorageUnavailable, match="deleting"):
        storage.delete("uploads", KEY)
    assert storage.ping("uploads") is False


def test_a_conditional_write_never_overwrites_an_object(s3: Any) -> None:
    """S3's If-None-Match: * (conditional writes, Amazon S3 user guide, August 2024): 412 when
    the key exists; moto answers the same way."""
    storage = Storage(s3)
    assert storage.write("results", "a/result.json", b"first", "application/json", if_absent=True)
    assert not storage.write("results", "a/result.json", b"second", "text/plain", if_absent=True)
    assert storage.read("results", "a/result.json", max_bytes=100).body == b"first"
    storage.write("results", "a/result.json", b"third", "application/json")
    assert storage.read("results", "a/result.json", max_bytes=100).body == b"third"


def test_list_keys_names_every_object_under_the_prefix_only(s3: Any) -> None:
    storage = Storage(s3)
    for key in ("r/img-1/a", "r/img-1/b", "r/img-10/a"):
        storage.write("results", key, b"x", "text/plain")
    assert storage.list_keys("results", "r/img-1/") == {"r/img-1/a", "r/img-1/b"}
    assert storage.list_keys("results", "r/none/") == frozenset()
