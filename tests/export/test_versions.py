"""Model versions: new numeric directories with manifests, never overwritten."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from export.errors import ExportError, MissingFile, VersionExists
from export.fetch import sha256_file
from export.versions import MANIFEST, create_version, existing_versions, verify_version


def _files(tmp_path: Path, content: bytes) -> dict[str, Path | bytes]:
    onnx_file = tmp_path / f"m-{content.hex()}.onnx"
    onnx_file.write_bytes(content)
    return {"model.onnx": onnx_file, "model.py": b"# model\n"}


def test_each_export_becomes_the_next_version_with_a_manifest(tmp_path: Path) -> None:
    model_dir = tmp_path / "repo" / "seg"
    first = create_version(
        model_dir, _files(tmp_path, b"one"), source={"model": "a:b"}, options={"opset": 18}
    )
    second = create_version(
        model_dir, _files(tmp_path, b"two"), source={"model": "a:b"}, options={"opset": 18}
    )
    assert (first.version, second.version) == (1, 2)
    assert existing_versions(model_dir) == [1, 2]
    assert (model_dir / "1" / "model.onnx").read_bytes() == b"one"  # untouched by version 2
    manifest = json.loads((model_dir / "2" / MANIFEST).read_text())
    assert manifest["files"]["model.onnx"]["sha256"] == sha256_file(model_dir / "2" / "model.onnx")
    assert set(manifest["files"]) == {"model.onnx", "model.py"}
    assert manifest["source"] == {"model": "a:b"} and manifest["options"] == {"opset": 18}
    assert {"python", "onnx", "onnxruntime"} <= set(manifest["tools"])
    assert verify_version(model_dir / "2")["version"] == 2
    assert not [p for p in model_dir.iterdir() if p.name.startswith(".staging")]


def test_an_existing_version_is_never_overwritten(tmp_path: Path) -> None:
    model_dir = tmp_path / "seg"
    create_version(model_dir, _files(tmp_path, b"one"), source={}, options={})
    with pytest.raises(VersionExists, match="never overwritten"):
        create_version(model_dir, _files(tmp_path, b"evil"), source={}, options={}, version=1)
    assert (model_dir / "1" / "model.onnx").read_bytes() == b"one"


def test_missing_input_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MissingFile, match="absent.onnx"):
        create_version(
            tmp_path / "seg", {"model.onnx": tmp_path / "absent.onnx"}, source={}, options={}
        )
    assert not (tmp_path / "seg" / "1").exists()


def test_a_tampered_version_fails_verification(tmp_path: Path) -> None:
    info = create_version(tmp_path / "seg", _files(tmp_path, b"one"), source={}, options={})
    (info.path / "model.onnx").write_bytes(b"tampered")
    (info.path / "extra.bin").write_bytes(b"x")
    with pytest.raises(
        ExportError, match="extra.bin: not in the manifest; model.onnx: sha256 differs"
    ):
        verify_version(info.path)


def test_the_demo_version_has_a_verifiable_manifest() -> None:
    version_dir = Path(__file__).resolve().parents[2] / "model_repository/person_segmenter/1"
    manifest = verify_version(version_dir)  # built by `make model`
    assert manifest["source"]["member_sha256"] == sha256_file(
        Path(__file__).resolve().parents[2] / ".cache/export/selfie_segmentation.tflite"
    )
    assert manifest["options"]["parity"]["passed"] is True
