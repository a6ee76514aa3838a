"""TFLite → ONNX for small float CNNs such as MediaPipe selfie segmentation.

No off-the-shelf converter handles MediaPipe's custom ``Convolution2DTransposeBias`` op without
TensorFlow, so this is a small converter of our own over the ``tflite`` flatbuffer reader. It
emits standard ONNX ops only (Conv, ConvTranspose, HardSwish, Resize, …): activations run in NCHW
between one Transpose after the NHWC input and one before each NHWC output, fp16 weights behind
DEQUANTIZE are folded into fp32 initializers, and the batch axis is dynamic. Anything it does not
know raises :class:`UnsupportedOperator` naming the op.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
import tflite
from onnx import TensorProto, helper, numpy_helper

from export.errors import ExportError, UnsupportedOperator

DEFAULT_OPSET = 17
BATCH_DIM = "batch"

_OPCODE_NAMES: dict[int, str] = {
    v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")
}
_TENSOR_DTYPES: dict[int, np.dtype[Any]] = {
    tflite.TensorType.FLOAT32: np.dtype(np.float32),
    tflite.TensorType.FLOAT16: np.dtype(np.float16),
    tflite.TensorType.INT32: np.dtype(np.int32),
    tflite.TensorType.INT64: np.dtype(np.int64),
    tflite.TensorType.UINT8: np.dtype(np.uint8),
    tflite.TensorType.INT8: np.dtype(np.int8),
}
_OPTION_CLASSES: dict[str, type] = {
    "CONV_2D": tflite.Conv2DOptions,
    "DEPTHWISE_CONV_2D": tflite.DepthwiseConv2DOptions,
    "AVERAGE_POOL_2D": tflite.Pool2DOptions,
    "MAX_POOL_2D": tflite.Pool2DOptions,
    "ADD": tflite.AddOptions,
    "MUL": tflite.MulOptions,
    "RESIZE_BILINEAR": tflite.ResizeBilinearOptions,
}
# TfLitePadding as written in custom-op options (kTfLitePaddingSame = 1, kTfLitePaddingValid = 2).
_CUSTOM_PADDING = {1: "SAME", 2: "VALID"}
_NHWC_TO_NCHW = (0, 3, 1, 2)
_NCHW_TO_NHWC = (0, 2, 3, 1)


# ---------------------------------------------------------------------------------------------
# Reading the flatbuffer into plain values


@dataclass(frozen=True)
class TfliteTensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    data: np.ndarray | None  # constant buffer, None for activations


@dataclass(frozen=True)
class TfliteOp:
    kind: str  # builtin name, or "CUSTOM:<code>"
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: Any
    custom_options: bytes


@dataclass(frozen=True)
class TfliteGraph:
    tensors: tuple[TfliteTensor, ...]
    ops: tuple[TfliteOp, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


def read_tflite(buf: bytes) -> TfliteGraph:
    """Parse the first subgraph of a TFLite flatbuffer."""
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise ExportError("not a TFLite flatbuffer (missing the TFL3 identifier)")
    model = tflite.Model.GetRootAsModel(buf, 0)
    if model.SubgraphsLength() != 1:
        raise UnsupportedOperator("subgraphs", f"{model.SubgraphsLength()} subgraphs, expected 1")
    sg = model.Subgraphs(0)
    tensors = tuple(_read_tensor(model, sg, i) for i in range(sg.TensorsLength()))
    ops = tuple(_read_op(model, sg.Operators(i)) for i in range(sg.OperatorsLength()))
    return TfliteGraph(
        tensors=tensors,
        ops=ops,
        inputs=tuple(int(i) for i in sg.InputsAsNumpy()),
        outputs=tuple(int(i) for i in sg.OutputsAsNumpy()),
    )


def _read_tensor(model: Any, sg: Any, index: int) -> TfliteTensor:
    t = sg.Tensors(index)
    name = t.Name().decode()
    if t.Type() not in _TENSOR_DTYPES:
        raise UnsupportedOperator("tensor type", f"tensor {name!r} has TFLite type {t.Type()}")
    if t.Quantization() is not None and t.Quantization().ScaleLength() > 0:
        raise UnsupportedOperator("quantized tensor", f"{name!r} (only float models are supported)")
    dtype = _TENSOR_DTYPES[t.Type()]
    shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
    buffer = model.Buffers(t.Buffer())
    data = None
    if buffer is not None and buffer.DataLength() > 0:
        data = np.frombuffer(buffer.DataAsNumpy().tobytes(), dtype=dtype).reshape(shape).copy()
    return TfliteTensor(index=index, name=name, shape=shape, dtype=dtype, data=data)


def _read_op(model: Any, op: Any) -> TfliteOp:
    code = model.OperatorCodes(op.OpcodeIndex())
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    kind = _OPCODE_NAMES.get(builtin, f"BUILTIN_{builtin}")
    if kind == "CUSTOM":
        kind = "CUSTOM:" + code.CustomCode().decode()
    options = None
    if kind in _OPTION_CLASSES and op.BuiltinOptions() is not None:
        table = op.BuiltinOptions()
        options = _OPTION_CLASSES[kind]()
        options.Init(table.Bytes, table.Pos)
    custom = op.CustomOptionsAsNumpy().tobytes() if op.CustomOptionsLength() else b""
    return TfliteOp(
        kind=kind,
        inputs=tuple(int(i) for i in op.InputsAsNumpy()),
        outputs=tuple(int(i) for i in op.OutputsAsNumpy()),
        options=options,
        custom_options=custom,
    )


# ---------------------------------------------------------------------------------------------
# Building the ONNX graph


@dataclass
class _Builder:
    graph: TfliteGraph
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: list[onnx.TensorProto] = field(default_factory=list)
    constants: dict[int, np.ndarray] = field(default_factory=dict)  # TFLite layout, fp32
    values: dict[int, str] = field(default_factory=dict)  # activation index -> ONNX name (NCHW)
    _used: set[str] = field(default_factory=set)

    def unique(self, base: str) -> str:
        name, n = base, 1
        while name in self._used:
            name, n = f"{base}_{n}", n + 1
        self._used.add(name)
        return name

    def node(self, op_type: str, inputs: Sequence[str], name: str, **attrs: Any) -> str:
        out = self.unique(name)
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=out, **attrs))
        return out

    def initializer(self, array: np.ndarray, name: str) -> str:
        unique = self.unique(name)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), unique))
        return unique

    def tensor(self, index: int) -> TfliteTensor:
        return self.graph.tensors[index]

    def constant(self, index: int) -> np.ndarray | None:
        if index in self.constants:
            return self.constants[index]
        t = self.tensor(index)
        return None if t.data is None else t.data

    def activation(self, index: int) -> str:
        if index not in self.values:
            raise ExportError(f"tensor {self.tensor(index).name!r} is used before it is produced")
        return self.values[index]

    def operand(self, index: int, *, rank_of_other: int = 4) -> str:
        """An elementwise operand: an activation, or a constant moved to NCHW broadcasting."""
        const = self.constant(index)
        if const is None:
            return self.activation(index)
        arr = const.astype(np.float32)
        if arr.ndim == 4:
            arr = arr.transpose(_NHWC_TO_NCHW)
        elif arr.ndim == 1 and arr.size > 1 and rank_of_other == 4:
            arr = arr.reshape(-1, 1, 1)
        elif arr.ndim not in (0, 1):
            raise UnsupportedOperator("elementwise constant", f"rank {arr.ndim} for NHWC → NCHW")
        return self.initializer(arr, self.tensor(index).name)


Handler = Callable[[_Builder, TfliteOp], str | None]


def _fused(b: _Builder, x: str, fused: int, name: str) -> str:
    aft = tflite.ActivationFunctionType
    if fused == aft.NONE:
        return x
    if fused == aft.RELU:
        return b.node("Relu", [x], name + "_relu")
    if fused == aft.RELU6:
        return _clip(b, x, 0.0, 6.0, name + "_relu6")
    if fused == aft.RELU_N1_TO_1:
        return _clip(b, x, -1.0, 1.0, name + "_relu_n1_to_1")
    raise UnsupportedOperator("fused activation", f"ActivationFunctionType {fused} in {name!r}")


def _clip(b: _Builder, x: str, lo: float, hi: float, name: str) -> str:
    low = b.initializer(np.array(lo, np.float32), name + "_min")
    high = b.initializer(np.array(hi, np.float32), name + "_max")
    return b.node("Clip", [x, low, high], name)


def _same_pads(
    in_hw: Sequence[int],
    out_hw: Sequence[int],
    kernel: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
) -> list[int]:
    """ONNX pads [top, left, bottom, right] reproducing TFLite SAME padding (extra at the end)."""
    begins, ends = [], []
    for i, o, k, s, d in zip(in_hw, out_hw, kernel, strides, dilations, strict=True):
        total = max((o - 1) * s + (k - 1) * d + 1 - i, 0)
        begins.append(total // 2)
        ends.append(total - total // 2)
    return begins + ends


def _padding_name(padding: int) -> str:
    if padding == tflite.Padding.SAME:
        return "SAME"
    if padding == tflite.Padding.VALID:
        return "VALID"
    raise UnsupportedOperator("padding", f"TFLite padding {padding}")


def _conv_pads(
    b: _Builder,
    op: TfliteOp,
    padding: str,
    kernel: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
) -> list[int]:
    if padding == "VALID":
        return [0, 0, 0, 0]
    in_hw = b.tensor(op.inputs[0]).shape[1:3]
    out_hw = b.tensor(op.outputs[0]).shape[1:3]
    return _same_pads(in_hw, out_hw, kernel, strides, dilations)


def _weights(b: _Builder, op: TfliteOp, kind: str) -> tuple[np.ndarray, np.ndarray | None]:
    w = b.constant(op.inputs[1])
    if w is None:
        raise UnsupportedOperator(kind, "non-constant weights")
    bias = b.constant(op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
    return w.astype(np.float32), None if bias is None else bias.astype(np.float32)


def _conv_like(
    b: _Builder,
    op: TfliteOp,
    onnx_w: np.ndarray,
    bias: np.ndarray | None,
    group: int,
    padding: str,
    strides: list[int],
    dilations: list[int],
    fused: int,
) -> str:
    out_t = b.tensor(op.outputs[0])
    kernel = list(onnx_w.shape[2:])
    pads = _conv_pads(b, op, padding, kernel, strides, dilations)
    inputs = [b.activation(op.inputs[0]), b.initializer(onnx_w, out_t.name + "_W")]
    if bias is not None:
        inputs.append(b.initializer(bias, out_t.name + "_B"))
    y = b.node(
        "Conv",
        inputs,
        out_t.name,
        kernel_shape=kernel,
        strides=strides,
        dilations=dilations,
        pads=pads,
        group=group,
    )
    return _fused(b, y, fused, out_t.name)


def _conv2d(b: _Builder, op: TfliteOp) -> str:
    o = op.options
    w, bias = _weights(b, op, op.kind)  # OHWI
    in_c = b.tensor(op.inputs[0]).shape[3]
    group = in_c // w.shape[3]
    return _conv_like(
        b,
        op,
        w.transpose(0, 3, 1, 2),
        bias,
        group,
        _padding_name(o.Padding()),
        [o.StrideH(), o.StrideW()],
        [o.DilationHFactor(), o.DilationWFactor()],
        o.FusedActivationFunction(),
    )


def _depthwise(b: _Builder, op: TfliteOp) -> str:
    o = op.options
    w, bias = _weights(b, op, op.kind)  # 1 x KH x KW x (C * multiplier)
    in_c = b.tensor(op.inputs[0]).shape[3]
    return _conv_like(
        b,
        op,
        w.transpose(3, 0, 1, 2),
        bias,
        in_c,
        _padding_name(o.Padding()),
        [o.StrideH(), o.StrideW()],
        [o.DilationHFactor(), o.DilationWFactor()],
        o.FusedActivationFunction(),
    )


def _transpose_conv_bias(b: _Builder, op: TfliteOp) -> str:
    """MediaPipe's Convolution2DTransposeBias: TfLiteTransposeConvParams in custom options."""
    if len(op.custom_options) < 12:
        raise UnsupportedOperator(op.kind, "custom options shorter than 3 int32")
    pad_code, stride_w, stride_h = struct.unpack("<3i", op.custom_options[:12])
    if pad_code not in _CUSTOM_PADDING:
        raise UnsupportedOperator(op.kind, f"padding code {pad_code}")
    w, bias = _weights(b, op, op.kind)  # O x KH x KW x I
    in_t, out_t = b.tensor(op.inputs[0]), b.tensor(op.outputs[0])
    kh, kw = w.shape[1:3]
    pads = [0, 0, 0, 0]
    if _CUSTOM_PADDING[pad_code] == "SAME":
        totals = [
            max((i - 1) * s + k - o, 0)
            for i, s, k, o in zip(
                in_t.shape[1:3], (stride_h, stride_w), (kh, kw), out_t.shape[1:3], strict=True
            )
        ]
        pads = [t // 2 for t in totals] + [t - t // 2 for t in totals]
    inputs = [b.activation(op.inputs[0]), b.initializer(w.transpose(3, 0, 1, 2), out_t.name + "_W")]
    if bias is not None:
        inputs.append(b.initializer(bias, out_t.name + "_B"))
    return b.node(
        "ConvTranspose",
        inputs,
        out_t.name,
        kernel_shape=[kh, kw],
        strides=[stride_h, stride_w],
        pads=pads,
    )


def _pool(b: _Builder, op: TfliteOp) -> str:
    o = op.options
    in_t, out_t = b.tensor(op.inputs[0]), b.tensor(op.outputs[0])
    x = b.activation(op.inputs[0])
    kernel = [o.FilterHeight(), o.FilterWidth()]
    is_avg = op.kind == "AVERAGE_POOL_2D"
    if is_avg and list(in_t.shape[1:3]) == kernel and list(out_t.shape[1:3]) == [1, 1]:
        y = b.node("GlobalAveragePool", [x], out_t.name)
    else:
        strides = [o.StrideH(), o.StrideW()]
        pads = _conv_pads(b, op, _padding_name(o.Padding()), kernel, strides, [1, 1])
        y = b.node(
            "AveragePool" if is_avg else "MaxPool",
            [x],
            out_t.name,
            kernel_shape=kernel,
            strides=strides,
            pads=pads,
        )
    return _fused(b, y, o.FusedActivationFunction(), out_t.name)


def _binary(onnx_op: str) -> Handler:
    def handle(b: _Builder, op: TfliteOp) -> str:
        out_t = b.tensor(op.outputs[0])
        if len(out_t.shape) != 4:
            raise UnsupportedOperator(op.kind, f"rank-{len(out_t.shape)} output (only NHWC)")
        y = b.node(onnx_op, [b.operand(op.inputs[0]), b.operand(op.inputs[1])], out_t.name)
        fused = op.options.FusedActivationFunction() if op.options is not None else 0
        return _fused(b, y, fused, out_t.name)

    return handle


def _unary(onnx_op: str, **attrs: Any) -> Handler:
    def handle(b: _Builder, op: TfliteOp) -> str:
        return b.node(onnx_op, [b.activation(op.inputs[0])], b.tensor(op.outputs[0]).name, **attrs)

    return handle


def _relu6(b: _Builder, op: TfliteOp) -> str:
    return _clip(b, b.activation(op.inputs[0]), 0.0, 6.0, b.tensor(op.outputs[0]).name)


def _resize_bilinear(b: _Builder, op: TfliteOp) -> str:
    o = op.options
    in_t, out_t = b.tensor(op.inputs[0]), b.tensor(op.outputs[0])
    if o.AlignCorners() and o.HalfPixelCenters():
        raise UnsupportedOperator(op.kind, "align_corners together with half_pixel_centers")
    mode = (
        "align_corners"
        if o.AlignCorners()
        else "half_pixel"
        if o.HalfPixelCenters()
        else "asymmetric"
    )
    scale = [o_ / i_ for o_, i_ in zip(out_t.shape[1:3], in_t.shape[1:3], strict=True)]
    scales = b.initializer(np.array([1.0, 1.0, *scale], np.float32), out_t.name + "_scales")
    return b.node(
        "Resize",
        [b.activation(op.inputs[0]), "", scales],
        out_t.name,
        mode="linear",
        coordinate_transformation_mode=mode,
    )


def _dequantize(b: _Builder, op: TfliteOp) -> None:
    src = b.constant(op.inputs[0])
    if src is None:
        raise UnsupportedOperator(op.kind, "of a non-constant tensor")
    b.constants[op.outputs[0]] = src.astype(np.float32)


HANDLERS: dict[str, Callable[[_Builder, TfliteOp], str | None]] = {
    "CONV_2D": _conv2d,
    "DEPTHWISE_CONV_2D": _depthwise,
    "CUSTOM:Convolution2DTransposeBias": _transpose_conv_bias,
    "AVERAGE_POOL_2D": _pool,
    "MAX_POOL_2D": _pool,
    "ADD": _binary("Add"),
    "MUL": _binary("Mul"),
    "RELU": _unary("Relu"),
    "RELU6": _relu6,
    "HARD_SWISH": _unary("HardSwish"),
    "LOGISTIC": _unary("Sigmoid"),
    "RESIZE_BILINEAR": _resize_bilinear,
    "DEQUANTIZE": _dequantize,
}


def supported_ops() -> list[str]:
    return sorted(HANDLERS)


def convert(
    tflite_bytes: bytes,
    *,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    opset: int = DEFAULT_OPSET,
    graph_name: str = "model",
) -> onnx.ModelProto:
    """Translate a float TFLite model with NHWC image inputs/outputs into a checked ONNX model.

    ``input_names`` / ``output_names`` rename the graph's inputs and outputs (by position).
    """
    graph = read_tflite(tflite_bytes)
    unknown = sorted({op.kind for op in graph.ops} - set(HANDLERS))
    if unknown:
        raise UnsupportedOperator(", ".join(unknown), f"supported: {', '.join(supported_ops())}")
    in_names = list(input_names) if input_names else [graph.tensors[i].name for i in graph.inputs]
    out_names = (
        list(output_names) if output_names else [graph.tensors[i].name for i in graph.outputs]
    )
    if len(in_names) != len(graph.inputs) or len(out_names) != len(graph.outputs):
        raise ExportError(
            f"model has {len(graph.inputs)} input(s) and {len(graph.outputs)} output(s); "
            f"got names {in_names} and {out_names}"
        )
    b = _Builder(graph)
    b._used.update(in_names + out_names)
    graph_inputs = []
    for index, name in zip(graph.inputs, in_names, strict=True):
        t = graph.tensors[index]
        if len(t.shape) != 4 or t.dtype != np.float32:
            raise UnsupportedOperator("input", f"{t.name!r} must be float32 NHWC, got {t.shape}")
        graph_inputs.append(
            helper.make_tensor_value_info(name, TensorProto.FLOAT, [BATCH_DIM, *t.shape[1:]])
        )
        b.values[index] = b.node("Transpose", [name], t.name + "_nchw", perm=list(_NHWC_TO_NCHW))
    for op in graph.ops:
        out = HANDLERS[op.kind](b, op)
        if out is not None:
            b.values[op.outputs[0]] = out
    graph_outputs = []
    for index, name in zip(graph.outputs, out_names, strict=True):
        t = graph.tensors[index]
        if len(t.shape) != 4:
            raise UnsupportedOperator("output", f"{t.name!r} must be NHWC, got {t.shape}")
        b.nodes.append(
            helper.make_node(
                "Transpose", [b.activation(index)], [name], name=name, perm=list(_NCHW_TO_NHWC)
            )
        )
        graph_outputs.append(
            helper.make_tensor_value_info(name, TensorProto.FLOAT, [BATCH_DIM, *t.shape[1:]])
        )
    onnx_graph = helper.make_graph(
        b.nodes, graph_name, graph_inputs, graph_outputs, initializer=b.initializers
    )
    model = helper.make_model(
        onnx_graph,
        opset_imports=[helper.make_opsetid("", opset)],
        producer_name="siteveil.export.tflite_to_onnx",
    )
    model.ir_version = min(model.ir_version, 8)  # readable by older ONNX Runtime / TensorRT
    onnx.checker.check_model(model, full_check=True)
    return model
