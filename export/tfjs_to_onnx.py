"""TensorFlow.js graph model (``model.json`` + ``.bin`` shards) → ONNX, standard ops only.

The TF.js graph format is a TensorFlow ``GraphDef`` written as JSON (``modelTopology.node``) with
the constants moved into binary shards described by ``weightsManifest``; quantised weights
(``float16``, or ``uint8``/``uint16`` with ``scale``/``min``) are dequantised to float32 here.
Converting it needs no TensorFlow: this reads the JSON, keeps the nodes the requested outputs
depend on, and emits one ONNX node (or a few) per TF op.

Layout: TF.js image tensors are NHWC, ONNX convolutions NCHW. Every value carries its layout;
convolutions, pools and resizes produce NCHW, element-wise ops, reductions and concatenations keep
whatever their inputs have, and any op that depends on axis order (Reshape, StridedSlice, TopK, …)
gets the value back in NHWC. Inputs and outputs stay NHWC, the batch axis is dynamic, and an op
this converter does not know is an error naming it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from export.errors import ExportError, MissingFile, UnsupportedOperator

DEFAULT_OPSET = 17
BATCH_DIM = "batch"
_NHWC_TO_NCHW = (0, 3, 1, 2)
_NCHW_TO_NHWC = (0, 2, 3, 1)
# NHWC axis -> its position in NCHW
_AXIS_TO_NCHW = {0: 0, 1: 2, 2: 3, 3: 1}

_DTYPES: dict[str, np.dtype[Any]] = {
    "float32": np.dtype(np.float32),
    "int32": np.dtype(np.int32),
    "bool": np.dtype(np.bool_),
    "float16": np.dtype(np.float16),
    "uint8": np.dtype(np.uint8),
    "uint16": np.dtype(np.uint16),
}
_TF_TYPES: dict[str, np.dtype[Any]] = {
    "DT_FLOAT": np.dtype(np.float32),
    "DT_INT32": np.dtype(np.int32),
    "DT_INT64": np.dtype(np.int64),
    "DT_BOOL": np.dtype(np.bool_),
}
_ONNX_TYPES: dict[np.dtype[Any], int] = {
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.int32): TensorProto.INT32,
    np.dtype(np.int64): TensorProto.INT64,
    np.dtype(np.bool_): TensorProto.BOOL,
}


# ---------------------------------------------------------------------------------------------
# Reading model.json and its weight shards into plain values


@dataclass(frozen=True)
class TfjsNode:
    name: str
    op: str
    inputs: tuple[str, ...]  # "node" or "node:k"; control inputs ("^node") are dropped
    attrs: Mapping[str, Any]


@dataclass(frozen=True)
class TfjsGraph:
    nodes: Mapping[str, TfjsNode]  # in file order
    weights: Mapping[str, np.ndarray]  # dequantised: float32 / int32 / bool
    inputs: tuple[str, ...]  # Placeholder node names
    outputs: tuple[str, ...]  # signature outputs (or the graph's sinks)
    metadata: Mapping[str, Any]


def read_weights(manifest: Sequence[Mapping[str, Any]], data: bytes) -> dict[str, np.ndarray]:
    """Split the concatenated shards into named arrays, dequantising as TF.js does."""
    weights: dict[str, np.ndarray] = {}
    offset = 0
    for group in manifest:
        for spec in group["weights"]:
            name, shape = spec["name"], tuple(int(d) for d in spec["shape"])
            count = int(np.prod(shape)) if shape else 1
            quant = spec.get("quantization")
            stored = (quant or {}).get("dtype", spec["dtype"])
            if stored not in _DTYPES or spec["dtype"] not in ("float32", "int32", "bool"):
                raise UnsupportedOperator("weight dtype", f"{name!r}: {spec['dtype']}/{stored}")
            dtype = _DTYPES[stored]
            size = count * dtype.itemsize
            if offset + size > len(data):
                raise ExportError(f"weight shards end before {name!r} (need {offset + size} bytes)")
            raw = np.frombuffer(data, dtype=dtype, count=count, offset=offset).reshape(shape)
            offset += size
            if quant and stored in ("uint8", "uint16"):
                if "scale" not in quant:
                    raise UnsupportedOperator("quantization", f"{name!r}: {stored} without scale")
                array = raw.astype(np.float32) * np.float32(quant["scale"]) + np.float32(
                    quant.get("min", 0.0)
                )
                if spec["dtype"] == "int32":
                    array = np.round(array).astype(np.int32)
            else:
                array = raw.astype(_DTYPES[spec["dtype"]])
            weights[name] = array
    if offset != len(data):
        raise ExportError(f"weight shards hold {len(data)} bytes, the manifest {offset}")
    return weights


def _clean_inputs(inputs: Sequence[str]) -> tuple[str, ...]:
    return tuple(i for i in inputs if not i.startswith("^"))


def parse_graph(model_json: Mapping[str, Any], weight_data: bytes) -> TfjsGraph:
    if model_json.get("format") not in (None, "graph-model"):
        raise ExportError(f"not a TF.js graph model (format {model_json.get('format')!r})")
    topology = model_json.get("modelTopology") or {}
    if topology.get("library", {}).get("function"):
        raise UnsupportedOperator("function library", "graphs with control flow are not handled")
    nodes = {
        n["name"]: TfjsNode(
            n["name"], n["op"], _clean_inputs(n.get("input", [])), n.get("attr", {})
        )
        for n in topology.get("node", [])
    }
    if not nodes:
        raise ExportError("model.json has no modelTopology.node")
    weights = read_weights(model_json.get("weightsManifest", []), weight_data)
    signature = model_json.get("signature") or model_json.get("userDefinedMetadata", {}).get(
        "signature", {}
    )
    inputs = tuple(n.name for n in nodes.values() if n.op == "Placeholder")
    outputs = tuple(v["name"].removesuffix(":0") for v in signature.get("outputs", {}).values())
    if not outputs:
        used = {i.split(":")[0] for n in nodes.values() for i in n.inputs}
        outputs = tuple(n for n in nodes if n not in used and nodes[n].op != "Const")
    metadata = {
        k: v for k, v in model_json.items() if k not in ("modelTopology", "weightsManifest")
    }
    return TfjsGraph(nodes, weights, inputs, outputs, metadata)


def read_graph_model(model_json: Path) -> TfjsGraph:
    """Read ``model.json`` and the shards it names (paths relative to it)."""
    if not model_json.is_file():
        raise MissingFile(f"TF.js model not found: {model_json}")
    spec = json.loads(model_json.read_text())
    chunks = []
    for group in spec.get("weightsManifest", []):
        for rel in group["paths"]:
            shard = model_json.parent / rel
            if not shard.is_file():
                raise MissingFile(f"weight shard not found: {shard}")
            chunks.append(shard.read_bytes())
    return parse_graph(spec, b"".join(chunks))


# ---------------------------------------------------------------------------------------------
# Attributes


def _attr(node: TfjsNode, key: str, default: Any = None) -> Any:
    value = node.attrs.get(key)
    if value is None:
        return default
    if "list" in value:
        items = value["list"]
        if "i" in items:
            return [int(v) for v in items["i"]]
        if "f" in items:
            return [float(v) for v in items["f"]]
        if "s" in items:
            return [base64.b64decode(v).decode() for v in items["s"]]
        return []
    if "i" in value:
        return int(value["i"])
    if "f" in value:
        return float(value["f"])
    if "b" in value:
        return bool(value["b"])
    if "s" in value:
        return base64.b64decode(value["s"]).decode()
    if "type" in value:
        return value["type"]
    return value


# ---------------------------------------------------------------------------------------------
# Building the ONNX graph


@dataclass
class Value:
    """An ONNX tensor standing for a TF tensor; ``shape`` is in TF (NHWC) order, -1 unknown."""

    name: str
    dtype: np.dtype[Any]
    shape: tuple[int, ...] | None
    nchw: bool = False  # the ONNX tensor is the NCHW transpose of the TF tensor


@dataclass
class _Builder:
    graph: TfjsGraph
    opset: int
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: list[onnx.TensorProto] = field(default_factory=list)
    values: dict[str, Value] = field(default_factory=dict)  # "node:k" -> value
    _used: set[str] = field(default_factory=set)
    _cache: dict[tuple[str, str], str] = field(default_factory=dict)

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

    def node_n(
        self, op_type: str, inputs: Sequence[str], name: str, n: int, **attrs: Any
    ) -> list[str]:
        outs = [self.unique(f"{name}:{i}") for i in range(n)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=outs[0], **attrs))
        return outs

    def initializer(self, array: np.ndarray, name: str) -> str:
        unique = self.unique(name)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), unique))
        return unique

    # --- operands -----------------------------------------------------------------------------

    def const(self, ref: str) -> np.ndarray | None:
        """The constant behind a node input, or None for an activation."""
        node = self.graph.nodes.get(ref.split(":")[0])
        if node is None or node.op != "Const":
            return None
        if node.name in self.graph.weights:
            return self.graph.weights[node.name]
        return _inline_tensor(node)

    def required_const(self, node: TfjsNode, index: int) -> np.ndarray:
        value = self.const(node.inputs[index])
        if value is None:
            raise UnsupportedOperator(node.op, f"{node.name!r}: input {index} must be a constant")
        return value

    def value(self, ref: str) -> Value:
        key = ref if ":" in ref else ref + ":0"
        if key in self.values:
            return self.values[key]
        const = self.const(ref)
        if const is None:
            raise ExportError(f"tensor {ref!r} is used before it is produced")
        if const.dtype == np.float64:
            const = const.astype(np.float32)
        v = Value(self.initializer(const, ref.split(":")[0]), const.dtype, const.shape)
        self.values[key] = v
        return v

    def nchw(self, v: Value) -> str:
        if v.nchw:
            return v.name
        if v.shape is None or len(v.shape) != 4:
            raise ExportError(f"{v.name!r} is not a 4-D image tensor")
        key = (v.name, "nchw")
        if key not in self._cache:
            self._cache[key] = self.node(
                "Transpose", [v.name], v.name + "_nchw", perm=list(_NHWC_TO_NCHW)
            )
        return self._cache[key]

    def plain(self, v: Value) -> str:
        if not v.nchw:
            return v.name
        key = (v.name, "nhwc")
        if key not in self._cache:
            self._cache[key] = self.node(
                "Transpose", [v.name], v.name + "_nhwc", perm=list(_NCHW_TO_NHWC)
            )
        return self._cache[key]

    def ints(self, values: Sequence[int] | np.ndarray, name: str) -> str:
        return self.initializer(np.asarray(values, dtype=np.int64).reshape(-1), name)


def _inline_tensor(node: TfjsNode) -> np.ndarray:
    tensor = node.attrs.get("value", {}).get("tensor")
    if tensor is None:
        raise ExportError(f"constant {node.name!r} is neither in the weights nor inline")
    dtype = _TF_TYPES.get(tensor.get("dtype", ""))
    if dtype is None:
        raise UnsupportedOperator("constant dtype", f"{node.name!r}: {tensor.get('dtype')}")
    shape = tuple(int(d.get("size", 0)) for d in tensor.get("tensorShape", {}).get("dim", []))
    for key in ("floatVal", "intVal", "int64Val", "boolVal"):
        if key in tensor:
            flat = np.asarray(tensor[key], dtype=dtype)
            count = int(np.prod(shape)) if shape else 1
            return (
                np.broadcast_to(flat, (count,)).reshape(shape).copy()
                if flat.size == 1
                else flat.reshape(shape)
            )
    raise UnsupportedOperator("constant encoding", f"{node.name!r}")


Handler = Callable[[_Builder, TfjsNode], Value | list[Value]]


def _strides(node: TfjsNode, key: str) -> list[int]:
    values = _attr(node, key, [1, 1, 1, 1])
    if _attr(node, "data_format", "NHWC") != "NHWC":
        raise UnsupportedOperator(
            node.op, f"{node.name!r}: data_format {_attr(node, 'data_format')}"
        )
    if len(values) != 4 or values[0] != 1 or values[3] != 1:
        raise UnsupportedOperator(node.op, f"{node.name!r}: {key} {values}")
    return values[1:3]


def _window(
    node: TfjsNode,
    in_hw: Sequence[int],
    kernel: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
) -> tuple[list[int], list[int]]:
    """ONNX pads [top, left, bottom, right] and the output H, W of TF's padding rule."""
    padding = _attr(node, "padding", "VALID")
    effective = [(k - 1) * d + 1 for k, d in zip(kernel, dilations, strict=True)]
    if padding == "SAME":
        out = [-(-i // s) for i, s in zip(in_hw, strides, strict=True)]
        totals = [
            max((o - 1) * s + e - i, 0)
            for o, s, e, i in zip(out, strides, effective, in_hw, strict=True)
        ]
        return [t // 2 for t in totals] + [t - t // 2 for t in totals], out
    if padding == "VALID":
        out = [(i - e) // s + 1 for i, e, s in zip(in_hw, effective, strides, strict=True)]
        return [0, 0, 0, 0], out
    if padding == "EXPLICIT":
        p = _attr(node, "explicit_paddings", [])  # [n0, n1, h0, h1, w0, w1, c0, c1]
        if len(p) != 8:
            raise UnsupportedOperator(node.op, f"{node.name!r}: explicit_paddings {p}")
        pads = [p[2], p[4], p[3], p[5]]
        out = [
            (i + a + b - e) // s + 1
            for i, a, b, e, s in zip(in_hw, pads[:2], pads[2:], effective, strides, strict=True)
        ]
        return pads, out
    raise UnsupportedOperator(node.op, f"{node.name!r}: padding {padding}")


def _spatial(b: _Builder, node: TfjsNode, v: Value) -> tuple[int, int, int]:
    if v.shape is None or len(v.shape) != 4 or min(v.shape[1:]) < 1:
        raise UnsupportedOperator(
            node.op, f"{node.name!r}: needs a static NHWC input, got {v.shape}"
        )
    return v.shape[1], v.shape[2], v.shape[3]


def _activation(b: _Builder, x: str, op: str, node: TfjsNode) -> str:
    name = node.name + "/" + op.lower()
    if op == "Relu":
        return b.node("Relu", [x], name)
    if op == "Relu6":
        return b.node(
            "Clip",
            [
                x,
                b.initializer(np.array(0, np.float32), name + "_min"),
                b.initializer(np.array(6, np.float32), name + "_max"),
            ],
            name,
        )
    if op == "Sigmoid":
        return b.node("Sigmoid", [x], name)
    if op == "Elu":
        return b.node("Elu", [x], name)
    if op == "LeakyRelu":
        return b.node("LeakyRelu", [x], name, alpha=_attr(node, "leakyrelu_alpha", 0.2))
    raise UnsupportedOperator(node.op, f"{node.name!r}: fused activation {op}")


def _conv(b: _Builder, node: TfjsNode, depthwise: bool) -> Value:
    x = b.value(node.inputs[0])
    h, w, c = _spatial(b, node, x)
    kernel = b.required_const(node, 1).astype(np.float32)
    strides = _strides(node, "strides")
    dilations = _strides(node, "dilations")
    fused = _attr(node, "fused_ops", [])
    bias = None
    rest = list(fused)
    if rest and rest[0] == "BiasAdd":
        if _attr(node, "num_args", 1) != 1:
            raise UnsupportedOperator(node.op, f"{node.name!r}: num_args {_attr(node, 'num_args')}")
        bias = b.required_const(node, 2).astype(np.float32)
        rest = rest[1:]
    elif rest:
        raise UnsupportedOperator(node.op, f"{node.name!r}: fused_ops {fused}")
    if len(rest) > 1:
        raise UnsupportedOperator(node.op, f"{node.name!r}: fused_ops {fused}")
    kh, kw = kernel.shape[:2]
    pads, out_hw = _window(node, (h, w), (kh, kw), strides, dilations)
    if depthwise:  # H W C M -> (C*M) 1 H W, output channel c*M + m as in TF
        weights = kernel.reshape(kh, kw, -1).transpose(2, 0, 1)[:, None]
        group, out_c = c, kernel.shape[2] * kernel.shape[3]
    else:  # H W I O -> O I H W
        weights = kernel.transpose(3, 2, 0, 1)
        group, out_c = c // kernel.shape[2], kernel.shape[3]
    inputs = [b.nchw(x), b.initializer(weights, node.name + "/W")]
    if bias is not None:
        inputs.append(b.initializer(bias, node.name + "/B"))
    y = b.node(
        "Conv",
        inputs,
        node.name,
        kernel_shape=[kh, kw],
        strides=strides,
        dilations=dilations,
        pads=pads,
        group=group,
    )
    for op in rest:
        y = _activation(b, y, op, node)
    return Value(y, np.dtype(np.float32), (x.shape[0], *out_hw, out_c), nchw=True)  # type: ignore[index]


def _pool(b: _Builder, node: TfjsNode) -> Value:
    x = b.value(node.inputs[0])
    h, w, c = _spatial(b, node, x)
    kernel = _strides(node, "ksize")
    strides = _strides(node, "strides")
    pads, out_hw = _window(node, (h, w), kernel, strides, (1, 1))
    onnx_op = "MaxPool" if node.op == "MaxPool" else "AveragePool"
    attrs: dict[str, Any] = {"kernel_shape": kernel, "strides": strides, "pads": pads}
    if onnx_op == "AveragePool":
        attrs["count_include_pad"] = 0  # TF averages over the valid cells only
    y = b.node(onnx_op, [b.nchw(x)], node.name, **attrs)
    return Value(y, x.dtype, (x.shape[0], *out_hw, c), nchw=True)  # type: ignore[index]


def _broadcast(a: tuple[int, ...] | None, c: tuple[int, ...] | None) -> tuple[int, ...] | None:
    if a is None or c is None:
        return None
    rank = max(len(a), len(c))
    a = (1,) * (rank - len(a)) + a
    c = (1,) * (rank - len(c)) + c
    return tuple(y if x == 1 else x for x, y in zip(a, c, strict=True))


def _elementwise_operands(
    b: _Builder, node: TfjsNode, refs: Sequence[str]
) -> tuple[list[str], bool, list[Value]]:
    """ONNX names of the operands: all NCHW when an activation operand already is (and the
    others can follow), otherwise all in TF layout. Constants are moved, not transposed at run
    time."""
    consts = [b.const(r) for r in refs]
    values = [
        b.value(r) if c is None else Value("", c.dtype, c.shape)
        for r, c in zip(refs, consts, strict=True)
    ]
    go_nchw = any(v.nchw for v in values) and all(
        v.nchw or (v.shape is not None and len(v.shape) == 4) or (c is not None and c.ndim <= 4)
        for v, c in zip(values, consts, strict=True)
    )
    names = []
    for v, c, ref in zip(values, consts, refs, strict=True):
        if c is None:
            names.append(b.nchw(v) if go_nchw else b.plain(v))
        elif go_nchw:
            key = (ref, "const_nchw")
            if key not in b._cache:
                arr = c.reshape((1,) * (4 - c.ndim) + c.shape).transpose(_NHWC_TO_NCHW)
                b._cache[key] = b.initializer(arr, ref.split(":")[0] + "_nchw")
            names.append(b._cache[key])
        else:
            names.append(b.value(ref).name)
    return names, go_nchw, values


def _binary(onnx_op: str, out_dtype: np.dtype[Any] | None = None) -> Handler:
    def handle(b: _Builder, node: TfjsNode) -> Value:
        names, go_nchw, values = _elementwise_operands(b, node, node.inputs[:2])
        y = b.node(onnx_op, names, node.name)
        shape = _broadcast(values[0].shape, values[1].shape)
        return Value(y, out_dtype or values[0].dtype, shape, nchw=go_nchw)

    return handle


def _unary(onnx_op: str) -> Handler:
    def handle(b: _Builder, node: TfjsNode) -> Value:
        x = b.value(node.inputs[0])
        return Value(b.node(onnx_op, [x.name], node.name), x.dtype, x.shape, x.nchw)

    return handle


def _relu6(b: _Builder, node: TfjsNode) -> Value:
    x = b.value(node.inputs[0])
    return Value(_activation(b, x.name, "Relu6", node), x.dtype, x.shape, x.nchw)


def _identity(b: _Builder, node: TfjsNode) -> Value:
    return b.value(node.inputs[0])


def _cast(b: _Builder, node: TfjsNode) -> Value:
    x = b.value(node.inputs[0])
    dst = _TF_TYPES.get(_attr(node, "DstT", ""))
    if dst is None:
        raise UnsupportedOperator(node.op, f"{node.name!r}: DstT {_attr(node, 'DstT')}")
    return Value(b.node("Cast", [x.name], node.name, to=_ONNX_TYPES[dst]), dst, x.shape, x.nchw)


def _floor_div(b: _Builder, node: TfjsNode) -> Value:
    names, go_nchw, values = _elementwise_operands(b, node, node.inputs[:2])
    dtype = values[0].dtype
    if dtype.kind == "f":
        y = b.node("Floor", [b.node("Div", names, node.name + "/div")], node.name)
    else:  # exact floor for either sign: (a - floormod(a, b)) / b divides evenly
        mod = b.node("Mod", names, node.name + "/mod", fmod=0)
        y = b.node("Div", [b.node("Sub", [names[0], mod], node.name + "/sub"), names[1]], node.name)
    return Value(y, dtype, _broadcast(values[0].shape, values[1].shape), go_nchw)


def _floor_mod(b: _Builder, node: TfjsNode) -> Value:
    names, go_nchw, values = _elementwise_operands(b, node, node.inputs[:2])
    dtype = values[0].dtype
    if dtype.kind == "f":  # a - b * floor(a / b), the sign of the divisor as in TF
        q = b.node("Floor", [b.node("Div", names, node.name + "/div")], node.name + "/floor")
        y = b.node("Sub", [names[0], b.node("Mul", [q, names[1]], node.name + "/mul")], node.name)
    else:
        y = b.node("Mod", names, node.name, fmod=0)
    return Value(y, dtype, _broadcast(values[0].shape, values[1].shape), go_nchw)


def _reduce(onnx_op: str) -> Handler:
    def handle(b: _Builder, node: TfjsNode) -> Value:
        x = b.value(node.inputs[0])
        axes = [int(a) for a in b.required_const(node, 1).reshape(-1)]
        keep = bool(_attr(node, "keep_dims", False))
        if x.shape is None:
            raise UnsupportedOperator(node.op, f"{node.name!r}: input of unknown rank")
        in_shape = x.shape
        rank = len(in_shape)
        axes = [a % rank for a in axes]
        go_nchw = x.nchw and keep
        src = x.name if go_nchw else b.plain(x)
        onnx_axes = [_AXIS_TO_NCHW[a] for a in axes] if go_nchw else axes
        if onnx_op == "ReduceSum" or b.opset >= 18:
            y = b.node(
                onnx_op,
                [src, b.ints(onnx_axes, node.name + "/axes")],
                node.name,
                keepdims=int(keep),
            )
        else:
            y = b.node(onnx_op, [src], node.name, axes=onnx_axes, keepdims=int(keep))
        shape = (
            tuple(1 if i in axes else d for i, d in enumerate(in_shape))
            if keep
            else tuple(d for i, d in enumerate(in_shape) if i not in axes)
        )
        return Value(y, x.dtype, shape, go_nchw)

    return handle


def _concat(b: _Builder, node: TfjsNode) -> Value:
    n = _attr(node, "N", len(node.inputs) - 1)
    refs, axis = node.inputs[:n], int(b.required_const(node, n))
    values = [b.value(r) for r in refs]
    rank = len(values[0].shape) if values[0].shape is not None else None
    if rank is None:
        raise UnsupportedOperator(node.op, f"{node.name!r}: inputs of unknown rank")
    axis %= rank
    go_nchw = rank == 4 and any(v.nchw for v in values)
    names = [b.nchw(v) if go_nchw else b.plain(v) for v in values]
    y = b.node("Concat", names, node.name, axis=_AXIS_TO_NCHW[axis] if go_nchw else axis)
    shapes = [v.shape for v in values]
    shape = None
    if all(s is not None for s in shapes):
        known = [s for s in shapes if s is not None]
        total = sum(s[axis] for s in known)
        shape = tuple(total if i == axis else d for i, d in enumerate(known[0]))
    return Value(y, values[0].dtype, shape, go_nchw)


def _resize(b: _Builder, node: TfjsNode) -> Value:
    x = b.value(node.inputs[0])
    h, w, c = _spatial(b, node, x)
    size = [int(s) for s in b.required_const(node, 1).reshape(-1)]
    align, half = _attr(node, "align_corners", False), _attr(node, "half_pixel_centers", False)
    if align and half:
        raise UnsupportedOperator(node.op, f"{node.name!r}: align_corners with half_pixel_centers")
    linear = node.op == "ResizeBilinear"
    if align:
        mode = "align_corners"
    elif half:
        mode = "half_pixel" if linear else "tf_half_pixel_for_nn"
    else:
        mode = "asymmetric"
    attrs: dict[str, Any] = {
        "mode": "linear" if linear else "nearest",
        "coordinate_transformation_mode": mode,
    }
    if not linear:
        attrs["nearest_mode"] = "round_prefer_ceil" if align else "floor"
    src = b.nchw(x)
    if size[0] % h == 0 and size[1] % w == 0:  # integral factors: exact as float scales
        scales = np.array([1.0, 1.0, size[0] / h, size[1] / w], np.float32)
        inputs = [src, "", b.initializer(scales, node.name + "/scales")]
    else:  # floor(in * float32(out / in)) can miss by one: give the sizes, batch from the input
        batch_channels = b.node(
            "Slice",
            [
                b.node("Shape", [src], node.name + "/shape"),
                b.ints([0], node.name + "/zero"),
                b.ints([2], node.name + "/two"),
            ],
            node.name + "/nc",
        )
        sizes = b.node(
            "Concat",
            [batch_channels, b.ints(size, node.name + "/hw")],
            node.name + "/sizes",
            axis=0,
        )
        inputs = [src, "", "", sizes]
    y = b.node("Resize", inputs, node.name, **attrs)
    return Value(y, x.dtype, (x.shape[0], size[0], size[1], c), nchw=True)  # type: ignore[index]


def _reshape(b: _Builder, node: TfjsNode) -> Value:
    x = b.value(node.inputs[0])
    shape = [int(s) for s in b.required_const(node, 1).reshape(-1)]
    y = b.node("Reshape", [b.plain(x), b.ints(shape, node.name + "/shape")], node.name)
    known = None
    if x.shape is not None and -1 not in x.shape:
        known = tuple(np.empty(x.shape, np.bool_).reshape(shape).shape)
    return Value(y, x.dtype, known)


def _expand_dims(b: _Builder, node: TfjsNode) -> Value:
    x = b.value(node.inputs[0])
    axis = int(b.required_const(node, 1))
    y = b.node("Unsqueeze", [b.plain(x), b.ints([axis], node.name + "/axes")], node.name)
    shape = None
    if x.shape is not None:
        s = list(x.shape)
        s.insert(axis % (len(s) + 1), 1)
        shape = tuple(s)
    return Value(y, x.dtype, shape)


def _squeeze(b: _Builder, node: TfjsNode) -> Value:
    x = b.value(node.inputs[0])
    axes = _attr(node, "squeeze_dims", []) or _attr(node, "axis", [])
    if not axes:
        if x.shape is None or -1 in x.shape[1:]:
            raise UnsupportedOperator(node.op, f"{node.name!r}: needs squeeze_dims")
        axes = [i for i, d in enumerate(x.shape) if d == 1 and i > 0]
    y = b.node("Squeeze", [b.plain(x), b.ints(axes, node.name + "/axes")], node.name)
    shape = None
    if x.shape is not None:
        drop = {a % len(x.shape) for a in axes}
        shape = tuple(d for i, d in enumerate(x.shape) if i not in drop)
    return Value(y, x.dtype, shape)


def _strided_slice(b: _Builder, node: TfjsNode) -> Value:
    x = b.value(node.inputs[0])
    begin, end, step = (b.required_const(node, i).reshape(-1).astype(np.int64) for i in (1, 2, 3))
    for mask in ("ellipsis_mask", "new_axis_mask"):
        if _attr(node, mask, 0):
            raise UnsupportedOperator(node.op, f"{node.name!r}: {mask} {_attr(node, mask)}")
    begin_mask, end_mask = _attr(node, "begin_mask", 0), _attr(node, "end_mask", 0)
    shrink = _attr(node, "shrink_axis_mask", 0)
    big = np.iinfo(np.int64).max
    starts, ends = [], []
    for i, (s, e, st) in enumerate(zip(begin, end, step, strict=True)):
        if st == 0:
            raise ExportError(f"{node.name!r}: stride 0")
        starts.append((0 if st > 0 else -1) if begin_mask >> i & 1 else int(s))
        if shrink >> i & 1:
            ends.append(int(s) + 1 if int(s) != -1 else big)
        else:
            ends.append((big if st > 0 else -big) if end_mask >> i & 1 else int(e))
    axes = list(range(len(starts)))
    y = b.node(
        "Slice",
        [
            b.plain(x),
            b.ints(starts, node.name + "/starts"),
            b.ints(ends, node.name + "/ends"),
            b.ints(axes, node.name + "/axes"),
            b.ints(step, node.name + "/steps"),
        ],
        node.name + ("/slice" if shrink else ""),
    )
    shape = None
    if x.shape is not None and -1 not in x.shape:
        index = tuple(slice(a, c, d) for a, c, d in zip(starts, ends, step, strict=True))
        shape = np.empty(x.shape, np.bool_)[index].shape
    if shrink:
        dims = [i for i in axes if shrink >> i & 1]
        y = b.node("Squeeze", [y, b.ints(dims, node.name + "/axes")], node.name)
        shape = None if shape is None else tuple(d for i, d in enumerate(shape) if i not in dims)
    return Value(y, x.dtype, shape)


def _top_k(b: _Builder, node: TfjsNode) -> list[Value]:
    x = b.value(node.inputs[0])
    k = int(b.required_const(node, 1))
    if not _attr(node, "sorted", True):
        raise UnsupportedOperator(node.op, f"{node.name!r}: sorted=false")
    values, indices = b.node_n(
        "TopK",
        [b.plain(x), b.ints([k], node.name + "/k")],
        node.name,
        2,
        axis=-1,
        largest=1,
        sorted=1,
    )
    shape = None if x.shape is None else (*x.shape[:-1], k)
    index32 = b.node("Cast", [indices], node.name + ":1_int32", to=TensorProto.INT32)
    return [Value(values, x.dtype, shape), Value(index32, np.dtype(np.int32), shape)]


def _gather(b: _Builder, node: TfjsNode) -> Value:
    params, indices = b.value(node.inputs[0]), b.value(node.inputs[1])
    axis = int(b.required_const(node, 2))
    if _attr(node, "batch_dims", 0):
        raise UnsupportedOperator(node.op, f"{node.name!r}: batch_dims {_attr(node, 'batch_dims')}")
    y = b.node("Gather", [b.plain(params), b.plain(indices)], node.name, axis=axis)
    shape = None
    if params.shape is not None and indices.shape is not None:
        a = axis % len(params.shape)
        shape = (*params.shape[:a], *indices.shape, *params.shape[a + 1 :])
    return Value(y, params.dtype, shape)


HANDLERS: dict[str, Handler] = {
    "Identity": _identity,
    "Conv2D": lambda b, n: _conv(b, n, depthwise=False),
    "_FusedConv2D": lambda b, n: _conv(b, n, depthwise=False),
    "DepthwiseConv2dNative": lambda b, n: _conv(b, n, depthwise=True),
    "FusedDepthwiseConv2dNative": lambda b, n: _conv(b, n, depthwise=True),
    "MaxPool": _pool,
    "AvgPool": _pool,
    "Add": _binary("Add"),
    "AddV2": _binary("Add"),
    "BiasAdd": _binary("Add"),
    "Sub": _binary("Sub"),
    "Mul": _binary("Mul"),
    "RealDiv": _binary("Div"),
    "Maximum": _binary("Max"),
    "Minimum": _binary("Min"),
    "Equal": _binary("Equal", np.dtype(np.bool_)),
    "Greater": _binary("Greater", np.dtype(np.bool_)),
    "Less": _binary("Less", np.dtype(np.bool_)),
    "FloorDiv": _floor_div,
    "FloorMod": _floor_mod,
    "Relu": _unary("Relu"),
    "Relu6": _relu6,
    "Sigmoid": _unary("Sigmoid"),
    "Tanh": _unary("Tanh"),
    "Exp": _unary("Exp"),
    "Neg": _unary("Neg"),
    "Sqrt": _unary("Sqrt"),
    "Cast": _cast,
    "Mean": _reduce("ReduceMean"),
    "Sum": _reduce("ReduceSum"),
    "Max": _reduce("ReduceMax"),
    "ConcatV2": _concat,
    "ResizeBilinear": _resize,
    "ResizeNearestNeighbor": _resize,
    "Reshape": _reshape,
    "ExpandDims": _expand_dims,
    "Squeeze": _squeeze,
    "StridedSlice": _strided_slice,
    "TopKV2": _top_k,
    "GatherV2": _gather,
}
_STRUCTURAL = {"Placeholder", "Const", "NoOp"}


def supported_ops() -> list[str]:
    return sorted(set(HANDLERS) | _STRUCTURAL)


def required_nodes(graph: TfjsGraph, outputs: Sequence[str]) -> list[TfjsNode]:
    """The nodes ``outputs`` depend on, in an order where inputs come first."""
    order: list[TfjsNode] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done
    for out in outputs:
        if out.split(":")[0] not in graph.nodes:
            raise ExportError(f"the graph has no node {out!r}")
        stack: list[tuple[str, bool]] = [(out.split(":")[0], False)]
        while stack:
            name, expanded = stack.pop()
            if expanded:
                state[name] = 2
                order.append(graph.nodes[name])
                continue
            if state.get(name) == 2:
                continue
            if state.get(name) == 1:
                raise ExportError(f"the graph has a cycle through {name!r}")
            state[name] = 1
            stack.append((name, True))
            for ref in reversed(graph.nodes[name].inputs):
                dep = ref.split(":")[0]
                if dep not in graph.nodes:
                    raise ExportError(f"{name!r} reads {dep!r}, which the graph does not have")
                if state.get(dep) != 2:
                    stack.append((dep, False))
    return order


def op_kinds(graph: TfjsGraph, outputs: Sequence[str] | None = None) -> set[str]:
    nodes = required_nodes(graph, outputs or graph.outputs)
    return {n.op for n in nodes}


def _value_info(name: str, v: Value, batch_dynamic: bool) -> onnx.ValueInfoProto:
    if v.dtype not in _ONNX_TYPES:
        raise ExportError(f"output {name!r} has dtype {v.dtype}")
    dims: list[int | str | None] | None = None
    if v.shape is not None:  # -1: unknown; on axis 0 of a dynamic-batch graph, the batch
        dims = [
            d if d > 0 else (BATCH_DIM if i == 0 and batch_dynamic else None)
            for i, d in enumerate(v.shape)
        ]
    return helper.make_tensor_value_info(name, _ONNX_TYPES[v.dtype], dims)


def convert(
    graph: TfjsGraph,
    *,
    outputs: Sequence[str] | None = None,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    opset: int = DEFAULT_OPSET,
    graph_name: str = "model",
    dynamic_batch: bool = True,
    nchw_outputs: bool = False,
) -> onnx.ModelProto:
    """Translate the part of ``graph`` that ``outputs`` (default: the signature's) need.

    Inputs must be float32 Placeholders; ``input_names`` / ``output_names`` rename them by
    position. With ``dynamic_batch`` the first axis of inputs and outputs is symbolic; ops that
    hard-code a batch of one (a ``Reshape`` to ``[1, -1]``) then only run at batch 1.
    ``nchw_outputs`` returns 4-D outputs as NCHW (no transpose back, for a head appended next).
    """
    if opset < 13:
        raise ExportError(f"opset {opset} is too old: 13 or newer")
    outputs = list(outputs or graph.outputs)
    nodes = required_nodes(graph, outputs)
    unknown = sorted({n.op for n in nodes} - set(HANDLERS) - _STRUCTURAL)
    if unknown:
        raise UnsupportedOperator(", ".join(unknown), f"supported: {', '.join(supported_ops())}")
    placeholders = [n for n in nodes if n.op == "Placeholder"]
    in_names = list(input_names) if input_names else [n.name for n in placeholders]
    out_names = list(output_names) if output_names else [o.removesuffix(":0") for o in outputs]
    if len(in_names) != len(placeholders) or len(out_names) != len(outputs):
        raise ExportError(
            f"{len(placeholders)} input(s) and {len(outputs)} output(s); got names {in_names} and {out_names}"
        )
    b = _Builder(graph, opset)
    b._used.update(in_names + out_names)
    graph_inputs = []
    for node, name in zip(placeholders, in_names, strict=True):
        dtype = _TF_TYPES.get(_attr(node, "dtype", "DT_FLOAT"))
        if dtype is None or dtype != np.float32:
            raise UnsupportedOperator("Placeholder", f"{node.name!r} must be float32")
        dims = node.attrs.get("shape", {}).get("shape", {}).get("dim", [])
        shape = tuple(int(d.get("size", -1)) for d in dims)
        if not shape:
            raise UnsupportedOperator("Placeholder", f"{node.name!r} has no static shape")
        if dynamic_batch:
            shape = (-1, *shape[1:])
        v = Value(name, dtype, shape)
        b.values[node.name + ":0"] = v
        graph_inputs.append(_value_info(name, v, dynamic_batch))
    for node in nodes:
        if node.op in _STRUCTURAL:
            continue
        result = HANDLERS[node.op](b, node)
        for k, v in enumerate(result if isinstance(result, list) else [result]):
            b.values[f"{node.name}:{k}"] = v
    graph_outputs = []
    for ref, name in zip(outputs, out_names, strict=True):
        v = b.value(ref)
        as_nchw = nchw_outputs and v.shape is not None and len(v.shape) == 4
        source = b.nchw(v) if as_nchw else b.plain(v)
        b.nodes.append(helper.make_node("Identity", [source], [name], name=name))
        if as_nchw:
            v = Value(source, v.dtype, tuple(v.shape[i] for i in _NHWC_TO_NCHW), nchw=True)  # type: ignore[index]
        graph_outputs.append(_value_info(name, v, dynamic_batch))
    onnx_graph = helper.make_graph(
        b.nodes, graph_name, graph_inputs, graph_outputs, initializer=b.initializers
    )
    model = helper.make_model(
        onnx_graph,
        opset_imports=[helper.make_opsetid("", opset)],
        producer_name="siteveil.export.tfjs_to_onnx",
    )
    model.ir_version = min(model.ir_version, 8)  # readable by older ONNX Runtime / TensorRT
    onnx.checker.check_model(model, full_check=True)
    return model
