"""Publish a model version to S3 as a self-contained Triton repository (one per version).

Version ``V`` of model ``N`` goes to ``s3://<bucket>/<prefix>/<N>/<V>/``, which holds
``<N>/config.pbtxt``, ``<N>/configs/*.pbtxt`` and ``<N>/<V>/<files>`` (manifest included): a
Triton model repository with exactly one version. That URI is the InferenceService's
``STORAGE_URI`` (KServe's storage initializer copies it to ``/mnt/models``), so production and a
shadow candidate never share a repository and ``version_policy`` cannot make one serve the
other's version. The chart builds the same URI from ``aws.modelStorageUri`` + ``model.name`` +
``model.version`` (:func:`storage_uri` is that contract; a chart test holds both to it).

A version that already has any object is refused, every object is written with
``If-None-Match: *`` (S3 refuses to overwrite it), and the manifest goes last, so its presence
means the repository is complete.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from export.errors import ExportError, MissingFile, VersionExists
from export.serving_image import check_version_plan
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


def storage_uri(base: str, name: str, version: int) -> str:
    """The repository root of one published version: ``<base>/<name>/<version>`` (no trailing
    slash), what the InferenceService's ``STORAGE_URI`` must be to serve it."""
    if not name or "/" in name:
        raise ExportError(f"model name {name!r} must be one path segment")
    if version < 1:
        raise ExportError(f"model version {version} must be a positive integer")
    return S3Location.parse(base).uri(name, str(version))


@dataclass(frozen=True)
class Published:
    uri: str  # the storage URI: s3://…/<name>/<version> (a Triton repository root)
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


def repository_files(model_dir: Path, version: int, manifest: dict[str, Any]) -> list[str]:
    """Paths relative to ``model_dir.parent`` of the one-version repository, in upload order:
    the version's files, the configs, and the version's manifest last."""
    name = model_dir.name
    files = [f"{name}/{version}/{rel}" for rel in sorted(manifest["files"])]
    configs = [model_dir / "config.pbtxt", *sorted((model_dir / "configs").glob("*.pbtxt"))]
    files += [f"{name}/{p.relative_to(model_dir).as_posix()}" for p in configs if p.is_file()]
    return [*files, f"{name}/{version}/{MANIFEST}"]


def publish_version(
    model_dir: Path, version: int, destination: str, client: Any | None = None
) -> Published:
    """Upload ``model_dir/<version>`` (verified against its manifest) and the model's configs as
    the repository ``storage_uri(destination, <name>, version)``."""
    version_dir = model_dir / str(version)
    if not version_dir.is_dir():
        raise MissingFile(f"{version_dir} does not exist")
    if not (model_dir / "config.pbtxt").is_file():
        raise MissingFile(f"{model_dir / 'config.pbtxt'} does not exist (run `configs` first)")
    manifest = verify_version(version_dir)
    check_version_plan(version_dir, manifest["files"])  # a plan the chart's Triton cannot load
    name = model_dir.name
    root = S3Location.parse(storage_uri(destination, name, version))
    client = client or _client()
    if _exists(client, root.bucket, root.prefix + "/"):
        raise VersionExists(
            f"{root.uri()}/ already exists; versions are never overwritten — export a new version"
        )
    keys = []
    for rel in repository_files(model_dir, version, manifest):
        key = root.key(rel)
        _put_new(client, root.bucket, key, model_dir.parent / rel)
        keys.append(key)
    log.info("published %s", root.uri())
    return Published(uri=root.uri(), keys=tuple(keys))
