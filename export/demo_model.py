"""Build the demo model ``person_segmenter``: pinned TFLite → ONNX → parity → model repository."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from export import samples
from export.fetch import SELFIE_SEGMENTATION, fetch
from export.parity import (
    DEFAULT_THRESHOLDS,
    OutputSpec,
    ParityReport,
    ParityThresholds,
    batched,
    compare,
    onnx_runner,
    tflite_runner,
)
from export.tflite_to_onnx import DEFAULT_OPSET, convert
from export.triton_config import PERSON_SEGMENTER, ModelSpec
from export.versions import write_manifest

PYTHON_MODEL = Path(__file__).with_name("triton_python_model.py")
DEMO_VERSION = "1"


@dataclass(frozen=True)
class DemoBuild:
    onnx_path: Path
    tflite_path: Path
    report: ParityReport


def convert_demo(
    tflite_path: Path, spec: ModelSpec = PERSON_SEGMENTER, opset: int = DEFAULT_OPSET
) -> onnx.ModelProto:
    return convert(
        tflite_path.read_bytes(),
        input_names=[t.name for t in spec.inputs],
        output_names=[t.name for t in spec.outputs],
        opset=opset,
        graph_name=spec.name,
    )


def parity_inputs(
    spec: ModelSpec = PERSON_SEGMENTER, random_count: int = 2
) -> dict[str, np.ndarray]:
    height, width = spec.inputs[0].dims[:2]
    inputs = {
        name: samples.to_tensor(samples.photo_rgb(name), (height, width)) for name in samples.PHOTOS
    }
    for i, x in enumerate(samples.random_inputs((1, height, width, 3), random_count)):
        inputs[f"random-{i}"] = x
    inputs["batch-of-3"] = batched(inputs, list(samples.PHOTOS))
    return inputs


def check_parity(
    tflite_path: Path,
    onnx_model: Path | bytes,
    thresholds: ParityThresholds = DEFAULT_THRESHOLDS,
    spec: ModelSpec = PERSON_SEGMENTER,
) -> ParityReport:
    """ONNX Runtime vs the original TFLite (ai-edge-litert) on photos and random inputs."""
    return compare(
        tflite_runner(tflite_path),
        onnx_runner(onnx_model),
        parity_inputs(spec),
        OutputSpec(kind=spec.contract.output_kind, person_classes=spec.contract.person_classes),
        thresholds,
    )


def build_demo(
    repository: Path,
    cache_dir: Path,
    thresholds: ParityThresholds = DEFAULT_THRESHOLDS,
    spec: ModelSpec = PERSON_SEGMENTER,
) -> DemoBuild:
    """Write ``<repository>/<name>/1/model.onnx`` (and ``model.py``) once parity passes."""
    tflite_path = fetch(SELFIE_SEGMENTATION, cache_dir)
    model = convert_demo(tflite_path, spec)
    data = model.SerializeToString()
    report = check_parity(tflite_path, data, thresholds, spec)
    report.raise_on_failure()
    version_dir = repository / spec.name / DEMO_VERSION
    version_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = version_dir / "model.onnx"
    tmp = onnx_path.with_suffix(".onnx.tmp")
    tmp.write_bytes(data)
    tmp.replace(onnx_path)
    model_py = version_dir / "model.py"
    if not model_py.exists() or model_py.read_bytes() != PYTHON_MODEL.read_bytes():
        shutil.copyfile(PYTHON_MODEL, model_py)
    write_manifest(
        version_dir,
        name=spec.name,
        version=int(DEMO_VERSION),
        source={
            "framework": "tflite",
            "requirement": SELFIE_SEGMENTATION.requirement,
            "wheel": SELFIE_SEGMENTATION.wheel_filename,
            "wheel_sha256": SELFIE_SEGMENTATION.wheel_sha256,
            "member": SELFIE_SEGMENTATION.member,
            "member_sha256": SELFIE_SEGMENTATION.member_sha256,
        },
        options={
            "converter": "export.tflite_to_onnx",
            "opset": DEFAULT_OPSET,
            "contract": spec.contract.parameters(),
            "parity": report.to_dict(),
        },
    )
    return DemoBuild(onnx_path=onnx_path, tflite_path=tflite_path, report=report)
