"""Fold the decoding of a CenterNet-style detector into its ONNX graph: ``detections`` [N, K, 5].

CenterNet ("Objects as Points", arXiv:1904.07850) and CenterFace predict, per output cell, a
class heatmap, an object size and a sub-cell offset of the object centre. Decoding them is the
same few steps everywhere: keep the cells that are the maximum of their 3×3 neighbourhood (the
paper's max-pool "NMS"), take the K best, read size and offset at those cells, assemble boxes.
This module appends exactly that to a graph, with standard ONNX ops only (MaxPool, Equal, Where,
Flatten, TopK, GatherElements, Floor, Exp, Clip, Concat, Transpose) so the same graph feeds
ONNX Runtime and TensorRT; integer index arithmetic is done in float (exact below 2**24 cells) to
avoid the int64 Div/Mod that TensorRT handles poorly.

The output follows the detector contract of the transformer: rows ``(x0, y0, x1, y1, score)``,
coordinates normalised to [0, 1] of the model input's width and height, sorted by score
descending, rows under ``min_score`` (and cells that are not peaks) all zeros. NMS across tiles is
the transformer's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from export.errors import ExportError

Layout = Literal["NCHW", "NHWC"]
# onnx/onnx-tensorrt docs/operators.md (TensorRT 10.0): "TopK ... `K` input must be less than 3840",
# `sorted` must be 1; Slice `axes` and Unsqueeze `axes` must be initializers (they are, here).
TENSORRT_MAX_TOP_K = 3840


@dataclass(frozen=True)
class CenterNetHead:
    """Where the head's tensors are and how to read them.

    A box centre is ``(cell + center_shift + offset) * stride`` input pixels; a box side is
    ``size_fn(raw) * size_unit`` input pixels, ``size_fn`` being ``exp`` (CenterFace: sizes are
    log(px / 4)) or the identity (CenterNet: sizes in output cells, ``size_unit = stride``).

    CenterFace (deface's decoding): ``stride=4, center_shift=0.5, size_transform="exp",
    size_unit=4, size_order="hw", offset_order="yx"``, heatmap already a sigmoid.
    CenterNet (Objects as Points): ``center_shift=0, size_transform="linear",
    size_unit=stride, size_order="wh", offset_order="xy"``, heatmap logits (``sigmoid=True``).
    """

    heatmap: str  # graph output: N×C×h×w (or N×h×w×C with layout NHWC) class heatmaps
    size: str  # N×2×h×w: the two box sides (order: size_order)
    offset: str | None = None  # N×2×h×w: sub-cell centre offset (order: offset_order)
    stride: int = 4  # input pixels per output cell
    class_channel: int = 0  # which heatmap channel is the wanted class (COCO person: 0)
    sigmoid: bool = False  # apply a sigmoid to the heatmap (when it holds logits)
    size_transform: Literal["exp", "linear"] = "exp"
    size_unit: float = 4.0
    size_order: Literal["hw", "wh"] = "hw"
    offset_order: Literal["yx", "xy"] = "yx"
    center_shift: float = 0.0
    layout: Layout = "NCHW"
    top_k: int = 100
    pool_kernel: int = 3  # peak = max of its pool_kernel² neighbourhood
    min_score: float = 0.05  # rows scoring less are zeroed in the graph
    max_log_size: float = 10.0  # exp inputs are clipped here (no inf in FP16 engines)

    def __post_init__(self) -> None:
        if self.stride < 1 or self.top_k < 1:
            raise ExportError("stride and top_k must be positive")
        if self.top_k >= TENSORRT_MAX_TOP_K:
            raise ExportError(f"top_k must be below {TENSORRT_MAX_TOP_K} (TensorRT's TopK limit)")
        if self.pool_kernel < 1 or self.pool_kernel % 2 == 0:
            raise ExportError("pool_kernel must be a positive odd number")
        if not 0.0 <= self.min_score < 1.0:
            raise ExportError("min_score must be in [0, 1)")
        if self.class_channel < 0:
            raise ExportError("class_channel must be >= 0")


class _Builder:
    """Appends uniquely named nodes and constants to a graph."""

    def __init__(self, graph: onnx.GraphProto, prefix: str) -> None:
        self.graph = graph
        self.prefix = prefix
        self.count = 0

    def name(self, hint: str) -> str:
        self.count += 1
        return f"{self.prefix}/{hint}_{self.count}"

    def const(self, value: np.ndarray | float | int | list[int], hint: str = "const") -> str:
        if isinstance(value, float):
            array = np.asarray(value, dtype=np.float32)
        elif isinstance(value, int):
            array = np.asarray(value, dtype=np.int64)
        else:
            array = np.asarray(value)
            if array.dtype == np.float64:
                array = array.astype(np.float32)
        name = self.name(hint)
        self.graph.initializer.append(numpy_helper.from_array(array, name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, **attrs: Any) -> str:
        out = self.name(hint or op_type.lower())
        self.graph.node.append(
            helper.make_node(op_type, inputs, [out], name=out + "_node", **attrs)
        )
        return out

    def op_n(self, op_type: str, inputs: list[str], n: int, **attrs: Any) -> list[str]:
        outs = [self.name(f"{op_type.lower()}{i}") for i in range(n)]
        self.graph.node.append(
            helper.make_node(op_type, inputs, outs, name=outs[0] + "_node", **attrs)
        )
        return outs


def _output_dims(model: onnx.ModelProto, name: str) -> list[int | str]:
    for value in model.graph.output:
        if value.name == name:
            return [d.dim_value or d.dim_param for d in value.type.tensor_type.shape.dim]
    raise ExportError(f"the graph has no output named {name!r}")


def append_centernet_head(
    model: onnx.ModelProto,
    head: CenterNetHead,
    input_size: tuple[int, int],
    *,
    output_name: str = "detections",
) -> onnx.ModelProto:
    """A copy of ``model`` whose only output is ``detections`` [N, top_k, 5].

    ``input_size`` is the model input's (height, width) in pixels: boxes are normalised by it, and
    the head outputs must be ``input_size / stride`` cells (checked against the declared shapes
    when they are static). Nodes no longer needed (other heads, e.g. landmarks) are removed.
    """
    height, width = input_size
    if height % head.stride or width % head.stride:
        raise ExportError(f"input {height}×{width} is not a multiple of the stride {head.stride}")
    rows, cols = height // head.stride, width // head.stride
    if head.top_k > rows * cols:
        raise ExportError(f"top_k {head.top_k} exceeds the {rows * cols} output cells")
    out = onnx.ModelProto()
    out.CopyFrom(model)
    for name in (head.heatmap, head.size, head.offset):
        if name is None:
            continue
        dims = _output_dims(out, name)
        spatial = dims[2:4] if head.layout == "NCHW" else dims[1:3]
        if all(isinstance(d, int) and d > 0 for d in spatial) and list(spatial) != [rows, cols]:
            raise ExportError(
                f"{name!r} is {spatial[0]}×{spatial[1]} cells, expected {rows}×{cols} "
                f"for a {height}×{width} input at stride {head.stride}"
            )
    b = _Builder(out.graph, "detection_head")

    def nchw(name: str) -> str:
        return name if head.layout == "NCHW" else b.op("Transpose", [name], perm=[0, 3, 1, 2])

    def channel(tensor: str, index: int) -> str:
        """N×1×(h·w) slice of an N×C×h×w tensor."""
        sliced = b.op(
            "Slice", [tensor, b.const([index]), b.const([index + 1]), b.const([1])], "channel"
        )
        return b.op("Reshape", [sliced, b.const([0, 1, -1])], "flat")

    heat = nchw(head.heatmap)
    heat = b.op(
        "Slice",
        [heat, b.const([head.class_channel]), b.const([head.class_channel + 1]), b.const([1])],
        "class",
    )
    if head.sigmoid:
        heat = b.op("Sigmoid", [heat])
    pad = head.pool_kernel // 2
    pooled = b.op(
        "MaxPool",
        [heat],
        kernel_shape=[head.pool_kernel] * 2,
        strides=[1, 1],
        pads=[pad] * 4,
    )
    peaks = b.op("Where", [b.op("Equal", [heat, pooled]), heat, b.const(0.0)], "peaks")  # N×1×h×w
    flat = b.op("Reshape", [peaks, b.const([0, -1])], "flat_heat")  # N×(h·w)
    scores, indices = b.op_n(
        "TopK", [flat, b.const([head.top_k])], 2, axis=-1, largest=1, sorted=1
    )  # N×K each
    index3 = b.op("Unsqueeze", [indices, b.const([1])], "index")  # N×1×K

    def gather(tensor: str, index: int) -> str:
        return b.op("GatherElements", [channel(tensor, index), index3], "at_peak", axis=2)

    cell = b.op("Cast", [index3], "cell", to=TensorProto.FLOAT)
    row = b.op("Floor", [b.op("Div", [cell, b.const(float(cols))])], "row")
    col = b.op("Sub", [cell, b.op("Mul", [row, b.const(float(cols))])], "col")
    size = nchw(head.size)
    first, second = gather(size, 0), gather(size, 1)
    box_h, box_w = (first, second) if head.size_order == "hw" else (second, first)

    def side(raw: str) -> str:
        if head.size_transform == "exp":
            raw = b.op("Exp", [b.op("Min", [raw, b.const(head.max_log_size)])])
        return b.op("Mul", [raw, b.const(float(head.size_unit))], "side")

    box_h, box_w = side(box_h), side(box_w)
    cy = b.op("Add", [row, b.const(float(head.center_shift))])
    cx = b.op("Add", [col, b.const(float(head.center_shift))])
    if head.offset is not None:
        offset = nchw(head.offset)
        first, second = gather(offset, 0), gather(offset, 1)
        off_y, off_x = (first, second) if head.offset_order == "yx" else (second, first)
        cy, cx = b.op("Add", [cy, off_y]), b.op("Add", [cx, off_x])
    cy = b.op("Mul", [cy, b.const(float(head.stride))], "cy")
    cx = b.op("Mul", [cx, b.const(float(head.stride))], "cx")
    half_h = b.op("Mul", [box_h, b.const(0.5)])
    half_w = b.op("Mul", [box_w, b.const(0.5)])
    inv_w, inv_h = b.const(1.0 / width), b.const(1.0 / height)
    zero, one = b.const(0.0), b.const(1.0)

    def edge(center: str, half: str, sign: str, inv: str) -> str:
        value = b.op("Mul", [b.op(sign, [center, half]), inv])
        return b.op("Clip", [value, zero, one], "edge")

    x0, x1 = edge(cx, half_w, "Sub", inv_w), edge(cx, half_w, "Add", inv_w)
    y0, y1 = edge(cy, half_h, "Sub", inv_h), edge(cy, half_h, "Add", inv_h)
    score = b.op("Unsqueeze", [scores, b.const([1])], "score")  # N×1×K
    rows5 = b.op("Concat", [x0, y0, x1, y1, score], "rows", axis=1)  # N×5×K
    keep = b.op("GreaterOrEqual", [score, b.const(float(head.min_score))], "keep")
    positive = b.op("Greater", [score, zero], "positive")  # non-peaks are 0 even at min_score 0
    keep = b.op("And", [keep, positive])
    kept = b.op("Where", [keep, rows5, zero], "kept")  # N×5×K (keep broadcasts over the 5)
    out.graph.node.append(
        helper.make_node("Transpose", [kept], [output_name], name=b.name("out"), perm=[0, 2, 1])
    )
    batch = _output_dims(out, head.heatmap)[0]
    del out.graph.output[:]
    out.graph.output.append(
        helper.make_tensor_value_info(
            output_name,
            TensorProto.FLOAT,
            [batch if isinstance(batch, str) and batch else "N", head.top_k, 5],
        )
    )
    prune(out)
    return out


def prune(model: onnx.ModelProto) -> None:
    """Remove the nodes, initializers and value infos that no graph output depends on."""
    graph = model.graph
    needed = {o.name for o in graph.output}
    kept: list[onnx.NodeProto] = []
    for node in reversed(graph.node):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed.update(i for i in node.input if i)
    kept.reverse()
    del graph.node[:]
    graph.node.extend(kept)
    inits = [i for i in graph.initializer if i.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(inits)
    infos = [v for v in graph.value_info if v.name in needed]
    del graph.value_info[:]
    graph.value_info.extend(infos)
    init_names = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name in needed and i.name not in init_names]
    del graph.input[:]
    graph.input.extend(inputs)
