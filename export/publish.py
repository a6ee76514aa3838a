"""Publish a model version to S3 in the layout KServe's storage initializer copies to /mnt/models.

``s3://<bucket>/<prefix>/<name>/config.pbtxt``, ``…/<name>/configs/*.pbtxt`` and
``…/<name>/<version>/<files>``: the InferenceService's ``storageUri`` points at
``s3://<bucket>/<prefix>/``, a Triton model repository. A version that already has any object is
refused, every object is written with ``If-None-Match: *`` (S3 refuses to overwrite it), and the
manifest goes last, so its presence means the version is complete.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from export.errors import ExportError, MissingFile, VersionExists
from export.versions import MANIFEST, verify_version

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str  # no leading or trailing slash; may be empty

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        if not uri.startswith("s3://"):
            raise ExportError(f"{uri!r} is not an s3:// URI")
        bucket, _, prefix = uri[len("s3://") :].partition("/")
        if not bucket:
            raise ExportError(f"{uri!r} has no bucket")
        return cls(bucket=bucket, prefix=prefix.strip("/"))

    def key(self, *parts: str) -> str:
        return "/".join(p.strip("/") for p in (self.prefix, *parts) if p)

    def uri(self, *parts: str) -> str:
        return f"s3://{self.bucket}/{self.key(*parts)}"


@dataclass(frozen=True)
class Published:
    uri: str  # s3://…/<name>/<version>/
    keys: tuple[str, ...]


def _client() -> Any:
    import boto3  # AWS_ENDPOINT_URL and credentials come from the standard environment

    return boto3.client("s3")


def _exists(client: Any, bucket: str, prefix: str) -> bool:
    response = client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
    return bool(response.get("KeyCount", 0))


def _put_new(client: Any, bucket: str, key: str, path: Path) -> None:
    from botocore.exceptions import ClientError

    try:
        with path.open("rb") as body:
            client.put_object(Bucket=bucket, Key=key, Body=body, IfNoneMatch="*")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412"):
            raise VersionExists(f"s3://{bucket}/{key} already exists; not overwriting") from exc
        raise


def publish_version(
    model_dir: Path, version: int, destination: str, client: Any | None = None
) -> Published:
    """Upload ``model_dir/<version>`` (verified against its manifest) and the model's configs."""
    version_dir = model_dir / str(version)
    if not version_dir.is_dir():
        raise MissingFile(f"{version_dir} does not exist")
    manifest = verify_version(version_dir)
    location = S3Location.parse(destination)
    client = client or _client()
    name = model_dir.name
    version_prefix = location.key(name, str(version)) + "/"
    if _exists(client, location.bucket, version_prefix):
        raise VersionExists(
            f"{location.uri(name, str(version))}/ already exists; "
            "versions are never overwritten — export a new version"
        )
    keys = []
    for rel in [*sorted(manifest["files"]), MANIFEST]:  # the manifest last
        key = location.key(name, str(version), rel)
        _put_new(client, location.bucket, key, version_dir / rel)
        keys.append(key)
    configs = [model_dir / "config.pbtxt", *sorted((model_dir / "configs").glob("*.pbtxt"))]
    for path in configs:
        if path.is_file():
            key = location.key(name, path.relative_to(model_dir).as_posix())
            client.put_object(Bucket=location.bucket, Key=key, Body=path.read_bytes())
            keys.append(key)
    log.info("published %s", location.uri(name, str(version)))
    return Published(uri=location.uri(name, str(version)) + "/", keys=tuple(keys))
