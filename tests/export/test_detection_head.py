"""The folded CenterNet decode head on hand-made heatmaps: peaks become exactly the boxes expected."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from export.detection_head import CenterNetHead, append_centernet_head
from export.errors import ExportError

INPUT = (64, 96)  # model input H×W in pixels
STRIDE = 4
CELLS = (INPUT[0] // STRIDE, INPUT[1] // STRIDE)  # 16×24


def passthrough(shapes: dict[str, list[int | str]], opset: int = 17) -> onnx.ModelProto:
    """A 'detector' whose outputs are its inputs, so the test writes the head tensors itself."""
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in shapes.items()]
    outputs = [
        helper.make_tensor_value_info(f"{n}_out", TensorProto.FLOAT, s) for n, s in shapes.items()
    ]
    nodes = [helper.make_node("Identity", [n], [f"{n}_out"]) for n in shapes]
    graph = helper.make_graph(nodes, "passthrough", inputs, outputs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def run(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> np.ndarray:
    onnx.checker.check_model(model, full_check=True)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (out,) = session.run(["detections"], feeds)
    return np.asarray(out)


def centerface_head(top_k: int = 10, min_score: float = 0.05) -> CenterNetHead:
    return CenterNetHead(
        heatmap="heat_out", size="size_out", offset="off_out", stride=STRIDE, center_shift=0.5,
        size_transform="exp", size_unit=4.0, size_order="hw", offset_order="yx",
        top_k=top_k, min_score=min_score,
    )  # fmt: skip


def nchw_model() -> onnx.ModelProto:
    h, w = CELLS
    return passthrough({"heat": ["N", 1, h, w], "size": ["N", 2, h, w], "off": ["N", 2, h, w]})


def empty_maps(batch: int = 1) -> dict[str, np.ndarray]:
    h, w = CELLS
    return {
        "heat": np.zeros((batch, 1, h, w), np.float32),
        "size": np.zeros((batch, 2, h, w), np.float32),
        "off": np.zeros((batch, 2, h, w), np.float32),
    }


def test_one_peak_becomes_the_exact_centerface_box() -> None:
    maps = empty_maps()
    r, c = 5, 10
    maps["heat"][0, 0, r, c] = 0.9
    maps["heat"][0, 0, r, c + 1] = 0.8  # a neighbour, not a peak: suppressed
    maps["size"][0, :, r, c] = np.log([16 / 4, 24 / 4])  # h = 16 px, w = 24 px
    maps["off"][0, :, r, c] = [0.25, -0.5]  # (dy, dx) in cells
    dets = run(append_centernet_head(nchw_model(), centerface_head(), INPUT), maps)
    assert dets.shape == (1, 10, 5)
    cy, cx = (r + 0.5 + 0.25) * STRIDE, (c + 0.5 - 0.5) * STRIDE  # 23, 40 px
    expected = [(cx - 12) / 96, (cy - 8) / 64, (cx + 12) / 96, (cy + 8) / 64, 0.9]
    np.testing.assert_allclose(dets[0, 0], expected, rtol=1e-6, atol=1e-6)
    assert not dets[0, 1:].any(), "padding rows must be all zeros"


def test_rows_are_sorted_by_score_and_clipped_to_the_input() -> None:
    maps = empty_maps(batch=2)
    for score, (r, c) in zip((0.3, 0.95, 0.6), ((2, 2), (8, 12), (14, 22))):
        maps["heat"][0, 0, r, c] = score
        maps["size"][0, :, r, c] = np.log(2.0)  # 8×8 px
    maps["size"][0, :, 0, 0] = np.log(40.0)  # huge box in the corner, scored below
    maps["heat"][0, 0, 0, 0] = 0.2
    maps["heat"][1, 0, 3, 3] = 0.7  # the second image has its own single detection
    dets = run(append_centernet_head(nchw_model(), centerface_head(top_k=6), INPUT), maps)
    np.testing.assert_allclose(dets[0, :4, 4], [0.95, 0.6, 0.3, 0.2], rtol=1e-6)
    assert not dets[0, 4:].any()
    corner = dets[0, 3, :4]  # 160 px box centred at (2, 2): clipped to the input
    np.testing.assert_allclose(corner, [0.0, 0.0, (2 + 80) / 96, 1.0], rtol=1e-6)
    assert (dets[..., :4] >= 0).all() and (dets[..., :4] <= 1).all()
    assert dets[1, 0, 4] == pytest.approx(0.7) and not dets[1, 1:].any()


def test_scores_under_min_score_are_zero_rows() -> None:
    maps = empty_maps()
    maps["heat"][0, 0, 4, 4] = 0.5
    maps["heat"][0, 0, 10, 10] = 0.04
    dets = run(append_centernet_head(nchw_model(), centerface_head(min_score=0.05), INPUT), maps)
    assert dets[0, 0, 4] == pytest.approx(0.5)
    assert not dets[0, 1:].any()


def test_centernet_nhwc_logits_class_channel_linear_sizes() -> None:
    """The person detector's parametrisation: NHWC, 3 classes (person = 1), logits, wh in cells."""
    h, w = CELLS
    model = passthrough({"heat": ["N", h, w, 3], "size": ["N", h, w, 2], "off": ["N", h, w, 2]})
    head = CenterNetHead(
        heatmap="heat_out", size="size_out", offset="off_out", stride=STRIDE, class_channel=1,
        sigmoid=True, size_transform="linear", size_unit=STRIDE, size_order="wh",
        offset_order="xy", center_shift=0.0, layout="NHWC", top_k=4,
    )  # fmt: skip
    heat = np.full((1, h, w, 3), -10.0, np.float32)
    heat[0, 6, 6, 0] = 5.0  # a strong peak of another class: ignored
    heat[0, 9, 3, 1] = 2.0  # the person
    size = np.zeros((1, h, w, 2), np.float32)
    size[0, 9, 3] = [5.0, 2.0]  # w = 5 cells = 20 px, h = 2 cells = 8 px
    off = np.zeros((1, h, w, 2), np.float32)
    off[0, 9, 3] = [0.5, 0.25]  # (dx, dy)
    dets = run(append_centernet_head(model, head, INPUT), {"heat": heat, "size": size, "off": off})
    cx, cy = (3 + 0.5) * STRIDE, (9 + 0.25) * STRIDE
    score = 1 / (1 + np.exp(-2.0))
    expected = [(cx - 10) / 96, (cy - 4) / 64, (cx + 10) / 96, (cy + 4) / 64, score]
    np.testing.assert_allclose(dets[0, 0], expected, rtol=1e-5, atol=1e-6)
    assert not dets[0, 1:].any()  # sigmoid(-10) = 4.5e-5 < min_score


def test_unused_heads_are_pruned_and_only_standard_ops_remain() -> None:
    h, w = CELLS
    model = passthrough(
        {
            "heat": ["N", 1, h, w],
            "size": ["N", 2, h, w],
            "off": ["N", 2, h, w],
            "lms": [1, 10, h, w],
        }
    )
    folded = append_centernet_head(model, centerface_head(), INPUT)
    assert [o.name for o in folded.graph.output] == ["detections"]
    assert "lms" not in {i.name for i in folded.graph.input}
    assert {n.domain for n in folded.graph.node} <= {""}
    onnx.checker.check_model(folded, full_check=True)


def test_mismatched_stride_or_top_k_is_refused() -> None:
    with pytest.raises(ExportError, match="expected 32×48"):
        append_centernet_head(nchw_model(), centerface_head(), (128, 192))
    with pytest.raises(ExportError, match="multiple of the stride"):
        append_centernet_head(nchw_model(), centerface_head(), (66, 96))
    with pytest.raises(ExportError, match="exceeds"):
        append_centernet_head(nchw_model(), centerface_head(top_k=1000), INPUT)
    with pytest.raises(ExportError, match="TensorRT's TopK limit"):
        CenterNetHead(heatmap="heat_out", size="size_out", top_k=3840)
    with pytest.raises(ExportError, match="no output named"):
        append_centernet_head(nchw_model(), CenterNetHead(heatmap="x", size="size_out"), INPUT)
