"""Numeric model versions in a Triton repository, each with a manifest; nothing is overwritten.

A version directory is assembled in a hidden staging directory and renamed into place, so Triton
(or a publish) never sees half a version; ``manifest.json`` lists the sha256 of every file, the
source model, the export options and the tool versions.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from export.errors import ExportError, MissingFile, VersionExists
from export.fetch import sha256_file

MANIFEST = "manifest.json"
TOOLS = (
    "onnx", "onnxruntime", "onnxslim", "torch", "tflite", "ai-edge-litert", "tensorrt",
    "tensorrt-cu12", "tensorrt-cu13", "polygraphy", "nvidia-modelopt", "tritonclient", "siteveil",
)  # fmt: skip


def tool_versions() -> dict[str, str]:
    """Versions of the build tools that are installed (absent ones are left out)."""
    versions = {"python": platform.python_version()}
    for dist in TOOLS:
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def existing_versions(model_dir: Path) -> list[int]:
    if not model_dir.is_dir():
        return []
    return sorted(int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit())


def next_version(model_dir: Path) -> int:
    versions = existing_versions(model_dir)
    return versions[-1] + 1 if versions else 1


@dataclass(frozen=True)
class VersionInfo:
    name: str
    version: int
    path: Path
    manifest: dict[str, Any]


def file_entries(version_dir: Path) -> dict[str, dict[str, Any]]:
    """``relative path -> {sha256, bytes}`` for every file but the manifest (and bytecode that
    Triton's Python stub may leave beside ``model.py``)."""
    entries = {}
    for path in sorted(p for p in version_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(version_dir).as_posix()
        if rel != MANIFEST and "__pycache__" not in path.parts:
            entries[rel] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    return entries


def write_manifest(
    version_dir: Path,
    *,
    name: str,
    version: int,
    source: Mapping[str, Any],
    options: Mapping[str, Any],
) -> dict[str, Any]:
    manifest = {
        "name": name,
        "version": version,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "files": file_entries(version_dir),
        "source": dict(source),
        "options": dict(options),
        "tools": tool_versions(),
    }
    (version_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def create_version(
    model_dir: Path,
    files: Mapping[str, Path | bytes],
    *,
    source: Mapping[str, Any],
    options: Mapping[str, Any],
    version: int | None = None,
) -> VersionInfo:
    """Add ``files`` as a new version (the next number unless given); never overwrite one."""
    for rel, item in files.items():
        if isinstance(item, Path) and not item.is_file():
            raise MissingFile(f"{rel}: {item} does not exist")
    model_dir.mkdir(parents=True, exist_ok=True)
    number = version if version is not None else next_version(model_dir)
    if number < 1:
        raise ExportError(f"version must be a positive integer, got {number}")
    target = model_dir / str(number)
    if target.exists():
        raise VersionExists(f"{target} already exists; versions are never overwritten")
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{number}-", dir=model_dir))
    try:
        for rel, item in files.items():
            dest = staging / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(item, Path):
                shutil.copyfile(item, dest)
            else:
                dest.write_bytes(item)
        manifest = write_manifest(
            staging, name=model_dir.name, version=number, source=source, options=options
        )
        os.chmod(staging, 0o755)
        if target.exists():  # lost a race with another export
            raise VersionExists(f"{target} already exists; versions are never overwritten")
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return VersionInfo(name=model_dir.name, version=number, path=target, manifest=manifest)


def read_manifest(version_dir: Path) -> dict[str, Any]:
    path = version_dir / MANIFEST
    if not path.is_file():
        raise MissingFile(f"{path} is missing: not a version made by `python -m export`")
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def verify_version(version_dir: Path) -> dict[str, Any]:
    """The manifest, once every listed file is present with its sha256 and nothing is extra."""
    manifest = read_manifest(version_dir)
    actual = file_entries(version_dir)
    listed = manifest.get("files", {})
    problems = [f"{rel}: missing" for rel in listed if rel not in actual]
    problems += [f"{rel}: not in the manifest" for rel in actual if rel not in listed]
    problems += [
        f"{rel}: sha256 differs"
        for rel, entry in listed.items()
        if rel in actual and actual[rel]["sha256"] != entry["sha256"]
    ]
    if problems:
        raise ExportError(f"{version_dir} does not match its manifest: " + "; ".join(problems))
    return manifest
