"""The API's state in S3: image index entries, batch manifests, result records, API-key records.

The API keeps no database: an image id is resolved to its upload key through a small index object
(single uploads) or its batch's manifest (batch items), written when the upload slot is created,
under the caller's tenant, so another tenant's id is simply absent (404).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, ValidationError

from api.config import Settings
from api.errors import StorageUnavailable
from transformer.results import ResultRecord

STATE_PREFIX = "api/"
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})

T = TypeVar("T", bound=BaseModel)


class _State(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class ImageEntry(_State):
    """Written when an upload slot is created: which key the image id stands for."""

    image_id: str
    tenant: str
    bucket: str
    key: str
    ext: str
    content_type: str
    created_at: datetime
    batch_id: str | None = None
    filename: str | None = None


class BatchManifest(_State):
    batch_id: str
    tenant: str
    created_at: datetime
    images: list[ImageEntry]


class ApiKeyRecord(_State):
    """An API key as stored: its SHA-256, never the key itself."""

    key_id: str
    tenant: str
    sha256: str
    name: str = ""
    created_at: datetime


def image_entry_key(tenant: str, image_id: str) -> str:
    return f"{STATE_PREFIX}images/{tenant}/{image_id}.json"


def batch_manifest_key(tenant: str, batch_id: str) -> str:
    return f"{STATE_PREFIX}batches/{tenant}/{batch_id}.json"


def api_key_record_key(key_id: str) -> str:
    return f"{STATE_PREFIX}keys/{key_id}.json"


def s3_client(
    settings: Settings, *, public: bool = False, session: boto3.Session | None = None
) -> BaseClient:
    """A SigV4 client; `public=True` gives the one whose endpoint goes into presigned URLs.

    Credentials come from `session`, else boto3's standard chain (env, IRSA web identity, ...).
    """
    endpoint = settings.s3_endpoint_url
    if public and settings.public_s3_endpoint_url:
        endpoint = settings.public_s3_endpoint_url
    s3_options: dict[str, Any] = {"addressing_style": "path"} if endpoint else {}
    config = Config(
        signature_version="s3v4",
        region_name=settings.region,
        s3=s3_options,
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5,
        read_timeout=20,
        max_pool_connections=max(10, settings.s3_concurrency),
    )
    return (session or boto3.Session()).client("s3", endpoint_url=endpoint, config=config)


class StateStore:
    """Reads and writes the API's JSON objects; every S3 failure becomes StorageUnavailable."""

    def __init__(self, client: BaseClient, settings: Settings) -> None:
        self._s3 = client
        self._state_bucket = settings.state_bucket_name
        self._results_bucket = settings.results_bucket_name
        self._uploads_bucket = settings.uploads_bucket
        self._concurrency = settings.s3_concurrency

    # --- generic ---
    def _put_json(self, key: str, record: BaseModel) -> None:
        try:
            self._s3.put_object(
                Bucket=self._state_bucket,
                Key=key,
                Body=record.model_dump_json().encode(),
                ContentType="application/json",
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailable(f"cannot write state object: {type(exc).__name__}") from exc

    def _get_bytes(self, bucket: str, key: str) -> bytes | None:
        try:
            response = self._s3.get_object(Bucket=bucket, Key=key)
            return bytes(response["Body"].read())
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING_CODES:
                return None
            raise StorageUnavailable(f"cannot read {bucket}: {type(exc).__name__}") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"cannot read {bucket}: {type(exc).__name__}") from exc

    def _get_model(self, bucket: str, key: str, model: type[T]) -> T | None:
        raw = self._get_bytes(bucket, key)
        if raw is None:
            return None
        try:
            return model.model_validate_json(raw)
        except ValidationError as exc:
            raise StorageUnavailable(f"unreadable {model.__name__} object") from exc

    def _parallel(self, fn: Callable[[str], T | None], items: Sequence[str]) -> list[T | None]:
        if len(items) <= 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self._concurrency, len(items))) as pool:
            return list(pool.map(fn, items))

    # --- images and batches ---
    def put_image(self, entry: ImageEntry) -> None:
        self._put_json(image_entry_key(entry.tenant, entry.image_id), entry)

    def get_image(self, tenant: str, image_id: str) -> ImageEntry | None:
        return self._get_model(self._state_bucket, image_entry_key(tenant, image_id), ImageEntry)

    def put_batch(self, manifest: BatchManifest) -> None:
        self._put_json(batch_manifest_key(manifest.tenant, manifest.batch_id), manifest)

    def get_batch(self, tenant: str, batch_id: str) -> BatchManifest | None:
        return self._get_model(
            self._state_bucket, batch_manifest_key(tenant, batch_id), BatchManifest
        )

    # --- results (written by the transformer) ---
    def get_result(self, record_key: str) -> ResultRecord | None:
        return self._get_model(self._results_bucket, record_key, ResultRecord)

    def get_results(self, record_keys: Iterable[str]) -> list[ResultRecord | None]:
        return self._parallel(self.get_result, list(record_keys))

    def list_result_keys(self, prefix: str) -> list[str]:
        """Every key under `prefix` in the results bucket, in S3's (lexicographic) order."""
        keys: list[str] = []
        try:
            paginator = self._s3.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self._results_bucket, Prefix=prefix):
                keys.extend(obj["Key"] for obj in page.get("Contents", []))
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailable(f"cannot list results: {type(exc).__name__}") from exc
        return keys

    # --- API keys ---
    def put_api_key(self, record: ApiKeyRecord) -> None:
        self._put_json(api_key_record_key(record.key_id), record)

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        return self._get_model(self._state_bucket, api_key_record_key(key_id), ApiKeyRecord)

    def ping(self) -> None:
        """Readiness: the uploads bucket answers."""
        try:
            self._s3.head_bucket(Bucket=self._uploads_bucket)
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailable(f"uploads bucket not reachable: {type(exc).__name__}") from exc
